"""Fixtures for merge tests: customers made over HTTP, merges posted over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest


def create_customer(client: httpx.Client, **fields: Any) -> str:
    response = client.post("/api/v1/customers", json={"name": "Someone", **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def post_merge(
    client: httpx.Client, survivor: str, others: list[str], **body: Any
) -> httpx.Response:
    return client.post(
        "/api/v1/customers/merge", json={"survivor_id": survivor, "other_ids": others, **body}
    )


@pytest.fixture
def new_customer(owner: httpx.Client) -> Callable[..., str]:
    return lambda **fields: create_customer(owner, **fields)
