"""Thin routes over notifications, and the live Server-Sent Events stream."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from majlis.core.db import get_engine
from majlis.core.http import Context, request_context
from majlis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from majlis.core.permissions import Actor
from majlis.notifications import service
from majlis.notifications.schemas import NotificationIn, NotificationOut, NotificationPage
from majlis.notifications.stream import notification_events

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


@router.get("", response_model=NotificationPage)
def list_notifications(
    ctx: Context,
    unread_only: bool = False,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> NotificationPage:
    page = service.list_notifications(
        ctx.session, ctx.actor, unread_only=unread_only, cursor=cursor, limit=limit
    )
    return NotificationPage(
        items=[NotificationOut.model_validate(n) for n in page.items],
        next_cursor=page.next_cursor,
    )


@router.post("", response_model=NotificationOut, status_code=status.HTTP_201_CREATED)
def send_notification(ctx: Context, body: NotificationIn) -> NotificationOut:
    return NotificationOut.model_validate(service.send(ctx.session, ctx.actor, body))


def _signed_in_actor(request: Request) -> Actor:
    """Authenticate like every route, but finish the sign-in transaction before streaming."""
    context = request_context(request)
    actor = next(context).actor
    for _ in context:  # runs the rest of the generator: the sign-in transaction commits
        pass
    return actor


# Left out of the OpenAPI document: an endless event stream is no request/response
# operation, and generated clients (or the API fuzzer) would wait on it forever.
@router.get("/stream", response_class=StreamingResponse, include_in_schema=False)
def stream(request: Request) -> StreamingResponse:
    """Server-Sent Events: the caller's new notifications as they are created."""
    actor = _signed_in_actor(request)
    return StreamingResponse(
        notification_events(get_engine("app"), actor),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/{notification_id}/read", response_model=NotificationOut)
def mark_read(ctx: Context, notification_id: uuid.UUID) -> NotificationOut:
    return NotificationOut.model_validate(
        service.mark_read(ctx.session, ctx.actor, notification_id)
    )


@router.post("/{notification_id}/dismiss", status_code=status.HTTP_204_NO_CONTENT)
def dismiss(ctx: Context, notification_id: uuid.UUID) -> Response:
    service.dismiss(ctx.session, ctx.actor, notification_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
