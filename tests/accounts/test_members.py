"""Members, roles, tokens and working time in the accounts service (the owner's settings).

The last owner can be neither demoted nor removed; removing a member ends their
API access at once; adding them again brings the same membership back.
"""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from tests.conftest import Tenant

from majlis.accounts import service as accounts
from majlis.accounts.models import ApiToken, Membership, User
from majlis.core.db import tenant_session
from majlis.core.errors import PermissionDenied, ValidationFailed
from majlis.core.permissions import Role


def membership(session: Session, tenant: Tenant, role: Role) -> Membership:
    return session.get_one(Membership, (tenant.company_id, tenant.user_ids[role]))


def email_of(session: Session, tenant: Tenant, role: Role) -> str:
    return session.get_one(User, tenant.user_ids[role]).email


def test_the_last_owner_can_be_neither_demoted_nor_removed(
    app_engine: Engine, tenant: Tenant
) -> None:
    owner = tenant.actor(Role.OWNER)
    owner_id = tenant.user_ids[Role.OWNER]
    with tenant_session(app_engine, tenant.company_id) as session:
        with pytest.raises(ValidationFailed) as demoted:
            accounts.change_role(session, owner, owner_id, Role.MANAGER)
        assert demoted.value.errors[0].field == "role"
        assert "last owner" in demoted.value.errors[0].message
        with pytest.raises(ValidationFailed) as removed:
            accounts.remove_member(session, owner, owner_id)
        assert removed.value.errors[0].field == "member"
        assert membership(session, tenant, Role.OWNER).role is Role.OWNER


def test_with_a_second_owner_the_first_may_step_down(app_engine: Engine, tenant: Tenant) -> None:
    owner = tenant.actor(Role.OWNER)
    with tenant_session(app_engine, tenant.company_id) as session:
        accounts.change_role(session, owner, tenant.user_ids[Role.MANAGER], Role.OWNER)
        accounts.change_role(session, owner, tenant.user_ids[Role.OWNER], Role.ANALYST)
        assert membership(session, tenant, Role.OWNER).role is Role.ANALYST
        # The promoted manager is now the only owner, and so stays.
        with pytest.raises(ValidationFailed):
            accounts.remove_member(session, owner, tenant.user_ids[Role.MANAGER])


def test_only_owners_manage_members(app_engine: Engine, tenant: Tenant) -> None:
    manager, sales_id = tenant.actor(Role.MANAGER), tenant.user_ids[Role.SALES]
    with tenant_session(app_engine, tenant.company_id) as session:
        with pytest.raises(PermissionDenied):
            accounts.change_role(session, manager, sales_id, Role.OWNER)
        with pytest.raises(PermissionDenied):
            accounts.remove_member(session, manager, sales_id)


def test_removal_ends_api_access_at_once_and_adding_again_restores_the_member(
    app_engine: Engine, tenant: Tenant
) -> None:
    owner, sales_id = tenant.actor(Role.OWNER), tenant.user_ids[Role.SALES]
    with tenant.client(Role.SALES) as client:
        assert client.get("/api/v1/me").status_code == 200
        with tenant_session(app_engine, tenant.company_id) as session:
            email = email_of(session, tenant, Role.SALES)
            accounts.remove_member(session, owner, sales_id)
        assert client.get("/api/v1/me").status_code == 401
    with tenant_session(app_engine, tenant.company_id) as session:
        token = session.scalars(select(ApiToken).where(ApiToken.user_id == sales_id)).one()
        assert token.revoked_at is not None
        assert email not in [user.email for user, _ in accounts.list_members(session, owner)]
        accounts.add_user(session, owner, email, Role.ANALYST)
        back = membership(session, tenant, Role.SALES)
        assert back.is_active and back.role is Role.ANALYST


def test_working_time_is_checked_like_the_reminder_calendar(
    app_engine: Engine, tenant: Tenant
) -> None:
    with (
        tenant_session(app_engine, tenant.company_id) as session,
        pytest.raises(ValidationFailed) as refused,
    ):
        accounts.update_working_time(
            session,
            tenant.actor(),
            working_days=[],
            starts=time(17),
            ends=time(9),
            time_zone="Nowhere/City",
        )
    assert [error.field for error in refused.value.errors] == [
        "working_days",
        "work_ends",
        "time_zone",
    ]


def test_a_token_needs_a_name(app_engine: Engine, tenant: Tenant) -> None:
    with tenant_session(app_engine, tenant.company_id) as session:
        owner = session.get_one(User, tenant.user_ids[Role.OWNER])
        with pytest.raises(ValidationFailed) as refused:
            accounts.issue_token(session, tenant.actor(), owner, "  ")
    assert refused.value.errors[0].field == "name"
