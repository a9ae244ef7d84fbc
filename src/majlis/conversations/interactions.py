"""Interactions with a customer record: viewed, edited, loaded into chat, exported.

Recording is one INSERT in the request's own transaction — no read, no extra commit —
so the hot read path pays a single statement. Reading a sensitive identifier (TRN,
national/tax id, date of birth) is recorded on the same row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.orm import Session

from majlis.conversations.models import CustomerInteraction, InteractionKind
from majlis.core.ids import new_id
from majlis.core.permissions import Actor
from majlis.customers.models import Customer

SENSITIVE_FIELDS = ("trn", "thai_tax_id", "date_of_birth")


def record_interaction(
    session: Session,
    actor: Actor,
    customer_id: uuid.UUID,
    kind: InteractionKind,
    sensitive_fields: Sequence[str] = (),
) -> uuid.UUID:
    """Append one interaction row in the caller's transaction; returns its id."""
    interaction_id = new_id()
    session.execute(
        insert(CustomerInteraction).values(
            company_id=actor.company_id,
            id=interaction_id,
            customer_id=customer_id,
            kind=kind,
            actor_kind=actor.kind,
            actor_id=actor.user_id,
            sensitive_fields=list(sensitive_fields),
        )
    )
    return interaction_id


def sensitive_fields_of(customer: Customer) -> list[str]:
    """The sensitive identifiers this customer actually has (and a reader therefore saw)."""
    return [name for name in SENSITIVE_FIELDS if getattr(customer, name) is not None]


def record_customer_view(session: Session, actor: Actor, customer: Customer) -> None:
    """A customer was shown to `actor`, with whichever sensitive identifiers it holds."""
    record_interaction(
        session, actor, customer.id, InteractionKind.VIEWED, sensitive_fields_of(customer)
    )
