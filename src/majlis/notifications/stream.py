"""The live stream: Server-Sent Events fed by PostgreSQL LISTEN/NOTIFY.

Each open stream holds one dedicated connection that LISTENs on the
notifications channel. A NOTIFY carries only ids; the stream keeps those for
its own user and company and loads each row in a tenant-scoped session, so
row-level security still decides what a stream may read.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg
from sqlalchemy import Engine

from majlis.core.db import tenant_session
from majlis.core.permissions import Actor
from majlis.notifications.models import Notification
from majlis.notifications.schemas import NotificationOut
from majlis.notifications.service import CHANNEL

HEARTBEAT_SECONDS = 15.0


def _conninfo(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _event(notification: Notification) -> str:
    body = NotificationOut.model_validate(notification).model_dump_json()
    return f"id: {notification.id}\nevent: notification\ndata: {body}\n\n"


def _is_for(actor: Actor, payload: str) -> uuid.UUID | None:
    message = json.loads(payload)
    if message["company_id"] == str(actor.company_id) and message["user_id"] == str(actor.user_id):
        return uuid.UUID(message["id"])
    return None


def notification_events(engine: Engine, actor: Actor) -> Iterator[str]:
    """SSE lines for the actor's new notifications, with heartbeats while idle.

    The first line is a comment saying the stream is listening: anything
    committed after a client has read it will arrive.
    """
    with psycopg.connect(_conninfo(engine), autocommit=True) as connection:
        connection.execute(f"LISTEN {CHANNEL}")
        yield ": listening\n\n"
        while True:
            for notify in connection.notifies(timeout=HEARTBEAT_SECONDS):
                notification_id = _is_for(actor, notify.payload)
                if notification_id is None:
                    continue
                with tenant_session(engine, actor.company_id, actor.user_id) as session:
                    notification = session.get(Notification, (actor.company_id, notification_id))
                    if notification is not None:
                        yield _event(notification)
            # A heartbeat keeps proxies from closing an idle stream and finds gone clients.
            yield ": heartbeat\n\n"
