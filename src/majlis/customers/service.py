"""Customer rules: validation that needs the company, uniqueness, permissions, audit.

Every function takes a session already scoped to the actor's company and the
actor; none knows about HTTP. The company filter is written out in every
query as well as enforced by row-level security: two locks, not one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from majlis.accounts.service import company_region
from majlis.conversations.interactions import SENSITIVE_FIELDS
from majlis.conversations.models import CustomerInteraction, InteractionKind
from majlis.core import audit, outbox
from majlis.core.errors import (
    Conflict,
    FieldError,
    MovedPermanently,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from majlis.core.i18n import digits_only
from majlis.core.ids import new_id
from majlis.core.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from majlis.core.permissions import CUSTOMERS, Action, Actor, require
from majlis.customers.deletion import run_delete_guards
from majlis.customers.documents import customer_document
from majlis.customers.models import BusinessType, Customer, CustomerKind, CustomerSource
from majlis.customers.schemas import (
    CustomerCreate,
    CustomerFields,
    CustomerOut,
    CustomerUpdate,
    valid_trn,
)

ENTITY = "customer"
UAE_TRN_PREFIX = "100"


# ----- normalisation -----------------------------------------------------------------
def normalise_phone(raw: str, region: str) -> str | None:
    """E.164 for a phone typed in any common format, or None when it is not a phone number.

    `0501234567` is read in the company's region; `971501234567` (country code
    without the plus) is recognised too.
    """
    candidates = [raw]
    digits = digits_only(raw)
    if digits and not raw.strip().startswith(("+", "0")):
        candidates.append("+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(
                digits_only(candidate) if candidate[0] != "+" else candidate, region
            )
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _normalise_phones(values: dict[str, Any], region: str) -> list[FieldError]:
    errors = []
    if values.get("phone"):
        phone = normalise_phone(values["phone"], region)
        if phone is None:
            errors.append(
                FieldError("phone", f"not a valid phone number (read in region {region})")
            )
        values["phone"] = phone
    if values.get("secondary_phones"):
        normalised = [normalise_phone(raw, region) for raw in values["secondary_phones"]]
        for index, (raw, phone) in enumerate(
            zip(values["secondary_phones"], normalised, strict=True)
        ):
            if phone is None:
                errors.append(
                    FieldError(f"secondary_phones.{index}", f"{raw!r} is not a valid phone number")
                )
        values["secondary_phones"] = list(dict.fromkeys(p for p in normalised if p))
    return errors


def _check_kind_rules(customer_kind: CustomerKind, values: dict[str, Any]) -> list[FieldError]:
    if customer_kind is CustomerKind.ORGANIZATION and values.get("date_of_birth"):
        return [FieldError("date_of_birth", "applies to individuals only")]
    return []


def _warnings(values: dict[str, Any]) -> list[str]:
    trn = values.get("trn")
    if trn and not trn.startswith(UAE_TRN_PREFIX):
        return [f"trn: UAE TRNs usually start with {UAE_TRN_PREFIX}; {trn} was saved as given"]
    return []


def _dedupe_lists(values: dict[str, Any]) -> None:
    for key in ("tags", "secondary_emails"):
        if values.get(key) is not None:
            values[key] = list(dict.fromkeys(values[key]))


def prepare_values(
    session: Session, actor: Actor, draft: CustomerFields, kind: CustomerKind
) -> dict[str, Any]:
    """Validated column values from a draft: phones in E.164, lists de-duplicated."""
    values = draft.model_dump(exclude_unset=True)
    country = company_region(session, actor.company_id).country
    errors = _normalise_phones(values, country) + _check_kind_rules(kind, values)
    if errors:
        raise ValidationFailed(errors)
    _dedupe_lists(values)
    return values


# ----- uniqueness --------------------------------------------------------------------
UNIQUE_IDENTIFIERS = ("trn", "external_ref")
# Sending null for a list field empties it rather than storing NULL.
_LIST_FIELDS = {"tags", "secondary_emails", "secondary_phones"}


def _find_live_by(session: Session, actor: Actor, column: str, value: str) -> Customer | None:
    return session.scalar(
        select(Customer).where(
            Customer.company_id == actor.company_id,
            getattr(Customer, column) == value,
            Customer.deleted_at.is_(None),
        )
    )


def _ensure_identifiers_free(
    session: Session, actor: Actor, values: dict[str, Any], exclude: uuid.UUID | None = None
) -> None:
    for column in UNIQUE_IDENTIFIERS:
        value = values.get(column)
        if not value:
            continue
        existing = _find_live_by(session, actor, column, value)
        if existing is not None and existing.id != exclude:
            raise Conflict(
                f"another customer already has {column} {value}: {existing.name} ({existing.id})",
                field=column,
                existing_id=str(existing.id),
            )


@contextmanager
def _unique_write(
    session: Session, actor: Actor, values: dict[str, Any], exclude: uuid.UUID | None
) -> Iterator[None]:
    """Apply changes inside a savepoint and flush them there.

    A concurrent duplicate that slips past `_ensure_identifiers_free` still gets
    a 409 naming the winner, and the outer transaction stays usable.
    """
    savepoint = session.begin_nested()
    try:
        yield
        session.flush()
    except IntegrityError as exc:
        savepoint.rollback()
        if "fk_customers_owner" in str(exc.orig):
            raise ValidationFailed.single("owner_id", "is not a member of this company") from exc
        with session.no_autoflush:
            _ensure_identifiers_free(session, actor, values, exclude)
        raise
    except StaleDataError as exc:
        savepoint.rollback()
        raise PreconditionFailed(
            f"customer {exclude} was changed by someone else; reload it"
        ) from exc
    savepoint.commit()


# ----- reading -----------------------------------------------------------------------
def snapshot(customer: Customer) -> dict[str, Any]:
    """The customer as stored, for audit before/after and the privacy export."""
    return CustomerOut.model_validate(customer).model_dump(mode="json")


def get_customer(
    session: Session, actor: Actor, customer_id: uuid.UUID, *, include_deleted: bool = False
) -> Customer:
    require(actor, CUSTOMERS, Action.VIEW)
    customer = session.get(Customer, (actor.company_id, customer_id))
    if customer is None or (customer.deleted_at is not None and not include_deleted):
        raise NotFound(ENTITY, customer_id)
    if customer.merged_into_id is not None:
        raise MovedPermanently(ENTITY, customer_id, _survivor_of(session, actor, customer))
    return customer


def _survivor_of(session: Session, actor: Actor, customer: Customer) -> uuid.UUID:
    """The end of a merge chain (A merged into B, B later into C: C)."""
    current = customer
    while current.merged_into_id is not None:
        parent = session.get(Customer, (actor.company_id, current.merged_into_id))
        if parent is None:  # unreachable while the foreign key holds
            break
        current = parent
    return current.id


@dataclass(frozen=True)
class CustomerFilters:
    is_active: bool | None = None
    business_type: BusinessType | None = None
    source: CustomerSource | None = None
    kind: CustomerKind | None = None
    tag: str | None = None
    owner_id: uuid.UUID | None = None
    has_email: bool | None = None
    has_phone: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    trn: str | None = None
    email: str | None = None
    phone: str | None = None
    external_ref: str | None = None
    emirate: str | None = None
    city: str | None = None


def _equality_conditions(filters: CustomerFilters) -> Iterable[ColumnElement[bool]]:
    for name in (
        *("is_active", "business_type", "source", "kind", "owner_id", "external_ref"),
        *("emirate", "city"),
    ):
        value = getattr(filters, name)
        if value is not None:
            yield getattr(Customer, name) == value


def _presence_conditions(filters: CustomerFilters) -> Iterable[ColumnElement[bool]]:
    for flag, column in ((filters.has_email, Customer.email), (filters.has_phone, Customer.phone)):
        if flag is not None:
            yield column.is_not(None) if flag else column.is_(None)


def _lookup_conditions(filters: CustomerFilters, region: str) -> Iterable[ColumnElement[bool]]:
    if filters.tag:
        yield Customer.tags.contains([filters.tag])
    if filters.created_from:
        yield Customer.created_at >= filters.created_from
    if filters.created_to:
        yield Customer.created_at < filters.created_to
    if filters.trn:
        try:
            yield Customer.trn == valid_trn(filters.trn)
        except ValueError as exc:
            raise ValidationFailed.single("trn", str(exc)) from exc
    if filters.email:
        email = filters.email.strip().lower()
        yield or_(Customer.email == email, _in_secondary(Customer.secondary_emails, email))
    if filters.phone:
        phone = normalise_phone(filters.phone, region)
        if phone is None:
            raise ValidationFailed.single("phone", "not a phone number in any format we know")
        yield or_(Customer.phone == phone, _in_secondary(Customer.secondary_phones, phone))


_NO_VALUES: ColumnElement[Any] = literal_column("'{}'::text[]")


def _in_secondary(column: Any, value: str) -> ColumnElement[bool]:
    """`value` is one of a customer's secondary emails/phones.

    Spelled so the planner can answer it from the small partial index of customers
    that have any (`ix_customers_has_secondary_*`): the `(company_id, array)` GIN
    index walks the company's whole posting list first (measured at 100k
    customers: 11.6 ms through the GIN index, 0.07 ms this way).
    """
    return and_(column != _NO_VALUES, column.contains([value]))


def filter_conditions(
    session: Session, actor: Actor, filters: CustomerFilters
) -> list[ColumnElement[bool]]:
    region = company_region(session, actor.company_id).country if filters.phone else "AE"
    return [
        Customer.company_id == actor.company_id,
        Customer.deleted_at.is_(None),
        Customer.merged_into_id.is_(None),  # merges (issue 5): merged customers leave lists
        *_equality_conditions(filters),
        *_presence_conditions(filters),
        *_lookup_conditions(filters, region),
    ]


LAST_SEEN_KEY = func.coalesce(
    Customer.last_seen_at, cast(literal("-infinity"), DateTime(timezone=True))
)
SORT_KEYS: dict[str, Any] = {
    "name": Customer.name,
    "created_at": Customer.created_at,
    "last_seen_at": LAST_SEEN_KEY,
}


def parse_sort(sort: str) -> tuple[str, bool]:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        raise ValidationFailed.single(
            "sort", f"must be one of {', '.join(SORT_KEYS)} (prefix - for descending)"
        )
    return key, descending


def _keyset(query: Select[Any], key: str, descending: bool, cursor: str | None) -> Select[Any]:
    sort_column = SORT_KEYS[key]
    order = (sort_column.desc(), Customer.id.desc()) if descending else (sort_column, Customer.id)
    query = query.order_by(*order)
    if cursor:
        last_value, last_id = decode_cursor(cursor, 2)
        typed_value = (
            last_value if key == "name" else cast(literal(last_value), DateTime(timezone=True))
        )
        after = tuple_(sort_column, Customer.id)
        bound = tuple_(typed_value, literal(uuid.UUID(str(last_id))))
        query = query.where(after < bound if descending else after > bound)
    return query


def _cursor_of(value: Any, row_id: uuid.UUID, key: str) -> str:
    if key == "last_seen_at" and value is None:
        value = "-infinity"
    if isinstance(value, datetime):
        value = value.isoformat()
    return encode_cursor([value, str(row_id)])


def _page_query(
    session: Session,
    actor: Actor,
    filters: CustomerFilters,
    selected: Select[Any],
    sort: str,
    cursor: str | None,
    limit: int,
) -> tuple[Select[Any], str]:
    """`selected` narrowed to one keyset page (plus one row to tell if more follow)."""
    require(actor, CUSTOMERS, Action.VIEW)
    key, descending = parse_sort(sort)
    query = selected.where(*filter_conditions(session, actor, filters)).limit(limit + 1)
    return _keyset(query, key, descending, cursor), key


def list_customers(
    session: Session,
    actor: Actor,
    filters: CustomerFilters,
    *,
    sort: str = "name",
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Customer]:
    """One keyset page of live customers matching `filters`."""
    query, key = _page_query(session, actor, filters, select(Customer), sort, cursor, limit)
    rows = list(session.scalars(query))
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = _cursor_of(getattr(last, key), last.id, key) if last else None
    return Page(rows[:limit], next_cursor)


# The columns the JSON API shows (CustomerOut), read as plain rows: the hot read paths
# skip ORM identity-map bookkeeping and the normalised search columns nobody displays.
SHOWN_COLUMNS = tuple(Customer.__table__.c[name] for name in CustomerOut.model_fields)
# A listed customer is not ranked: the fields a search hit adds are null.
UNRANKED = {"rank": None, "tier": None, "matched_field": None}
LISTED_DOCUMENT = customer_document(UNRANKED)


def list_customer_documents(
    session: Session,
    actor: Actor,
    filters: CustomerFilters,
    *,
    sort: str = "name",
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[str]:
    """`list_customers` as the JSON documents the API shows (see customers.documents)."""
    key, _ = parse_sort(sort)
    selected = select(LISTED_DOCUMENT, Customer.__table__.c[key], Customer.id)
    query, _ = _page_query(session, actor, filters, selected, sort, cursor, limit)
    rows = session.execute(query).all()
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = _cursor_of(last[1], last[2], key) if last else None
    return Page([row[0] for row in rows[:limit]], next_cursor)


def _view_statement() -> Select[Any]:
    """The customer's shown columns, plus a `viewed` interaction row for them, in one statement.

    Built once: composing a CTE of 37 columns costs more CPU than running it.
    """
    shown = (
        select(*SHOWN_COLUMNS)
        .where(
            Customer.company_id == bindparam("company_id"),
            Customer.id == bindparam("customer_id"),
            Customer.deleted_at.is_(None),
            Customer.merged_into_id.is_(None),  # merges (issue 5): see view_customer
        )
        .cte("shown")
    )
    sensitive = func.array_remove(
        array([case((shown.c[name].is_not(None), name)) for name in SENSITIVE_FIELDS]), None
    )
    viewed = (
        insert(CustomerInteraction)
        .from_select(
            [
                *("company_id", "id", "customer_id", "kind"),
                *("actor_kind", "actor_id", "sensitive_fields"),
            ],
            select(
                bindparam("company_id", type_=CustomerInteraction.company_id.type),
                bindparam("interaction_id", type_=CustomerInteraction.id.type),
                shown.c.id,
                literal(InteractionKind.VIEWED, CustomerInteraction.kind.type),
                bindparam("actor_kind", type_=CustomerInteraction.actor_kind.type),
                bindparam("actor_id", type_=CustomerInteraction.actor_id.type),
                sensitive,
            ),
        )
        .cte("viewed")
    )
    return select(shown).add_cte(viewed)


_VIEW_CUSTOMER = _view_statement()


def view_customer(session: Session, actor: Actor, customer_id: uuid.UUID) -> dict[str, Any]:
    """A live customer's shown columns, recording that `actor` viewed it — one round trip.

    Issue 3 wants views recorded without an extra round trip on the hot read path,
    so the interaction row is inserted by a data-modifying CTE of the read itself.
    """
    require(actor, CUSTOMERS, Action.VIEW)
    params = {
        "company_id": actor.company_id,
        "customer_id": customer_id,
        "interaction_id": new_id(),
        "actor_kind": actor.kind,
        "actor_id": actor.user_id,
    }
    row = session.execute(_VIEW_CUSTOMER, params).mappings().one_or_none()
    if row is None:
        get_customer(session, actor, customer_id)  # a merged customer's id answers 301
        raise NotFound(ENTITY, customer_id)
    return dict(row)


# ----- writing -----------------------------------------------------------------------
def refresh_match_keys(session: Session, customer: Customer, *, new: bool = False) -> None:
    """Keep the duplicate check's key index in step with the customer (dedupe, issue 5)."""
    from majlis.dedupe.store import refresh_keys  # lazy: the dedupe store reads customers

    refresh_keys(session, customer.company_id, customer, new=new)


