"""The outbox worker: delivers `outbox_events` to per-topic handlers and runs periodic jobs.

Domains register what they handle, and the worker knows nothing of them:

    @outbox_handler("reminder.send")
    def send_reminder(delivery: Delivery) -> None: ...

    @periodic_task("reminders.run", every=timedelta(hours=1))
    def plan_reminders(engine: Engine) -> None: ...

`majlis worker` imports every `majlis.<domain>.tasks` module, then loops.

Claiming (a lease, not a held lock). The application role sees one tenant at
a time, so the worker first asks the owner-run SECURITY DEFINER function
`majlis_companies_with_pending_events(topics)` which companies have due
events, then per company, inside `tenant_session`:

1. `SELECT … FOR UPDATE SKIP LOCKED` a batch of due events (a second worker
   skips them), add one to `attempts`, move `available_at` a lease ahead, and
   commit. The events stay invisible to other workers until the lease ends, so
   a crashed worker's events come back by themselves.
2. Call the handler outside that transaction; it opens its own transactions
   (`delivery.transaction()`), which lets it commit a claim of its own before
   an irreversible effect such as an SMTP send.
3. Success marks the event delivered. `RetryAt` moves it to a later time
   without counting a failure. Any other exception records the error and backs
   off exponentially (30 s, 1 min, 2 min … capped at 1 h) until the handler's
   `max_attempts`, after which the event is closed with the error kept.

The worker gives at-least-once delivery; handlers make their effects
exactly-once (see `majlis.receivables.delivery` for the reminder emails).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from majlis.core.db import get_engine, tenant_session
from majlis.core.permissions import Actor

log = logging.getLogger("majlis.worker")

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Delivery:
    """One attempt at delivering one event, as its handler sees it."""

    engine: Engine
    company_id: uuid.UUID
    event_id: uuid.UUID
    topic: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int

    @property
    def final_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    @property
    def actor(self) -> Actor:
        return Actor.system(self.company_id, request_id=f"outbox:{self.event_id}")

    def transaction(self) -> AbstractContextManager[Session]:
        """A transaction of the event's company (commits on success)."""
        return tenant_session(self.engine, self.company_id)


class RetryAt(Exception):
    """Raised by a handler to try again at `when` without counting a failed attempt."""

    def __init__(self, when: datetime, reason: str) -> None:
        super().__init__(reason)
        self.when = when


Handler = Callable[[Delivery], None]


@dataclass(frozen=True)
class HandlerSpec:
    topic: str
    handle: Handler
    max_attempts: int


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    every: timedelta
    run: Callable[[Engine], object]


_handlers: dict[str, HandlerSpec] = {}
_periodic: dict[str, PeriodicTask] = {}


