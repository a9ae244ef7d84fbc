"""`majlis bench run --reuse`: a second run measures the companies the first one loaded."""

from __future__ import annotations

import httpx

from majlis.bench.datagen import load_bench_data

SCALE = 72  # companies of 72, 9, 4, 2 and 1 customers


def test_a_rerun_with_reuse_finds_the_companies_loaded_before(base_url: str) -> None:
    first = load_bench_data(SCALE, seed=11)
    again = load_bench_data(SCALE, seed=11, reuse=True)

    assert [c.company_id for c in again] == [c.company_id for c in first]
    assert all(old.token != new.token for old, new in zip(first, again, strict=True))
    listed = httpx.get(
        f"{base_url}/api/v1/customers",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {again[0].token}"},
    )
    assert listed.status_code == 200 and len(listed.json()["items"]) == SCALE
