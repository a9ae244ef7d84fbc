"""Privacy rights (UAE PDPL, Thailand PDPA, GDPR): export, erasure, consent, retention.

- Export gathers everything held about a person as machine-readable JSON.
- Erasure is a logged request (who, when, why, answered within 30 days); carrying it out
  anonymises the customer and their conversations in place. The customer row stays,
  named by a pseudonym, so records the law requires to keep (invoices) still join it by
  id — with no personal data left on either side.
- Consent and opt-out are kept per channel, every change appended to a consent log.
- Retention: soft-deleted customers and conversations older than the company's
  `retention_days` (default 730) are purged by a job, and the purge is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from majlis.accounts.models import Company
from majlis.accounts.service import get_company
from majlis.conversations.interactions import record_interaction
from majlis.conversations.models import Conversation, CustomerInteraction, InteractionKind
from majlis.conversations.schemas import ConversationOut, InteractionOut
from majlis.core import audit
from majlis.core.errors import Conflict, NotFound, ValidationFailed
from majlis.core.ids import new_id
from majlis.core.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from majlis.core.permissions import COMPANY_SETTINGS, CUSTOMERS, Action, Actor, require
from majlis.customers.models import Customer, CustomerKind
from majlis.customers.service import get_customer, snapshot
from majlis.organizations.models import Contact, Project
from majlis.organizations.schemas import ContactOut, ProjectOut
from majlis.privacy.models import (
    ConsentChannel,
    ConsentLogEntry,
    CustomerConsent,
    ErasureRequest,
    ErasureStatus,
)
from majlis.privacy.schemas import (
    ConsentIn,
    ConsentLogOut,
    ConsentOut,
    ErasureRequestIn,
    ErasureRequestOut,
)

EXPORT_FORMAT = "majlis.customer-export/1"
ANSWER_WITHIN = timedelta(days=30)

# ----- export ------------------------------------------------------------------------


def _rows(session: Session, query: Any) -> list[Any]:
    return list(session.scalars(query))


def _dump(schema: Any, rows: list[Any]) -> list[dict[str, Any]]:
    return [schema.model_validate(row).model_dump(mode="json") for row in rows]


def _customer_contacts(session: Session, actor: Actor, customer: Customer) -> list[Contact]:
    """An organization's people, or the contact an individual was converted into."""
    owner_column = (
        Contact.organization_id
        if customer.kind is CustomerKind.ORGANIZATION
        else Contact.converted_from_customer_id
    )
    return _rows(
        session,
        select(Contact)
        .where(Contact.company_id == actor.company_id, owner_column == customer.id)
        .order_by(Contact.name, Contact.id),
    )


def _audit_entries(session: Session, actor: Actor, customer_id: uuid.UUID) -> list[Any]:
    return [
        {
            "id": str(entry.id),
            "occurred_at": entry.occurred_at.isoformat(),
            "action": entry.action,
            "actor_id": str(entry.actor_id) if entry.actor_id else None,
            "before": entry.before,
            "after": entry.after,
        }
        for entry in _rows(
            session,
            select(audit.AuditEntry)
            .where(
                audit.AuditEntry.company_id == actor.company_id,
                audit.AuditEntry.entity_type == "customer",
                audit.AuditEntry.entity_id == customer_id,
            )
            .order_by(audit.AuditEntry.occurred_at, audit.AuditEntry.id),
        )
    ]


def export_customer(session: Session, actor: Actor, customer_id: uuid.UUID) -> dict[str, Any]:
    """Everything held about a customer, as JSON; the export itself is recorded."""
    customer = get_customer(session, actor, customer_id, include_deleted=True)
    require(actor, CUSTOMERS, Action.EXPORT, customer)
    company = actor.company_id
    conversations = _rows(
        session,
        select(Conversation)
        .where(Conversation.company_id == company, Conversation.customer_id == customer.id)
        .order_by(Conversation.started_at, Conversation.id),
    )
    interactions = _rows(
        session,
        select(CustomerInteraction)
        .where(
            CustomerInteraction.company_id == company,
            CustomerInteraction.customer_id == customer.id,
        )
        .order_by(CustomerInteraction.occurred_at, CustomerInteraction.id),
    )
    projects = _rows(
        session,
        select(Project)
        .where(Project.company_id == company, Project.organization_id == customer.id)
        .order_by(Project.name, Project.id),
    )
    consents, log = _consent_rows(session, actor, customer.id)
    requests = _rows(
        session,
        select(ErasureRequest)
        .where(ErasureRequest.company_id == company, ErasureRequest.customer_id == customer.id)
        .order_by(ErasureRequest.received_at),
    )
    export = {
        "format": EXPORT_FORMAT,
        "exported_at": datetime.now(UTC).isoformat(),
        "profile": snapshot(customer),
        "contacts": _dump(ContactOut, _customer_contacts(session, actor, customer)),
        "projects": _dump(ProjectOut, projects),
        "conversations": _dump(ConversationOut, conversations),
        "interactions": _dump(InteractionOut, interactions),
        "consents": _dump(ConsentOut, consents),
        "consent_log": _dump(ConsentLogOut, log),
        "erasure_requests": _dump(ErasureRequestOut, requests),
        "audit": _audit_entries(session, actor, customer.id),
    }
    record_interaction(session, actor, customer.id, InteractionKind.EXPORTED)
    return export


