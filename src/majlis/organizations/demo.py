"""Demo data: an organization with its people and a project (idempotent)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from majlis.core.permissions import Actor
from majlis.customers.models import Customer, CustomerKind
from majlis.customers.schemas import CustomerCreate
from majlis.customers.service import create_customer
from majlis.organizations import service
from majlis.organizations.models import ContactPointRole, ProjectStatus
from majlis.organizations.schemas import ContactCreate, ContactPointIn, ProjectCreate

DEMO_REF = "demo-org-gulf-builders"
PEOPLE = (
    ContactCreate(
        name="Mona Al Suwaidi",
        name_ar="منى السويدي",
        email="mona@gulf-builders.example",
        phone="+971 50 400 1001",
        role_title="Chief Financial Officer",
        is_primary_contact=True,
    ),
    ContactCreate(
        name="Salem Al Ketbi",
        name_ar="سالم الكتبي",
        email="salem@gulf-builders.example",
        phone="+971 50 400 1002",
        role_title="Site Engineer",
    ),
)


def load_demo_data(session: Session, actor: Actor) -> list[str]:
    """Gulf Builders LLC with two contacts and a fit-out project; nothing twice."""
    existing = session.scalar(
        select(Customer).where(
            Customer.company_id == actor.company_id, Customer.external_ref == DEMO_REF
        )
    )
    if existing is not None:
        return [f"organization {existing.name} already loaded"]
    organization, _ = create_customer(
        session,
        actor,
        CustomerCreate(
            kind=CustomerKind.ORGANIZATION,
            name="Gulf Builders LLC",
            name_ar="شركة بناة الخليج ذ.م.م",
            external_ref=DEMO_REF,
            email="accounts@gulf-builders.example",
            city="Dubai",
            country="AE",
        ),
    )
    mona, salem = (service.create_contact(session, actor, organization.id, p) for p in PEOPLE)
    project = service.create_project(
        session,
        actor,
        organization.id,
        ProjectCreate(
            name="Jebel Ali warehouse fit-out",
            status=ProjectStatus.ACTIVE,
            value=Decimal("1250000.00"),
            start_date=date(2026, 1, 15),
            end_date=date(2026, 9, 30),
        ),
    )
    for person, role, primary in (
        (mona, ContactPointRole.BILLING, True),
        (salem, ContactPointRole.TECHNICAL, False),
    ):
        service.add_contact_point(
            session,
            actor,
            project.id,
            ContactPointIn(contact_id=person.id, role=role, is_primary=primary),
        )
    return [
        f"organization {organization.name} ({organization.id}) with 2 contacts"
        f" and project '{project.name}'"
    ]
