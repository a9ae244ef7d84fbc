"""Bilingual demo data: a UAE trading company and a Thai clinic, each with real-looking customers.

Loading is idempotent: a second run finds the demo companies by their owner's
membership, adds nothing twice, and prints a fresh API token.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from faker import Faker
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from majlis.accounts import service as accounts
from majlis.accounts.models import User
from majlis.analytics.service import refresh_summary
from majlis.conversations import demo as conversations_demo
from majlis.core.db import tenant_session
from majlis.core.permissions import Actor, Role
from majlis.customers.models import Customer
from majlis.customers.schemas import CustomerCreate
from majlis.customers.service import create_customer
from majlis.journeys import demo as journeys_demo
from majlis.organizations import demo as organizations_demo
from majlis.receivables import demo as receivables_demo

DEMO_PASSWORD = "majlis-demo-2026"
GENERATED_PER_COMPANY = 120


@dataclass(frozen=True)
class DemoCompany:
    name: str
    name_ar: str
    country: str
    owner_email: str
    sales_email: str
    faker_locales: tuple[str, ...]
    customers: tuple[dict[str, object], ...]


AL_NOOR = DemoCompany(
    name="Al Noor Trading LLC",
    name_ar="شركة النور للتجارة ذ.م.م",
    country="AE",
    owner_email="owner@alnoor.example",
    sales_email="sales@alnoor.example",
    faker_locales=("en_US", "ar_AA"),
    customers=(
        {
            "kind": "organization",
            "name": "Emirates Trading Company",
            "name_ar": "شركة الإمارات للتجارة",
            "business_name": "Emirates Trading LLC",
            "business_name_ar": "شركة الإمارات للتجارة ذ.م.م",
            "trn": "100123456789012",
            "email": "accounts@emirates-trading.example",
            "phone": "+971 4 555 0101",
            "business_type": "LLC",
            "city": "Dubai",
            "emirate": "Dubai",
            "country": "AE",
            "preferred_language": "ar",
            "tags": ["wholesale", "vip"],
        },
        {
            "kind": "individual",
            "name": "Mohammed Al Mansouri",
            "name_ar": "محمد المنصوري",
            "email": "m.almansouri@example.ae",
            "phone": "050 123 4567",
            "city": "Abu Dhabi",
            "emirate": "Abu Dhabi",
            "country": "AE",
            "preferred_language": "ar",
            "tags": ["retail"],
        },
        {
            "kind": "organization",
            "name": "Gulf Star Free Zone Co",
            "name_ar": "نجمة الخليج",
            "business_type": "FREE_ZONE",
            "trn": "100987654321098",
            "phone": "+971 6 555 0199",
            "city": "Sharjah",
            "emirate": "Sharjah",
            "country": "AE",
            "tags": ["free-zone"],
        },
        {
            "kind": "individual",
            "name": "Fatima Hassan",
            "name_ar": "فاطمة حسن",
            "email": "fatima.hassan@example.ae",
            "phone": "0559876543",
            "city": "Dubai",
            "emirate": "Dubai",
            "country": "AE",
            "preferred_language": "ar",
        },
        {
            "kind": "individual",
            "name": "Aisha Rahman",
            "name_ar": "عائشة الرحمن",
            "email": "aisha@example.com",
            "phone": "+971 52 222 3344",
            "city": "Ajman",
            "emirate": "Ajman",
            "country": "AE",
            "preferred_language": "en",
        },
    ),
)

SIAM_SMILE = DemoCompany(
    name="Siam Smile Dental Clinic",
    name_ar="عيادة سيام سمايل",
    country="TH",
    owner_email="owner@siamsmile.example",
    sales_email="reception@siamsmile.example",
    faker_locales=("th_TH", "en_US"),
    customers=(
        {
            "kind": "individual",
            "name": "สมชาย ใจดี",
            "email": "somchai@example.co.th",
            "phone": "081 234 5678",
            "city": "Bangkok",
            "country": "TH",
            "preferred_language": "th",
            "thai_tax_id": "3100600445635",
            "tags": ["implant"],
        },
        {
            "kind": "individual",
            "name": "Nattaya Srisuk",
            "email": "nattaya@example.co.th",
            "phone": "+66 89 555 1234",
            "city": "Chiang Mai",
            "country": "TH",
            "preferred_language": "th",
        },
        {
            "kind": "organization",
            "name": "Bangkok Wellness Co., Ltd.",
            "phone": "02 123 4567",
            "city": "Bangkok",
            "country": "TH",
            "business_type": "PRIVATE_SHAREHOLDING_COMPANY",
            "tags": ["corporate"],
        },
    ),
)


def _random_phone(rng: random.Random, country: str) -> str:
    if country == "AE":
        return f"+9715{rng.choice('024568')}{rng.randrange(10**7):07d}"
    return f"+66{rng.choice(['81', '82', '84', '86', '89', '91', '95'])}{rng.randrange(10**7):07d}"


def generated_customers(company: DemoCompany, count: int, seed: int) -> Iterator[dict[str, object]]:
    """Customers with names from Faker's locales for the company's languages."""
    rng = random.Random(seed)
    fakers = [Faker(locale) for locale in company.faker_locales]
    for index, fake in enumerate(fakers):
        fake.seed_instance(seed + index)
    english = Faker("en_US")
    english.seed_instance(seed)
    for number in range(count):
        fake = fakers[number % len(fakers)]
        draft: dict[str, object] = {
            "kind": "individual",
            "name": fake.name(),
            "phone": _random_phone(rng, company.country),
            "city": rng.choice(
                ["Dubai", "Abu Dhabi", "Sharjah"]
                if company.country == "AE"
                else ["Bangkok", "Phuket"]
            ),
            "country": company.country,
            "external_ref": f"LEGACY-{seed}-{number:05d}",
            "source": rng.choice(["manual", "import", "chat"]),
        }
        if rng.random() < 0.7:
            draft["email"] = f"{english.user_name()}{number}@example.com"
        if company.country == "AE" and rng.random() < 0.3:
            draft["kind"] = "organization"
            draft["business_type"] = rng.choice(
                ["LLC", "FREE_ZONE", "SOLE_PROPRIETORSHIP", "BRANCH"]
            )
            draft["trn"] = f"100{rng.randrange(10**12):012d}"
        yield draft


def _find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email))


def _existing_company(engine: Engine, owner_email: str, name: str) -> Actor | None:
    with Session(engine) as session, session.begin():
        owner = _find_user(session, owner_email)
        if owner is None:
            return None
        for company_id, company_name, role in accounts.user_companies(session, owner.id):
            if company_name == name:
                return Actor(company_id=company_id, role=role, user_id=owner.id)
    return None


# Each domain adds its own demo story (organizations, chats, invoices, journeys).
DOMAIN_DEMOS = (organizations_demo, conversations_demo, receivables_demo, journeys_demo)


def _create_company(engine: Engine, company: DemoCompany, seed: int) -> tuple[Actor, list[str]]:
    with Session(engine) as session, session.begin():
        tenant = accounts.create_company(
            session, company.name, country=company.country, name_ar=company.name_ar
        )
        system = Actor.system(tenant.id)
        owner = accounts.add_user(
            session, system, company.owner_email, Role.OWNER, password=DEMO_PASSWORD
        )
        accounts.add_user(session, system, company.sales_email, Role.SALES, password=DEMO_PASSWORD)
        actor = Actor(company_id=tenant.id, role=Role.OWNER, user_id=owner.id)
        for draft in (
            *company.customers,
            *generated_customers(company, GENERATED_PER_COMPANY, seed),
        ):
            create_customer(session, actor, CustomerCreate.model_validate(draft))
        stories = [line for demo in DOMAIN_DEMOS for line in demo.load_demo_data(session, actor)]
    return actor, stories


def load_demo(engine: Engine) -> list[str]:
    """Create (or find) the demo companies; return the lines to print for the user."""
    lines = []
    for seed, company in enumerate((AL_NOOR, SIAM_SMILE), start=1):
        actor = _existing_company(engine, company.owner_email, company.name)
        stories = ["(demo data already loaded)"]
        if actor is None:
            actor, stories = _create_company(engine, company, seed)
        with tenant_session(engine, actor.company_id, actor.user_id) as session:
            count = session.scalar(
                select(func.count())
                .select_from(Customer)
                .where(Customer.company_id == actor.company_id)
            )
            owner = _find_user(session, company.owner_email)
            assert owner is not None
            _, token = accounts.issue_token(session, actor, owner, "demo")
        lines += [
            f"{company.name} ({company.country}): company id {actor.company_id}, {count} customers",
            f"  sign in: {company.owner_email} / {DEMO_PASSWORD}",
            f"  API token: {token}",
            *(f"  {line}" for line in stories),
        ]
    # The dashboard's figures come from the analytics summaries, which the worker refreshes
    # every 15 minutes: refreshed here, the demo's dashboard is full from the first visit.
    with Session(engine) as session, session.begin():
        refresh_summary(session)
    return lines
