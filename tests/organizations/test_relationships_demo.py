"""The demo data loads, lands chats on the right customers, and loads nothing twice."""

from __future__ import annotations

from sqlalchemy import func, select

from majlis.conversations import demo as conversations_demo
from majlis.conversations.models import Conversation
from majlis.core.db import tenant_session
from majlis.organizations import demo as organizations_demo
from majlis.organizations.models import Contact


def test_demo_loads_once_and_chats_find_their_customers(app_engine, tenant) -> None:
    actor = tenant.actor()
    for _ in range(2):
        with tenant_session(app_engine, tenant.company_id) as session:
            organizations_demo.load_demo_data(session, actor)
            lines = conversations_demo.load_demo_data(session, actor)
    assert "4 already there" in lines[0]
    with tenant_session(app_engine, tenant.company_id) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 2
        chats = {c.session_id: c for c in session.scalars(select(Conversation))}
    assert chats["demo-wa-1"].match_reason == "email"  # the organization's address
    assert chats["demo-wa-2"].customer_id == chats["demo-web-1"].customer_id  # same phone
    salem = chats["demo-wa-3"]  # a contact's phone lands on the organization
    assert salem.customer_id == chats["demo-wa-1"].customer_id
    assert (salem.match_reason, salem.matched_contact_id is not None) == ("contact_phone", True)
