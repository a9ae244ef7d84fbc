"""Companies, users, memberships and API tokens.

A token reads `mjl_<company id>_<secret>`: the company part lets a request
name its tenant before anything is read, so the token lookup itself runs
under row-level security and is served by the `(company_id, token_hash)` key.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from majlis.accounts.models import ApiToken, Company, Membership, User
from majlis.core import audit
from majlis.core.calendars import WorkingCalendar
from majlis.core.db import set_tenant
from majlis.core.errors import (
    Conflict,
    FieldError,
    NotAuthenticated,
    NotFound,
    ValidationFailed,
)
from majlis.core.ids import new_id
from majlis.core.permissions import COMPANY_SETTINGS, Action, Actor, Role, require

TOKEN_PREFIX = "mjl"
TOKEN_NAME_MAX = 100
SUPPORTED_COUNTRIES = {"AE": ("AED", "Asia/Dubai"), "TH": ("THB", "Asia/Bangkok")}
_hasher = PasswordHasher()


def create_company(
    session: Session,
    name: str,
    *,
    country: str = "AE",
    name_ar: str | None = None,
    default_language: str = "en",
) -> Company:
    """Create a tenant; the session's transaction is switched to it."""
    name = name.strip()
    if not name:
        raise ValidationFailed.single("name", "must not be empty")
    country = country.upper()
    if country not in SUPPORTED_COUNTRIES:
        raise ValidationFailed.single("country", f"must be one of {', '.join(SUPPORTED_COUNTRIES)}")
    currency, time_zone = SUPPORTED_COUNTRIES[country]
    company = Company(
        id=new_id(),
        name=name,
        name_ar=name_ar,
        country=country,
        default_currency=currency,
        time_zone=time_zone,
        default_language=default_language,
    )
    set_tenant(session, company.id)
    session.add(company)
    session.flush()
    audit.record(
        session,
        Actor.system(company.id),
        "company.created",
        "company",
        company.id,
        after={"name": name, "country": country},
    )
    return company


@dataclass(frozen=True)
class CompanyRegion:
    """Where a company trades: the region its phone numbers are read in, and the
    currency its customers default to. Both are fixed when it is created."""

    country: str
    currency: str


# Read once per company and process: migration 0014_fixed_region refuses to change
# either value, and a create, a phone lookup or a conversation match each needed
# one round trip for it. One small entry per company.
_REGIONS: dict[uuid.UUID, CompanyRegion] = {}


def company_region(session: Session, company_id: uuid.UUID) -> CompanyRegion:
    """The company's fixed region, read from the database at most once per process."""
    region = _REGIONS.get(company_id)
    if region is None:
        company = get_company(session, company_id)
        region = _REGIONS[company_id] = CompanyRegion(company.country, company.default_currency)
    return region


def get_company(session: Session, company_id: uuid.UUID) -> Company:
    """The company, read once per session however many rules ask for it.

    The session's identity map holds objects weakly, so a company nobody keeps
    would be read again by each caller (three times in one customer create); the
    session keeps a reference to it instead.
    """
    company = session.get(Company, company_id)
    if company is None:
        raise NotFound("company", company_id)
    session.info.setdefault("majlis.companies", {})[company_id] = company
    return company


def normalise_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed.single("email", str(exc)) from exc


def add_user(
    session: Session,
    actor: Actor,
    email: str,
    role: Role,
    *,
    password: str | None = None,
    full_name: str | None = None,
) -> User:
    """Create the user if new and make them a member of the actor's company with `role`."""
    require(actor, COMPANY_SETTINGS, Action.ADMINISTER)
    email = normalise_email(email)
    if password is not None and len(password) < 10:
        raise ValidationFailed.single("password", "must be at least 10 characters")
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None:
        user = User(id=new_id(), email=email, full_name=full_name)
        session.add(user)
    if password is not None:
        user.password_hash = _hasher.hash(password)
    session.flush()
    membership = session.get(Membership, (actor.company_id, user.id))
    if membership is not None and membership.is_active:
        raise Conflict(f"{email} is already a member of this company", existing_id=str(user.id))
    if membership is None:
        session.add(Membership(company_id=actor.company_id, user_id=user.id, role=role))
    else:
        # A removed member keeps their row (tokens and records point at it); adding
        # them again brings it back with the new role.
        membership.is_active, membership.role = True, role
    session.flush()
    audit.record(
        session, actor, "membership.created", "user", user.id, after={"email": email, "role": role}
    )
    return user