def outbox_handler(
    topic: str, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> Callable[[Handler], Handler]:
    """Register the handler of `topic` (one per topic; registering again replaces it)."""

    def register(handle: Handler) -> Handler:
        _handlers[topic] = HandlerSpec(topic, handle, max_attempts)
        return handle

    return register


def periodic_task(
    name: str, *, every: timedelta
) -> Callable[[Callable[[Engine], object]], Callable[[Engine], object]]:
    """Register a job the worker runs every `every` (and once when it starts)."""

    def register(run: Callable[[Engine], object]) -> Callable[[Engine], object]:
        _periodic[name] = PeriodicTask(name, every, run)
        return run

    return register


def registered_topics() -> list[str]:
    return sorted(_handlers)


def load_all_tasks() -> None:
    """Import every domain's `tasks` module so its handlers and jobs are registered."""
    import majlis

    for module in pkgutil.iter_modules(majlis.__path__):
        name = f"majlis.{module.name}.tasks"
        if module.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def backoff(attempt: int) -> timedelta:
    """Wait before retry number `attempt` (1-based): doubling from 30 s, at most an hour."""
    # The exponent is capped too: 2**50 × 30 s overflows a timedelta.
    doublings = min(max(attempt - 1, 0), 16)
    return min(BACKOFF_BASE * 2**doublings, BACKOFF_CAP)


@dataclass
class WorkerStats:
    delivered: int = 0
    retried: int = 0
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.delivered + self.retried + self.gave_up


@dataclass(frozen=True)
class _Claimed:
    id: uuid.UUID
    topic: str
    payload: dict[str, Any]
    attempts: int


_CLAIM = text(
    """
    WITH due AS (
      SELECT id FROM outbox_events
       WHERE company_id = :company_id AND delivered_at IS NULL AND available_at <= now()
         AND topic = ANY(:topics)
       ORDER BY available_at, id
       LIMIT :batch
       FOR UPDATE SKIP LOCKED)
    UPDATE outbox_events e
       SET attempts = e.attempts + 1, available_at = now() + make_interval(secs => :lease)
      FROM due WHERE e.company_id = :company_id AND e.id = due.id
    RETURNING e.id, e.topic, e.payload, e.attempts
    """
)
_DELIVERED = text(
    "UPDATE outbox_events SET delivered_at = now(), last_error = :error"
    " WHERE company_id = :company_id AND id = :id"
)
_RESCHEDULE = text(
    "UPDATE outbox_events SET available_at = :when, attempts = attempts - :refund,"
    " last_error = :error WHERE company_id = :company_id AND id = :id"
)


class OutboxWorker:
    """Claims and delivers due outbox events of every company, one batch at a time."""

    def __init__(
        self,
        engine: Engine,
        *,
        lease: timedelta = DEFAULT_LEASE,
        batch_size: int = 100,
    ) -> None:
        self.engine = engine
        self.lease = lease
        self.batch_size = batch_size

    def companies_with_work(self) -> list[uuid.UUID]:
        with Session(self.engine) as session, session.begin():
            return list(
                session.scalars(
                    text("SELECT company_id FROM majlis_companies_with_pending_events(:topics)"),
                    {"topics": registered_topics()},
                )
            )

    def _claim(self, company_id: uuid.UUID) -> list[_Claimed]:
        with tenant_session(self.engine, company_id) as session:
            rows = session.execute(
                _CLAIM,
                {
                    "company_id": company_id,
                    "topics": registered_topics(),
                    "batch": self.batch_size,
                    "lease": self.lease.total_seconds(),
                },
            )
            return [_Claimed(row.id, row.topic, row.payload, row.attempts) for row in rows]

    def _finish(self, company_id: uuid.UUID, statement: Any, **params: Any) -> None:
        with tenant_session(self.engine, company_id) as session:
            session.execute(statement, {"company_id": company_id, **params})

    def _deliver(self, company_id: uuid.UUID, event: _Claimed, stats: WorkerStats) -> None:
        spec = _handlers[event.topic]
        delivery = Delivery(
            self.engine,
            company_id,
            event.id,
            event.topic,
            event.payload,
            event.attempts,
            spec.max_attempts,
        )
        try:
            spec.handle(delivery)
        except RetryAt as later:
            self._finish(
                company_id, _RESCHEDULE, id=event.id, when=later.when, refund=1, error=str(later)
            )
            stats.retried += 1
        except Exception as exc:  # the handler's failure is data for the retry, not a crash
            error = f"{type(exc).__name__}: {exc}"
            stats.errors.append(error)
            log.warning("outbox event %s (%s) failed: %s", event.id, event.topic, error)
            if delivery.final_attempt:
                self._finish(
                    company_id,
                    _DELIVERED,
                    id=event.id,
                    error=f"gave up after {event.attempts} attempts: {error}",
                )
                stats.gave_up += 1
            else:
                when = datetime.now(UTC) + backoff(event.attempts)
                self._finish(company_id, _RESCHEDULE, id=event.id, when=when, refund=0, error=error)
                stats.retried += 1
        else:
            self._finish(company_id, _DELIVERED, id=event.id, error=None)
            stats.delivered += 1

    def run_once(self, stop: threading.Event | None = None) -> WorkerStats:
        """Deliver every event due now, company by company; returns what happened.

        Once `stop` is set no new batch is claimed, but the batch in hand is
        delivered to the end: its events are leased to this worker, and leaving
        them would only delay them until the lease runs out.
        """
        stats = WorkerStats()
        if not _handlers:
            return stats
        for company_id in self.companies_with_work():
            while not (stop and stop.is_set()) and (claimed := self._claim(company_id)):
                for event in claimed:
                    self._deliver(company_id, event, stats)
                if len(claimed) < self.batch_size:
                    break
        return stats


def _due_tasks(last_run: dict[str, float], now: float) -> Iterator[PeriodicTask]:
    for task in _periodic.values():
        if now - last_run.get(task.name, float("-inf")) >= task.every.total_seconds():
            yield task


def run_periodic_tasks(engine: Engine, last_run: dict[str, float]) -> None:
    """Run the periodic jobs that are due; one failing job does not stop the others."""
    now = time.monotonic()
    for task in _due_tasks(last_run, now):
        last_run[task.name] = now
        try:
            task.run(engine)
        except Exception:  # logged and retried at the next interval
            log.exception("periodic task %s failed", task.name)


def run_forever(worker: OutboxWorker, *, poll_seconds: float, stop: threading.Event) -> None:
    last_run: dict[str, float] = {}
    while not stop.is_set():
        run_periodic_tasks(worker.engine, last_run)
        stats = worker.run_once(stop)
        if not stats.handled:
            stop.wait(poll_seconds)


def worker_command(
    once: Annotated[bool, typer.Option(help="Deliver what is due now, then exit.")] = False,
    poll_seconds: Annotated[float, typer.Option(help="Pause when there is nothing to do.")] = 5.0,
    lease_seconds: Annotated[
        int, typer.Option(help="How long a claimed event stays hidden from other workers.")
    ] = int(DEFAULT_LEASE.total_seconds()),
) -> None:
    """Deliver outbox events (reminder emails, …) and run periodic jobs."""
    from majlis.core.config import load_settings
    from majlis.core.observability import configure_logging

    configure_logging(load_settings().log_level)
    load_all_tasks()
    worker = OutboxWorker(get_engine("app"), lease=timedelta(seconds=lease_seconds))
    if once:
        stats = worker.run_once()
        typer.echo(f"delivered {stats.delivered}, retried {stats.retried}, gave up {stats.gave_up}")
        return
    typer.echo(f"worker started; topics: {', '.join(registered_topics()) or 'none'}")
    stop = threading.Event()
    stop_on_signals(stop)
    run_forever(worker, poll_seconds=poll_seconds, stop=stop)
    typer.echo("worker stopped after finishing its work in hand")


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM (service managers) and SIGINT (Ctrl-C) ask for a graceful stop.

    The default actions would kill the worker between an SMTP send and its commit;
    instead the current batch finishes and the loop ends.
    """

    def request_stop(signum: int, _frame: object) -> None:
        log.info("signal %s: finishing the work in hand, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
