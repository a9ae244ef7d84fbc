"""Journey test helpers: customers made over the real API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest


@pytest.fixture
def new_customer(owner: httpx.Client) -> Callable[..., str]:
    def create(client: httpx.Client | None = None, **fields: Any) -> str:
        body = {"name": "Journey Customer", **fields}
        response = (client or owner).post("/api/v1/customers", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    return create