def create_customer(
    session: Session, actor: Actor, draft: CustomerCreate
) -> tuple[Customer, list[str]]:
    """Create a customer; returns it with non-blocking warnings (e.g. an unusual TRN prefix)."""
    require(actor, CUSTOMERS, Action.CREATE)
    values = prepare_values(session, actor, draft, draft.kind)
    values.setdefault("kind", draft.kind)
    values.setdefault("currency", company_region(session, actor.company_id).currency)
    # No identifier lookup up front: the unique indexes refuse a duplicate inside the
    # savepoint, and only then is the holder looked up for the 409 (one round trip
    # fewer per create).
    customer = Customer(
        company_id=actor.company_id, id=new_id(), created_by=actor.user_id, **values
    )
    if customer.owner_id is None:
        customer.owner_id = actor.user_id
    with _unique_write(session, actor, values, exclude=None):
        session.add(customer)
    refresh_match_keys(session, customer, new=True)
    after = snapshot(customer)
    audit.record(session, actor, "customer.created", ENTITY, customer.id, after=after)
    outbox.emit(session, actor, "customer.created", {"customer_id": str(customer.id)})
    return customer, _warnings(values)


def _check_version(customer: Customer, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != customer.version:
        raise PreconditionFailed(
            f"customer {customer.id} is at version {customer.version}, not {expected_version};"
            " reload it and apply your change again",
            current_version=customer.version,
        )


def update_customer(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    patch: CustomerUpdate,
    *,
    expected_version: int | None = None,
) -> tuple[Customer, list[str]]:
    """Apply the fields present in `patch`; a stale `expected_version` changes nothing (412)."""
    customer = get_customer(session, actor, customer_id)
    require(actor, CUSTOMERS, Action.EDIT, customer)
    _check_version(customer, expected_version)
    if "name" in patch.model_fields_set and patch.name is None:
        raise ValidationFailed.single("name", "cannot be removed")
    values = prepare_values(session, actor, patch, patch.kind or customer.kind)
    _ensure_identifiers_free(session, actor, values, exclude=customer.id)
    before = snapshot(customer)
    with _unique_write(session, actor, values, exclude=customer.id):
        for name, value in values.items():
            setattr(customer, name, [] if value is None and name in _LIST_FIELDS else value)
    session.refresh(customer)
    refresh_match_keys(session, customer)
    after = snapshot(customer)
    if after != before:
        audit.record(
            session,
            actor,
            "customer.updated",
            ENTITY,
            customer.id,
            before={k: before[k] for k in audit.changed_fields(before, after)},
            after=audit.changed_fields(before, after),
        )
    return customer, _warnings(values)


def delete_customer(
    session: Session, actor: Actor, customer_id: uuid.UUID, *, archive_all: bool = False
) -> dict[str, int]:
    """Soft delete: the customer leaves lists and lookups; its audit trail stays.

    Guards other domains registered (`customers.deletion`) run first: they refuse (409)
    while rows would be orphaned, or with `archive_all` archive them. Returns what they
    archived, which the audit entry records too.
    """
    customer = get_customer(session, actor, customer_id)
    require(actor, CUSTOMERS, Action.DELETE, customer)
    archived = run_delete_guards(session, actor, customer, archive_all=archive_all)
    customer.deleted_at = datetime.now(UTC)
    session.flush()
    refresh_match_keys(session, customer)
    audit.record(
        session,
        actor,
        "customer.deleted",
        ENTITY,
        customer.id,
        before={"deleted_at": None},
        after={"deleted_at": customer.deleted_at, **archived},
    )
    return archived


def restore_customer(session: Session, actor: Actor, customer_id: uuid.UUID) -> Customer:
    customer = get_customer(session, actor, customer_id, include_deleted=True)
    require(actor, CUSTOMERS, Action.DELETE, customer)
    if customer.deleted_at is None:
        return customer
    values = {"trn": customer.trn, "external_ref": customer.external_ref}
    _ensure_identifiers_free(session, actor, values, exclude=customer.id)
    before = {"deleted_at": customer.deleted_at}
    with _unique_write(session, actor, values, exclude=customer.id):
        customer.deleted_at = None
    refresh_match_keys(session, customer)
    audit.record(
        session,
        actor,
        "customer.restored",
        ENTITY,
        customer.id,
        before=before,
        after={"deleted_at": None},
    )
    return customer


def customer_history(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[audit.AuditEntry]:
    """The customer's audit trail, newest first; available after a soft delete too."""
    get_customer(session, actor, customer_id, include_deleted=True)
    return audit.entity_history(session, actor, ENTITY, customer_id, cursor=cursor, limit=limit)