# ----- consent -----------------------------------------------------------------------
def _consent_rows(
    session: Session, actor: Actor, customer_id: uuid.UUID
) -> tuple[list[CustomerConsent], list[ConsentLogEntry]]:
    current = _rows(
        session,
        select(CustomerConsent)
        .where(
            CustomerConsent.company_id == actor.company_id,
            CustomerConsent.customer_id == customer_id,
        )
        .order_by(CustomerConsent.channel),
    )
    log = _rows(
        session,
        select(ConsentLogEntry)
        .where(
            ConsentLogEntry.company_id == actor.company_id,
            ConsentLogEntry.customer_id == customer_id,
        )
        .order_by(ConsentLogEntry.occurred_at.desc(), ConsentLogEntry.id.desc()),
    )
    return current, log


def customer_consents(
    session: Session, actor: Actor, customer_id: uuid.UUID
) -> tuple[list[CustomerConsent], list[ConsentLogEntry]]:
    """The current choice per channel, and the log of every change (newest first)."""
    get_customer(session, actor, customer_id)
    return _consent_rows(session, actor, customer_id)


def set_consent(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    channel: ConsentChannel,
    choice: ConsentIn,
) -> CustomerConsent:
    """Record a marketing consent or opt-out on one channel, with where it came from."""
    customer = get_customer(session, actor, customer_id)
    require(actor, CUSTOMERS, Action.EDIT, customer)
    if choice.marketing_consent and choice.opted_out:
        raise ValidationFailed.single(
            "opted_out", "a customer who opted out cannot also consent to marketing"
        )
    values = {"marketing_consent": choice.marketing_consent, "opted_out": choice.opted_out}
    session.execute(
        insert(CustomerConsent)
        .values(
            company_id=actor.company_id,
            id=new_id(),
            customer_id=customer.id,
            channel=channel,
            updated_by=actor.user_id,
            **values,
        )
        .on_conflict_do_update(
            constraint="uq_customer_consents_channel",
            set_={**values, "updated_by": actor.user_id, "updated_at": func.now()},
        )
    )
    session.add(
        ConsentLogEntry(
            company_id=actor.company_id,
            customer_id=customer.id,
            channel=channel,
            source=choice.source,
            note=choice.note,
            actor_kind=actor.kind,
            actor_id=actor.user_id,
            **values,
        )
    )
    session.flush()
    audit.record(
        session,
        actor,
        "customer.consent_changed",
        "customer",
        customer.id,
        after={"channel": channel, "source": choice.source, **values},
    )
    consent = session.scalar(
        select(CustomerConsent)
        .where(
            CustomerConsent.company_id == actor.company_id,
            CustomerConsent.customer_id == customer.id,
            CustomerConsent.channel == channel,
        )
        .execution_options(populate_existing=True)
    )
    assert consent is not None
    return consent


# ----- erasure -----------------------------------------------------------------------
def request_erasure(
    session: Session, actor: Actor, customer_id: uuid.UUID, draft: ErasureRequestIn
) -> ErasureRequest:
    """Log a data subject's erasure request with who, why, and the 30-day answer deadline."""
    customer = get_customer(session, actor, customer_id, include_deleted=True)
    require(actor, CUSTOMERS, Action.EDIT, customer)
    received = datetime.now(UTC)
    request = ErasureRequest(
        company_id=actor.company_id,
        customer_id=customer.id,
        reason=draft.reason,
        requested_by=draft.requested_by,
        received_at=received,
        deadline_at=received + ANSWER_WITHIN,
        recorded_by=actor.user_id,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor,
        "customer.erasure_requested",
        "customer",
        customer.id,
        after={"request_id": request.id, "deadline_at": request.deadline_at},
    )
    return request


