"""Helpers for reading what the HTTP API does not show (counters kept on the customer)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from majlis.core.db import tenant_session
from majlis.customers.models import Customer


@pytest.fixture
def conversation_count(app_engine: Engine, tenant) -> Callable[[object], int]:
    """The stored conversation counter of one of the tenant's customers."""

    def read(customer_id: object) -> int:
        with tenant_session(app_engine, tenant.company_id) as session:
            row = session.get(Customer, (tenant.company_id, uuid.UUID(str(customer_id))))
            assert row is not None
            return row.conversation_count

    return read