def find_member(session: Session, actor: Actor, email: str) -> User:
    user = session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.company_id == actor.company_id, func.lower(User.email) == email.lower())
    )
    if user is None:
        raise NotFound("member", email)
    return user


def _hash_token(raw: str) -> bytes:
    return hashlib.sha256(raw.encode()).digest()


def issue_token(
    session: Session, actor: Actor, user: User, name: str = "api"
) -> tuple[ApiToken, str]:
    """Create a token for a member; the plain token is returned once and never stored."""
    if actor.user_id != user.id:
        require(actor, COMPANY_SETTINGS, Action.ADMINISTER)
    name = name.strip()
    if not 1 <= len(name) <= TOKEN_NAME_MAX:
        raise ValidationFailed.single("name", f"must be 1 to {TOKEN_NAME_MAX} characters")
    raw = f"{TOKEN_PREFIX}_{actor.company_id.hex}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        company_id=actor.company_id,
        id=new_id(),
        user_id=user.id,
        name=name,
        token_hash=_hash_token(raw),
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        "token.created",
        "api_token",
        token.id,
        after={"user": user.email, "name": name},
    )
    return token, raw


def revoke_token(session: Session, actor: Actor, token_id: uuid.UUID) -> None:
    token = session.get(ApiToken, (actor.company_id, token_id))
    if token is None:
        raise NotFound("api token", token_id)
    if token.user_id != actor.user_id:
        require(actor, COMPANY_SETTINGS, Action.ADMINISTER)
    token.revoked_at = datetime.now(UTC)
    audit.record(session, actor, "token.revoked", "api_token", token.id)


def token_company(raw: str) -> uuid.UUID:
    """The company a token claims; verified only by `authenticate_token`."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise NotAuthenticated("the bearer token is malformed")
    try:
        return uuid.UUID(hex=parts[1])
    except ValueError as exc:
        raise NotAuthenticated("the bearer token is malformed") from exc


_AUTHENTICATE = text(
    "SELECT token_user_id, token_role, token_usable FROM majlis_authenticate(:company_id, :hash)"
)


def authenticate_token(session: Session, raw: str, request_id: str | None = None) -> Actor:
    """Resolve a bearer token to an actor and name its company and user for the transaction.

    One round trip (`majlis_authenticate`, migration 0008_customers_perf): the
    company is named, the token looked up under row-level security, the user
    named and `last_used_at` stamped at most once a minute.
    """
    company_id = token_company(raw)
    row = session.execute(
        _AUTHENTICATE, {"company_id": company_id, "hash": _hash_token(raw)}
    ).one_or_none()
    if row is None:
        raise NotAuthenticated("the bearer token is not valid")
    user_id, role, usable = row
    if not usable:
        raise NotAuthenticated("the bearer token has been revoked")
    return Actor(company_id=company_id, role=Role(role), user_id=user_id, request_id=request_id)


def verify_password(session: Session, email: str, password: str) -> User:
    """The active user with this email and password; one answer for every kind of failure."""
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    try:
        if user is None or not user.is_active or not user.password_hash:
            raise VerificationError
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError) as exc:
        raise NotAuthenticated("email or password is wrong") from exc
    return user


def user_companies(session: Session, user_id: uuid.UUID) -> list[tuple[uuid.UUID, str, Role]]:
    rows = session.execute(text("SELECT * FROM majlis_user_memberships(:u)"), {"u": user_id})
    return [(row.company_id, row.company_name, Role(row.role)) for row in rows]


# ----- members, tokens and working time (the owner's settings) ----------------------------
def list_members(session: Session, actor: Actor) -> list[tuple[User, Membership]]:
    """The company's active members with their roles, by email."""
    require(actor, COMPANY_SETTINGS, Action.VIEW)
    rows = session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.company_id == actor.company_id, Membership.is_active)
        .order_by(func.lower(User.email))
    )
    return [(user, membership) for user, membership in rows.tuples()]


def _active_membership(session: Session, actor: Actor, user_id: uuid.UUID) -> Membership:
    membership = session.get(Membership, (actor.company_id, user_id), with_for_update=True)
    if membership is None or not membership.is_active:
        raise NotFound("member", user_id)
    return membership


