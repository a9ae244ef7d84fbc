"""Notification pages: the bell on every signed-in page, the inbox, and its live stream.

Everything goes through `majlis.notifications.service`, so a user only ever
sees and changes their own notifications (anyone else's id is a 404 page).
The stream is the API's own `notification_events` (LISTEN/NOTIFY), authenticated
by the session cookie instead of a bearer token, so `static/notifications.js`
can open it with a plain `EventSource`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from majlis.core.db import get_engine
from majlis.notifications import service
from majlis.notifications.stream import notification_events
from majlis.web.forms import VerifiedForm
from majlis.web.locale import N_
from majlis.web.rendering import Page, PageRoute, redirect, safe_next, signed_in, templates

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 25
BADGE_CAP = 100
# A stream waits on the database between events. Its own limiter keeps open pages from
# taking the worker threads every other page needs.
STREAM_THREADS = CapacityLimiter(500)


def unread_notifications(page: Page) -> int:
    """The bell's count (base.html draws it on every signed-in page), capped for the badge."""
    return service.unread_count(page.db, page.actor, cap=BADGE_CAP)


def action_link(url: str | None) -> str:
    """A notification's link only when it stays on this site (a local path), else ''."""
    return safe_next(url, "") if url else ""


templates.globals.update(
    unread_notifications=unread_notifications, badge_cap=BADGE_CAP, action_link=action_link
)


@router.get("/notifications")
def inbox(request: Request, cursor: str | None = None) -> Response:
    """The user's notifications, unread first, newest first within each (keyset)."""
    with signed_in(request) as page:
        listing = service.inbox(page.db, page.actor, cursor=cursor, limit=PAGE_SIZE)
        return page.render(
            "notifications/inbox.html",
            notifications=listing.items,
            next_cursor=listing.next_cursor,
            first_page=cursor is None,
        )


@router.post("/notifications/read-all")
def read_all(request: Request, form: VerifiedForm) -> Response:
    with signed_in(request) as page:
        service.mark_all_read(page.db, page.actor)
        page.web.update(flash=N_("All notifications are marked read."))
        return redirect(request, "/notifications")


@router.post("/notifications/{notification_id}/read")
def read(request: Request, notification_id: uuid.UUID, form: VerifiedForm) -> Response:
    with signed_in(request) as page:
        service.mark_read(page.db, page.actor, notification_id)
        return redirect(request, "/notifications")


@router.post("/notifications/{notification_id}/dismiss")
def dismiss(request: Request, notification_id: uuid.UUID, form: VerifiedForm) -> Response:
    with signed_in(request) as page:
        service.dismiss(page.db, page.actor, notification_id)
        page.web.update(flash=N_("Notification dismissed."))
        return redirect(request, "/notifications")


async def _relay(first: str, events: Iterator[str]) -> AsyncIterator[str]:
    """The first line, then each next one from a worker thread of the streams' own limiter.

    When the browser goes away the server stops at the next line it cannot send
    (a heartbeat at the latest), and the abandoned generator closes its connection.
    """
    yield first
    while (
        line := await to_thread.run_sync(next, events, None, limiter=STREAM_THREADS)
    ) is not None:
        yield line


@router.get("/notifications/stream")
def stream(request: Request) -> Response:
    """Server-Sent Events of the user's new notifications, for the session's own pages."""
    with signed_in(request) as page:
        actor = page.actor
    # The sign-in transaction is over; the stream holds only its LISTEN connection.
    events = notification_events(get_engine("app"), actor)
    # LISTEN runs before the response starts, so once the browser sees the stream open,
    # every notification committed from then on reaches it.
    first = next(events)
    return StreamingResponse(
        _relay(first, events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
