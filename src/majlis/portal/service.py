"""The customer portal: sign-in by one-time link, then only the customer's own record.

A customer asks for a link by email or phone; if a customer matches, a
one-time link (15 minutes) goes out through the outbox, and the answer is the
same whether or not anyone matched (no way to probe who is a customer). The
link opens a portal session whose token is `mjp_<company>_<secret>`: staff
authentication only accepts `mjl_` tokens, so a portal session can never reach
a staff endpoint, and every portal function takes its customer from the
session, never from the request, so it cannot reach another customer.

The portal calls the staff services (loyalty, preferences, the privacy export)
as a `portal` actor; their role checks are for staff, the scoping here is what
keeps a customer to their own record.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from majlis.accounts.service import get_company
from majlis.core import audit, outbox
from majlis.core.errors import NotAuthenticated
from majlis.core.ids import new_id
from majlis.core.permissions import Actor, Role
from majlis.customers.models import Customer
from majlis.customers.service import normalise_phone
from majlis.portal.models import PortalLink, PortalSession

TOKEN_PREFIX = "mjp"
LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class PortalIdentity:
    company_id: uuid.UUID
    customer_id: uuid.UUID
    session_id: uuid.UUID

    @property
    def actor(self) -> Actor:
        return Actor(company_id=self.company_id, role=Role.OWNER, kind="portal")


def _hash(raw: str) -> bytes:
    return hashlib.sha256(raw.encode()).digest()


def _find_customer(
    session: Session, company_id: uuid.UUID, email: str | None, phone: str | None
) -> Customer | None:
    conditions = []
    if email:
        conditions.append(func.lower(Customer.email) == email.strip().lower())
    if phone:
        normalised = normalise_phone(phone, get_company(session, company_id).country)
        if normalised:
            conditions.append(Customer.phone == normalised)
    if not conditions:
        return None
    return session.scalar(
        select(Customer)
        .where(
            Customer.company_id == company_id,
            Customer.deleted_at.is_(None),
            or_(*conditions),
        )
        .limit(1)
    )


def request_link(
    session: Session, company_id: uuid.UUID, email: str | None, phone: str | None
) -> None:
    """Send a one-time sign-in link to a matching customer; silent when none matches."""
    customer = _find_customer(session, company_id, email, phone)
    if customer is None:
        return
    raw = secrets.token_urlsafe(32)
    link = PortalLink(
        company_id=company_id,
        id=new_id(),
        customer_id=customer.id,
        token_hash=_hash(raw),
        expires_at=datetime.now(UTC) + LINK_LIFETIME,
    )
    session.add(link)
    session.flush()
    channel = "email" if email else "sms"
    outbox.emit(
        session,
        Actor.system(company_id),
        f"portal.sign_in_link.{channel}",
        {
            "customer_id": str(customer.id),
            "address": email or customer.phone,
            "token": raw,
            # The portal page whose "Sign in" button (a POST) opens the session: a mail
            # scanner fetching the link does not use it up. The sender prefixes the address.
            "path": f"/portal/{company_id}/open?token={raw}",
            "expires_at": link.expires_at.isoformat(),
        },
    )


def open_session(session: Session, company_id: uuid.UUID, raw_link: str) -> str:
    """Trade an unused, unexpired link for a portal session token (the link dies)."""
    link = session.scalar(
        select(PortalLink)
        .where(PortalLink.company_id == company_id, PortalLink.token_hash == _hash(raw_link))
        .with_for_update()
    )
    now = datetime.now(UTC)
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise NotAuthenticated("this sign-in link is not valid any more; ask for a new one")
    link.used_at = now
    secret = secrets.token_urlsafe(32)
    raw = f"{TOKEN_PREFIX}_{company_id.hex}_{secret}"
    portal_session = PortalSession(
        company_id=company_id,
        id=new_id(),
        customer_id=link.customer_id,
        token_hash=_hash(raw),
        expires_at=now + SESSION_LIFETIME,
    )
    session.add(portal_session)
    session.flush()
    identity = PortalIdentity(company_id, link.customer_id, portal_session.id)
    audit.record(session, identity.actor, "portal.signed_in", "customer", link.customer_id)
    return raw


def token_company(raw: str) -> uuid.UUID:
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise NotAuthenticated("send a portal session token: 'Authorization: Bearer mjp_…'")
    try:
        return uuid.UUID(hex=parts[1])
    except ValueError as exc:
        raise NotAuthenticated("the portal token is malformed") from exc


def authenticate(session: Session, raw: str) -> PortalIdentity:
    """The customer a live portal session token belongs to."""
    company_id = token_company(raw)
    found = session.scalar(
        select(PortalSession).where(
            PortalSession.company_id == company_id, PortalSession.token_hash == _hash(raw)
        )
    )
    if (
        found is None
        or not hmac.compare_digest(found.token_hash, _hash(raw))
        or found.revoked_at is not None
        or found.expires_at <= datetime.now(UTC)
    ):
        raise NotAuthenticated("the portal session has ended; sign in again")
    return PortalIdentity(company_id, found.customer_id, found.id)


def sign_out(session: Session, identity: PortalIdentity) -> None:
    session.execute(
        update(PortalSession)
        .where(
            PortalSession.company_id == identity.company_id,
            PortalSession.id == identity.session_id,
        )
        .values(revoked_at=func.now())
    )