def _keep_an_owner(session: Session, actor: Actor, membership: Membership, field: str) -> None:
    """Refuse to leave the company without an active owner: nobody could manage it again.

    The owners' rows are locked, so two owners demoting each other at once
    cannot both succeed.
    """
    if membership.role is not Role.OWNER:
        return
    owners = session.scalars(
        select(Membership.user_id)
        .where(
            Membership.company_id == actor.company_id,
            Membership.role == Role.OWNER,
            Membership.is_active,
        )
        .with_for_update()
    ).all()
    if len(owners) <= 1:
        raise ValidationFailed.single(
            field, "the company's last owner cannot be removed or demoted"
        )


def change_role(session: Session, actor: Actor, user_id: uuid.UUID, role: Role) -> Membership:
    """Give a member another role; the last owner keeps theirs."""
    require(actor, COMPANY_SETTINGS, Action.ADMINISTER)
    membership = _active_membership(session, actor, user_id)
    before = membership.role
    if role is before:
        return membership
    _keep_an_owner(session, actor, membership, "role")
    membership.role = role
    session.flush()
    audit.record(
        session,
        actor,
        "membership.role_changed",
        "user",
        user_id,
        before={"role": before},
        after={"role": role},
    )
    return membership


def remove_member(session: Session, actor: Actor, user_id: uuid.UUID) -> None:
    """End a membership and revoke the member's tokens, at once; the last owner stays.

    The row is kept inactive rather than deleted: tokens, customers and tasks
    still name the member, and sign-in and tokens check `is_active` on every request.
    """
    require(actor, COMPANY_SETTINGS, Action.ADMINISTER)
    membership = _active_membership(session, actor, user_id)
    _keep_an_owner(session, actor, membership, "member")
    membership.is_active = False
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.company_id == actor.company_id,
            ApiToken.user_id == user_id,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=func.now())
    )
    session.flush()
    audit.record(
        session, actor, "membership.removed", "user", user_id, before={"role": membership.role}
    )


@dataclass(frozen=True)
class TokenListing:
    """A token as its list shows it: never its secret, which is not stored."""

    token: ApiToken
    user_email: str


def list_tokens(session: Session, actor: Actor, limit: int = 200) -> list[TokenListing]:
    """The company's API tokens, newest first, with the member each belongs to."""
    require(actor, COMPANY_SETTINGS, Action.ADMINISTER)
    rows = session.execute(
        select(ApiToken, User.email)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.company_id == actor.company_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        .limit(limit)
    )
    return [TokenListing(token, email) for token, email in rows.tuples()]


def update_working_time(
    session: Session,
    actor: Actor,
    *,
    working_days: list[int],
    starts: time,
    ends: time,
    time_zone: str,
) -> Company:
    """The working week, hours and time zone, checked as the reminder calendar checks them."""
    require(actor, COMPANY_SETTINGS, Action.ADMINISTER)
    company = get_company(session, actor.company_id)
    errors = _working_time_errors(company.country, working_days, starts, ends, time_zone)
    if errors:
        raise ValidationFailed(errors)
    before = _working_time(company)
    company.working_days = sorted(set(working_days))
    company.work_starts, company.work_ends, company.time_zone = starts, ends, time_zone
    session.flush()
    after = _working_time(company)
    audit.record(
        session,
        actor,
        "company.working_time_changed",
        "company",
        company.id,
        before=audit.changed_fields(after, before),
        after=audit.changed_fields(before, after),
    )
    return company


def _working_time(company: Company) -> dict[str, object]:
    return {
        "working_days": list(company.working_days),
        "work_starts": company.work_starts.isoformat(),
        "work_ends": company.work_ends.isoformat(),
        "time_zone": company.time_zone,
    }


def _working_time_errors(
    country: str, working_days: list[int], starts: time, ends: time, time_zone: str
) -> list[FieldError]:
    """Each field the working calendar would refuse, checked one at a time for its message."""
    checks: tuple[tuple[str, Callable[[], WorkingCalendar]], ...] = (
        ("working_days", lambda: WorkingCalendar(country, working_days=frozenset(working_days))),
        ("work_ends", lambda: WorkingCalendar(country, start=starts, end=ends)),
        ("time_zone", lambda: WorkingCalendar(country, tz=time_zone)),
    )
    errors = []
    for field, build in checks:
        try:
            build()
        except ValueError as exc:
            errors.append(FieldError(field, str(exc)))
    return errors
