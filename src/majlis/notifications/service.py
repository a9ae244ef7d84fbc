"""Notifications: create for a user, list one's own, mark read, dismiss.

A user only ever sees their own notifications: another user's id answers 404,
exactly like another company's. Inserting a row announces it on the
`majlis_notifications` channel (a trigger), which feeds the live stream.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from majlis.accounts.models import Membership
from majlis.core import audit
from majlis.core.errors import NotFound, PermissionDenied, ValidationFailed
from majlis.core.ids import new_id
from majlis.core.pagination import Page, decode_cursor, encode_cursor
from majlis.core.permissions import COMPANY_SETTINGS, Action, Actor, Role, require
from majlis.notifications.models import Notification, Priority
from majlis.notifications.schemas import NotificationIn

CHANNEL = "majlis_notifications"
SENDERS = (Role.OWNER, Role.MANAGER)


def notify(session: Session, actor: Actor, draft: NotificationIn) -> Notification:
    """Create a notification for a member of the company (domains call this; no role check)."""
    member = session.get(Membership, (actor.company_id, draft.user_id))
    if member is None or not member.is_active:
        raise ValidationFailed.single("user_id", "is not an active member of this company")
    notification = Notification(company_id=actor.company_id, id=new_id(), **draft.model_dump())
    session.add(notification)
    session.flush()
    session.refresh(notification)
    return notification


def notify_many(session: Session, actor: Actor, drafts: list[NotificationIn]) -> int:
    """Create many notifications in one INSERT (automation); inactive users are left out."""
    wanted = {draft.user_id for draft in drafts}
    active = set(
        session.scalars(
            select(Membership.user_id).where(
                Membership.company_id == actor.company_id,
                Membership.user_id.in_(wanted),
                Membership.is_active.is_(True),
            )
        )
    )
    rows = [
        {"company_id": actor.company_id, "id": new_id(), **draft.model_dump()}
        for draft in drafts
        if draft.user_id in active
    ]
    if rows:
        session.execute(insert(Notification), rows)
    return len(rows)


def send(session: Session, actor: Actor, draft: NotificationIn) -> Notification:
    """A person sending a notification to a colleague: owners and managers only."""
    if actor.role not in SENDERS:
        raise PermissionDenied(f"role '{actor.role}' may not send notifications")
    notification = notify(session, actor, draft)
    audit.record(
        session,
        actor,
        "notification.sent",
        "notification",
        notification.id,
        after={"user_id": draft.user_id, "title": draft.title},
    )
    return notification


def notify_owners(
    session: Session, actor: Actor, title: str, body: str | None, priority: Priority
) -> None:
    """Tell every owner of the company (tier changes, anomalies, ...)."""
    owners = session.scalars(
        select(Membership.user_id).where(
            Membership.company_id == actor.company_id,
            Membership.role == Role.OWNER,
            Membership.is_active.is_(True),
        )
    )
    for user_id in owners:
        notify(
            session,
            actor,
            NotificationIn(user_id=user_id, title=title, body=body, priority=priority),
        )


def _user(actor: Actor) -> uuid.UUID:
    require(actor, COMPANY_SETTINGS, Action.VIEW)
    if actor.user_id is None:
        raise PermissionDenied("only a person has notifications")
    return actor.user_id


def _live(actor: Actor, user_id: uuid.UUID) -> list[ColumnElement[bool]]:
    return [
        Notification.company_id == actor.company_id,
        Notification.user_id == user_id,
        Notification.dismissed_at.is_(None),
        or_(Notification.expires_at.is_(None), Notification.expires_at > datetime.now(UTC)),
    ]


def list_notifications(
    session: Session,
    actor: Actor,
    *,
    unread_only: bool = False,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Notification]:
    """The actor's live notifications (not dismissed, not expired), newest first."""
    user_id = _user(actor)
    query = select(Notification).where(*_live(actor, user_id))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if cursor:
        (last_id,) = decode_cursor(cursor, 1)
        query = query.where(Notification.id < uuid.UUID(last_id))
    rows = list(session.scalars(query.order_by(Notification.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor([str(rows[limit - 1].id)]) if len(rows) > limit else None
    return Page(rows[:limit], next_cursor)


def own_notification(session: Session, actor: Actor, notification_id: uuid.UUID) -> Notification:
    """One of the actor's own notifications; anyone else's is 'not found'."""
    user_id = _user(actor)
    notification = session.get(Notification, (actor.company_id, notification_id))
    if notification is None or notification.user_id != user_id:
        raise NotFound("notification", notification_id)
    return notification


def mark_read(session: Session, actor: Actor, notification_id: uuid.UUID) -> Notification:
    notification = own_notification(session, actor, notification_id)
    if notification.read_at is None:
        notification.read_at = datetime.now(UTC)
        session.flush()
    return notification


def dismiss(session: Session, actor: Actor, notification_id: uuid.UUID) -> None:
    notification = own_notification(session, actor, notification_id)
    if notification.dismissed_at is None:
        notification.dismissed_at = datetime.now(UTC)
        session.flush()


def unread_count(session: Session, actor: Actor, *, cap: int = 100) -> int:
    """How many live notifications the actor has not read, counted up to `cap` (a badge)."""
    user_id = _user(actor)
    unread = (
        select(Notification.id)
        .where(*_live(actor, user_id), Notification.read_at.is_(None))
        .limit(cap)
        .subquery()
    )
    return session.scalar(select(func.count()).select_from(unread)) or 0


def inbox(
    session: Session, actor: Actor, *, cursor: str | None = None, limit: int = 50
) -> Page[Notification]:
    """The actor's live notifications, unread first, each group newest first (keyset)."""
    user_id = _user(actor)
    is_read = Notification.read_at.is_not(None)
    query = select(Notification).where(*_live(actor, user_id))
    if cursor:
        last_read, last_id = decode_cursor(cursor, 2)
        older = Notification.id < uuid.UUID(str(last_id))
        # After an unread one: older unread ones, then every read one; after a read one: older.
        query = query.where(and_(is_read, older) if last_read is True else or_(is_read, older))
    rows = list(session.scalars(query.order_by(is_read, Notification.id.desc()).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.read_at is not None, str(last.id)])
    return Page(rows[:limit], next_cursor)


def mark_all_read(session: Session, actor: Actor) -> int:
    """Mark every live unread notification of the actor read; returns how many."""
    user_id = _user(actor)
    result = session.execute(
        update(Notification)
        .where(*_live(actor, user_id), Notification.read_at.is_(None))
        .values(read_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
