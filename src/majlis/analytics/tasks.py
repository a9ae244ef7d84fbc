"""The periodic refresh of the customer analytics summary."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from majlis.analytics.service import refresh_summary
from majlis.core.worker import periodic_task


@periodic_task("analytics.refresh", every=timedelta(minutes=15))
def refresh_customer_analytics(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        refresh_summary(session)
