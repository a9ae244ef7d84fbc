"""The generic outbox worker: per-topic handlers, tenants found by the database, retries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from majlis.core.db import get_engine, tenant_session
from majlis.core.outbox import emit
from majlis.core.permissions import Actor
from majlis.core.worker import (
    Delivery,
    OutboxWorker,
    RetryAt,
    backoff,
    load_all_tasks,
    outbox_handler,
    registered_topics,
)

SEEN: list[tuple[uuid.UUID, str]] = []
FAILURES: dict[str, int] = {}


@outbox_handler("test.record", max_attempts=3)
def record_event(delivery: Delivery) -> None:
    with delivery.transaction() as session:
        # Handlers run as the app role inside the event's tenant.
        current = session.execute(text("SELECT majlis_current_company()")).scalar_one()
    SEEN.append((current, delivery.payload["tag"]))
    remaining = FAILURES.get(delivery.payload["tag"], 0)
    if remaining:
        FAILURES[delivery.payload["tag"]] = remaining - 1
        raise ConnectionError("downstream unavailable")


@outbox_handler("test.later")
def wait_until_tomorrow(delivery: Delivery) -> None:
    raise RetryAt(datetime.now(UTC) + timedelta(days=1), "not today")


def _emit(app_engine, company_id: uuid.UUID, topic: str, tag: str) -> None:
    with tenant_session(app_engine, company_id) as session:
        emit(session, Actor.system(company_id), topic, {"tag": tag}, dedupe_key=tag)


def _event(tag: str):
    with get_engine("admin").connect() as conn:
        return conn.execute(
            text(
                "SELECT attempts, delivered_at, last_error, available_at FROM outbox_events"
                " WHERE dedupe_key = :t"
            ),
            {"t": tag},
        ).one()


def _make_due(tag: str) -> None:
    with get_engine("admin").begin() as conn:
        conn.execute(
            text("UPDATE outbox_events SET available_at = now() WHERE dedupe_key = :t"),
            {"t": tag},
        )


def test_events_of_every_company_are_delivered_in_their_own_tenant(app_engine, make_tenant) -> None:
    a, b = make_tenant(), make_tenant()
    tag_a, tag_b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    _emit(app_engine, a.company_id, "test.record", tag_a)
    _emit(app_engine, b.company_id, "test.record", tag_b)
    _emit(app_engine, b.company_id, "test.record", tag_b)  # same dedupe key: queued once

    OutboxWorker(app_engine).run_once()
    assert (a.company_id, tag_a) in SEEN and (b.company_id, tag_b) in SEEN
    assert SEEN.count((b.company_id, tag_b)) == 1
    assert _event(tag_a).delivered_at is not None
    OutboxWorker(app_engine).run_once()
    assert SEEN.count((a.company_id, tag_a)) == 1  # delivered events are not redelivered


def test_failures_back_off_then_succeed(app_engine, tenant) -> None:
    tag = f"flaky-{uuid.uuid4()}"
    FAILURES[tag] = 1
    _emit(app_engine, tenant.company_id, "test.record", tag)
    OutboxWorker(app_engine).run_once()
    failed = _event(tag)
    assert failed.attempts == 1 and failed.delivered_at is None
    assert "ConnectionError" in failed.last_error
    assert failed.available_at > datetime.now(UTC) + timedelta(seconds=20)
    _make_due(tag)
    OutboxWorker(app_engine).run_once()
    assert _event(tag).delivered_at is not None and _event(tag).attempts == 2


def test_gives_up_after_max_attempts_and_keeps_the_error(app_engine, tenant) -> None:
    tag = f"broken-{uuid.uuid4()}"
    FAILURES[tag] = 10
    _emit(app_engine, tenant.company_id, "test.record", tag)
    for _ in range(3):
        _make_due(tag)
        OutboxWorker(app_engine).run_once()
    event = _event(tag)
    assert event.attempts == 3 and event.delivered_at is not None
    assert event.last_error.startswith("gave up after 3 attempts")


def test_retry_at_moves_the_event_without_counting_a_failure(app_engine, tenant) -> None:
    tag = f"later-{uuid.uuid4()}"
    _emit(app_engine, tenant.company_id, "test.later", tag)
    OutboxWorker(app_engine).run_once()
    event = _event(tag)
    assert event.attempts == 0 and event.delivered_at is None
    assert event.available_at > datetime.now(UTC) + timedelta(hours=20)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(50) == timedelta(hours=1)


def test_domain_tasks_register_themselves() -> None:
    load_all_tasks()
    assert "reminder.send" in registered_topics()
