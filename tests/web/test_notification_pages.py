"""Notification pages over the real server: the bell, the inbox, read/dismiss, the stream."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select
from tests.web.conftest import WebCompany

from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.notifications import service
from majlis.notifications.models import Notification
from majlis.notifications.schemas import NotificationIn
from majlis.web import notification_pages

HOSTILE = "<script>alert(1)</script>"


def notify(
    company: WebCompany, role: Role, title: str, action_url: str | None = None, body: str = ""
) -> uuid.UUID:
    """A notification for the member with `role`, through the notifications service."""
    company.member(role)
    draft = NotificationIn(
        user_id=company.user_ids[role], title=title, action_url=action_url, body=body or None
    )
    with tenant_session(company.engine, company.company_id) as session:
        return service.notify(session, company.actor(), draft).id


def stored(company: WebCompany, notification_id: uuid.UUID) -> Notification:
    with tenant_session(company.engine, company.company_id) as session:
        found = session.scalar(select(Notification).where(Notification.id == notification_id))
        assert found is not None
        session.expunge(found)
        return found


def bell_count(page_html: str) -> str | None:
    match = re.search(
        r'<span class="bell-count"( hidden)?><span class="bell-number">([^<]*)<', page_html
    )
    assert match, "no bell"
    return None if match.group(1) else match.group(2)


def titles(page_html: str) -> list[str]:
    return re.findall(r'<h2 class="notification-title">.*?<bdi>(.*?)</bdi>', page_html)


def test_the_bell_on_every_signed_in_page_counts_unread(company: WebCompany) -> None:
    browser = company.browser(Role.SALES)
    assert bell_count(browser.page("/customers").text) is None
    notify(company, Role.SALES, "One")
    notify(company, Role.SALES, "Two")
    notify(company, Role.OWNER, "Not yours")
    for path in ("/customers", "/journeys", "/tasks", "/notifications"):
        page = browser.page(path).text
        assert bell_count(page) == "2", path
        assert 'href="/notifications"' in page and "notifications.js" in page
    signed_out = company.browser(None).get("/sign-in").text
    assert "notification-bell" not in signed_out


def test_inbox_lists_unread_first_then_read_newest_first(company: WebCompany) -> None:
    browser = company.browser(Role.OWNER)
    oldest = notify(company, Role.OWNER, "Oldest")
    notify(company, Role.OWNER, "Middle")
    read_one = notify(company, Role.OWNER, "Newest but read")
    browser.page("/notifications")
    assert browser.submit(f"/notifications/{read_one}/read").status_code == 303
    page = browser.page("/notifications").text
    assert titles(page) == ["Middle", "Oldest", "Newest but read"]
    assert page.count('<span class="badge">New</span>') == 2
    assert stored(company, read_one).read_at is not None
    assert stored(company, oldest).read_at is None


def test_inbox_pages_by_keyset(company: WebCompany, monkeypatch: pytest.MonkeyPatch) -> None:
    browser = company.browser(Role.OWNER)
    for i in range(3):
        notify(company, Role.OWNER, f"Note {i}")
    read_one = notify(company, Role.OWNER, "Read")
    with tenant_session(company.engine, company.company_id) as session:
        service.mark_read(session, company.actor(), read_one)
    monkeypatch.setattr(notification_pages, "PAGE_SIZE", 2)
    first = browser.page("/notifications").text
    cursor = re.search(r'href="/notifications\?cursor=([^"]+)"', first)
    assert cursor
    second = browser.page(f"/notifications?cursor={cursor.group(1)}").text
    assert titles(first) == ["Note 2", "Note 1"]
    assert titles(second) == ["Note 0", "Read"]


def test_dismiss_and_mark_all_read(company: WebCompany) -> None:
    browser = company.browser(Role.MANAGER)
    gone = notify(company, Role.MANAGER, "Dismiss me")
    kept = notify(company, Role.MANAGER, "Keep me")
    browser.page("/notifications")
    assert browser.submit(f"/notifications/{gone}/dismiss").status_code == 303
    page = browser.page("/notifications").text
    assert "Notification dismissed." in page and titles(page) == ["Keep me"]
    assert stored(company, gone).dismissed_at is not None
    assert browser.submit("/notifications/read-all").status_code == 303
    page = browser.page("/notifications").text
    assert "All notifications are marked read." in page and bell_count(page) is None
    assert stored(company, kept).read_at is not None


def test_only_local_action_urls_become_links(company: WebCompany) -> None:
    browser = company.browser(Role.OWNER)
    notify(company, Role.OWNER, "Local", action_url="/customers?tag=vip")
    notify(company, Role.OWNER, "Elsewhere", action_url="https://evil.example/steal")
    notify(company, Role.OWNER, "Protocol relative", action_url="//evil.example/x")
    notify(company, Role.OWNER, "Script", action_url="javascript:alert(1)")
    page = browser.page("/notifications").text
    assert 'href="/customers?tag=vip"' in page
    assert "evil.example" not in page and "javascript:" not in page


def test_hostile_titles_are_escaped(company: WebCompany) -> None:
    browser = company.browser(Role.OWNER)
    notify(company, Role.OWNER, HOSTILE, body=HOSTILE)
    page = browser.page("/notifications").text
    assert HOSTILE not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2


def test_someone_elses_or_another_companys_notification_is_404(
    company: WebCompany, make_company: Callable[..., WebCompany]
) -> None:
    browser = company.browser(Role.SALES)
    colleagues = notify(company, Role.OWNER, "The owner's")
    other = make_company()
    theirs = notify(other, Role.SALES, "Other company")
    browser.page("/notifications")
    for notification_id in (colleagues, theirs):
        assert browser.submit(f"/notifications/{notification_id}/read").status_code == 404
        assert browser.submit(f"/notifications/{notification_id}/dismiss").status_code == 404
    assert stored(company, colleagues).read_at is None
    assert stored(other, theirs).dismissed_at is None


def test_notification_forms_need_the_csrf_token(company: WebCompany) -> None:
    browser = company.browser(Role.ANALYST)
    mine = notify(company, Role.ANALYST, "Analysts read too")
    browser.page("/notifications")
    assert browser.post(f"/notifications/{mine}/read").status_code == 403
    assert browser.post(f"/notifications/{mine}/dismiss").status_code == 403
    assert browser.post("/notifications/read-all").status_code == 403
    assert stored(company, mine).read_at is None and stored(company, mine).dismissed_at is None
    # every role has an inbox of its own
    assert browser.submit(f"/notifications/{mine}/read").status_code == 303


def test_the_stream_needs_the_session_and_sends_my_notifications(company: WebCompany) -> None:
    anonymous = httpx.get(f"{company.base_url}/notifications/stream")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/sign-in")
    browser = company.browser(Role.SALES)
    with browser.stream("GET", "/notifications/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == ": listening"  # LISTEN is in place before the response starts
        notify(company, Role.OWNER, "Someone else's")
        notify(company, Role.SALES, "For the bell")
        event = [next(lines) for _ in range(4)]
    assert event[0] == "" and event[1].startswith("id: ")
    assert event[2] == "event: notification"
    assert event[3].startswith("data: ") and '"title":"For the bell"' in event[3]