def get_erasure_request(session: Session, actor: Actor, request_id: uuid.UUID) -> ErasureRequest:
    require(actor, CUSTOMERS, Action.VIEW)
    request = session.get(ErasureRequest, (actor.company_id, request_id))
    if request is None:
        raise NotFound("erasure request", request_id)
    return request


def list_erasure_requests(
    session: Session,
    actor: Actor,
    *,
    status: ErasureStatus | None = None,
    overdue: bool = False,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[ErasureRequest]:
    """Requests by deadline, most urgent first; `overdue` keeps pending ones past it."""
    require(actor, CUSTOMERS, Action.VIEW)
    query = select(ErasureRequest).where(ErasureRequest.company_id == actor.company_id)
    if overdue:
        query = query.where(
            ErasureRequest.status == ErasureStatus.PENDING,
            ErasureRequest.deadline_at < func.now(),
        )
    elif status is not None:
        query = query.where(ErasureRequest.status == status)
    query = query.order_by(ErasureRequest.deadline_at, ErasureRequest.id).limit(limit + 1)
    if cursor:
        deadline, last_id = decode_cursor(cursor, 2)
        query = query.where(
            tuple_(ErasureRequest.deadline_at, ErasureRequest.id)
            > tuple_(literal(datetime.fromisoformat(deadline)), literal(uuid.UUID(last_id)))
        )
    rows = list(session.scalars(query))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.deadline_at.isoformat(), str(last.id)])
    return Page(rows[:limit], next_cursor)


PERSONAL_FIELDS = (
    "name_ar",
    "business_name",
    "business_name_ar",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "emirate",
    "postal_code",
    "address_ar",
    "date_of_birth",
    "thai_tax_id",
    "external_ref",
    "notes",
)
# An organization's TRN identifies a business, and tax invoices must keep showing it.
INDIVIDUAL_ONLY_FIELDS = ("trn",)
CONVERSATION_PERSONAL_FIELDS = (
    "channel_user",
    "contact_name",
    "contact_email",
    "contact_phone",
    "contact_address",
    "contact_trn",
    "contact_external_ref",
    "match_email",
    "match_phone",
    "match_trn",
    "match_name",
    "summary",
)


def _anonymise_customer(customer: Customer, pseudonym: str) -> list[str]:
    fields = list(PERSONAL_FIELDS)
    if customer.kind is CustomerKind.INDIVIDUAL:
        fields += INDIVIDUAL_ONLY_FIELDS
    cleared = [name for name in fields if getattr(customer, name) is not None]
    for name in fields:
        setattr(customer, name, None)
    customer.name = pseudonym
    customer.secondary_emails, customer.secondary_phones, customer.tags = [], [], []
    customer.erased_at, customer.pseudonym, customer.is_active = datetime.now(UTC), pseudonym, False
    return ["name", *cleared]


