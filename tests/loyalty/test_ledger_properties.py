"""Property: no sequence of earn/redeem/expire/adjust makes a balance negative or wrong."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from majlis.core.db import get_engine, set_tenant
from majlis.core.errors import Conflict
from majlis.customers.models import Customer
from majlis.loyalty import service
from majlis.loyalty.models import EntryKind, PointsEntry

START = datetime(2025, 1, 1, tzinfo=UTC)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), st.integers(1, 500)),
        st.tuples(st.just("redeem"), st.integers(1, 700)),
        st.tuples(st.just("adjust"), st.integers(-300, 300).filter(bool)),
        st.tuples(st.just("wait"), st.integers(1, 400)),
    ),
    max_size=15,
)


def _open_lots_total(session: Session, company_id: uuid.UUID, member_id: uuid.UUID) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(PointsEntry.remaining), 0)).where(
                PointsEntry.company_id == company_id, PointsEntry.member_id == member_id
            )
        )
    )


def _apply(session, actor, member_id, operation, value, now) -> tuple[int, datetime]:
    """Run one operation; returns the points it changed (for the model) and the new clock."""
    if operation == "wait":
        now += timedelta(days=value)
        return -service.expire_points(session, actor, now=now), now
    if operation == "earn":
        service.earn_points(session, actor, member_id, value, "purchase", now=now)
        return value, now
    try:
        with session.begin_nested():
            if operation == "redeem":
                service.spend_points(
                    session, actor, member_id, value, EntryKind.REDEEM, "r", now=now
                )
            else:
                service.adjust_points(session, actor, member_id, value, "correction")
    except Conflict:
        return 0, now  # refused: not enough points, and nothing was written
    return (-value if operation == "redeem" else value), now


@pytest.fixture
def shared_tenant(tenant):
    return tenant


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations)
def test_ledger_invariants_hold_for_any_sequence(shared_tenant, ops) -> None:
    actor = shared_tenant.actor()
    with Session(get_engine("app")) as session, session.begin() as transaction:
        set_tenant(session, actor.company_id)
        customer = Customer(company_id=actor.company_id, kind="individual", name="Prop")
        session.add(customer)
        session.flush()
        member_id = service.enroll(session, actor, customer.id).id
        expected, now = 0, START
        for operation, value in ops:
            changed, now = _apply(session, actor, member_id, operation, value, now)
            expected += changed
            balance = service.balance(session, actor, member_id)
            assert balance >= 0
            assert balance == expected
            assert balance == _open_lots_total(session, actor.company_id, member_id)
        transaction.rollback()
