"""Receivables background work: the reminder email handler and the periodic jobs.

Why a `majlis worker` loop rather than procrastinate's cron: every job here
must run per company *inside* a tenant transaction as the application role
(RLS forced), find its companies through a narrow SECURITY DEFINER function,
and send through the outbox whose exactly-once protocol lives in the rows we
already own. Procrastinate would add its own schema, a second queue beside the
outbox and jobs without a tenant; the loop is a few dozen lines and every
periodic job is idempotent, so a restart or two workers running it is harmless.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from majlis.core.db import tenant_session
from majlis.core.permissions import Actor
from majlis.core.worker import periodic_task
from majlis.receivables import delivery  # noqa: F401 - registers the reminder.send handler
from majlis.receivables.ledger import recompute_risk_scores
from majlis.receivables.planner import run_reminders
from majlis.receivables.retention import purge_expired_reminders

log = logging.getLogger("majlis.receivables")


def receivables_companies(engine: Engine) -> list[uuid.UUID]:
    with Session(engine) as session, session.begin():
        return list(session.scalars(text("SELECT company_id FROM majlis_receivables_companies()")))


def for_each_company(engine: Engine, job: Callable[[Session, Actor], object]) -> None:
    """Run `job` once per company with invoices, each in its own tenant transaction."""
    for company_id in receivables_companies(engine):
        try:
            with tenant_session(engine, company_id) as session:
                job(session, Actor.system(company_id))
        except Exception:  # one company's failure must not starve the others
            log.exception("receivables job failed for company %s", company_id)


@periodic_task("reminders.run", every=timedelta(hours=1))
def plan_reminders(engine: Engine) -> None:
    for_each_company(engine, lambda session, actor: run_reminders(session, actor))


@periodic_task("receivables.risk_scores", every=timedelta(hours=24))
def nightly_risk_scores(engine: Engine) -> None:
    for_each_company(engine, lambda session, actor: recompute_risk_scores(session, actor))


@periodic_task("reminders.retention", every=timedelta(hours=24))
def purge_reminders(engine: Engine) -> None:
    for_each_company(engine, lambda session, actor: purge_expired_reminders(session, actor))