def _anonymise_conversations(session: Session, actor: Actor, customer_id: uuid.UUID) -> int:
    result = session.execute(
        update(Conversation)
        .where(Conversation.company_id == actor.company_id, Conversation.customer_id == customer_id)
        .values(
            **dict.fromkeys(CONVERSATION_PERSONAL_FIELDS),
            messages=[],
            anonymised_at=func.now(),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _anonymise_converted_contacts(session: Session, actor: Actor, customer: Customer) -> int:
    result = session.execute(
        update(Contact)
        .where(
            Contact.company_id == actor.company_id,
            Contact.converted_from_customer_id == customer.id,
        )
        .values(name=customer.name, name_ar=None, email=None, phone=None, description=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def carry_out_erasure(session: Session, actor: Actor, request_id: uuid.UUID) -> ErasureRequest:
    """Anonymise the customer, their conversations and audit snapshots; keep the pseudonymised
    row (and id) that invoices and other legally kept records join on."""
    request = get_erasure_request(session, actor, request_id)
    if request.status is not ErasureStatus.PENDING:
        raise Conflict(f"erasure request {request.id} is already {request.status}")
    if request.customer_id is None:
        raise Conflict(f"the customer of erasure request {request.id} no longer exists")
    customer = get_customer(session, actor, request.customer_id, include_deleted=True)
    require(actor, CUSTOMERS, Action.DELETE, customer)
    pseudonym = f"erased-{request.id.hex[:12]}"
    cleared = _anonymise_customer(customer, pseudonym)
    session.flush()
    outcome = {
        "customer_fields_cleared": cleared,
        "conversations_anonymised": _anonymise_conversations(session, actor, customer.id),
        "contacts_anonymised": _anonymise_converted_contacts(session, actor, customer),
        "audit_entries_redacted": session.scalar(
            text("SELECT majlis_redact_audit('customer', :id)"), {"id": customer.id}
        ),
        "kept": [
            "customer id and pseudonym (records the law requires to keep join on them)",
            "consent log (proof of what the person agreed to)",
            "interactions (who accessed the record, without personal data)",
        ],
    }
    request.status, request.pseudonym, request.outcome = ErasureStatus.COMPLETED, pseudonym, outcome
    request.completed_at, request.completed_by = datetime.now(UTC), actor.user_id
    session.flush()
    audit.record(
        session,
        actor,
        "customer.erased",
        "customer",
        customer.id,
        after={"request_id": request.id, "pseudonym": pseudonym},
    )
    return request


# ----- retention ---------------------------------------------------------------------
def retention_days(session: Session, actor: Actor) -> int:
    require(actor, COMPANY_SETTINGS, Action.VIEW)
    return get_company(session, actor.company_id).retention_days


def set_retention_days(session: Session, actor: Actor, days: int) -> int:
    """How long soft-deleted customers and old conversations are kept before the purge."""
    require(actor, COMPANY_SETTINGS, Action.ADMINISTER)
    company = get_company(session, actor.company_id)
    before = company.retention_days
    company.retention_days = days
    session.flush()
    audit.record(
        session,
        actor,
        "company.retention_changed",
        "company",
        company.id,
        before={"retention_days": before},
        after={"retention_days": days},
    )
    return days


@dataclass(frozen=True)
class PurgeResult:
    customers_purged: int
    conversations_purged: int
    cutoff: datetime


_PURGE_OLD_CONVERSATIONS = text(
    """
    WITH gone AS (
        DELETE FROM conversations
         WHERE company_id = :company AND started_at < :cutoff
        RETURNING customer_id),
    per_customer AS (
        SELECT customer_id, count(*) AS n FROM gone
         WHERE customer_id IS NOT NULL GROUP BY customer_id),
    recounted AS (
        UPDATE customers c SET conversation_count = greatest(c.conversation_count - p.n, 0)
          FROM per_customer p WHERE c.company_id = :company AND c.id = p.customer_id)
    SELECT count(*) FROM gone
    """
)


def _purge_customer(session: Session, actor: Actor, customer: Customer) -> bool:
    """Hard-delete one expired customer with its contacts and projects; False when records
    kept by other domains (invoices, ...) still reference it."""
    savepoint = session.begin_nested()
    try:
        for model in (Project, Contact):
            session.execute(
                delete(model).where(
                    model.company_id == actor.company_id, model.organization_id == customer.id
                )
            )
        session.execute(
            update(Contact)
            .where(
                Contact.company_id == actor.company_id,
                Contact.converted_from_customer_id == customer.id,
            )
            .values(converted_from_customer_id=None)
        )
        session.delete(customer)
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def purge_expired(session: Session, actor: Actor, *, now: datetime | None = None) -> PurgeResult:
    """The retention job: remove what is past the company's retention period, audited."""
    require(actor, COMPANY_SETTINGS, Action.ADMINISTER)
    company: Company = get_company(session, actor.company_id)
    cutoff = (now or datetime.now(UTC)) - timedelta(days=company.retention_days)
    conversations = int(
        session.execute(
            _PURGE_OLD_CONVERSATIONS, {"company": actor.company_id, "cutoff": cutoff}
        ).scalar_one()
    )
    expired = _rows(
        session,
        select(Customer).where(
            Customer.company_id == actor.company_id,
            Customer.deleted_at.is_not(None),
            Customer.deleted_at < cutoff,
        ),
    )
    purged = 0
    for customer in expired:
        customer_id = customer.id
        if _purge_customer(session, actor, customer):
            purged += 1
            audit.record(
                session, actor, "customer.purged", "customer", customer_id, after={"cutoff": cutoff}
            )
    audit.record(
        session,
        actor,
        "retention.purged",
        "company",
        actor.company_id,
        after={
            "cutoff": cutoff,
            "customers_purged": purged,
            "customers_kept_for_references": len(expired) - purged,
            "conversations_purged": conversations,
        },
    )
    return PurgeResult(purged, conversations, cutoff)
