"""Realistic bilingual customers for `majlis bench`, loaded fast with COPY.

Names come from Faker's English, Arabic and Thai locales (drawn once into
pools, then combined, so a million rows take seconds, not minutes); phones are
UAE mobiles, most customers have an e-mail, a share have a TRN or an ERP
reference; company sizes are skewed; a share of rows are near-duplicates of
earlier ones (a typo, a different hamza or taa marbuta, another phone format).
The companies and their users are created through the normal services; only
the bulk rows go in through the admin engine's COPY.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from faker import Faker
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from majlis.accounts import service as accounts
from majlis.accounts.models import User
from majlis.core.db import get_engine, tenant_session
from majlis.core.ids import new_id
from majlis.core.permissions import Actor, Role

POOL_SIZE = 3000
NEAR_DUPLICATE_SHARE = 0.03
BUSINESS_TYPES = ("LLC", "FREE_ZONE", "SOLE_PROPRIETORSHIP", "PARTNERSHIP", "BRANCH", None)
EMIRATES = (
    ("Dubai", "Deira"),
    ("Dubai", "Jumeirah"),
    ("Abu Dhabi", "Khalifa City"),
    ("Sharjah", "Al Nahda"),
    ("Ajman", "Al Nuaimiya"),
    ("Ras Al Khaimah", "Al Nakheel"),
)
COLUMNS = (
    "company_id",
    "id",
    "kind",
    "name",
    "name_ar",
    "business_name",
    "email",
    "phone",
    "trn",
    "external_ref",
    "city",
    "emirate",
    "business_type",
    "source",
    "risk_score",
    "outstanding_balance",
    "tags",
    "is_active",
    "created_at",
    "last_seen_at",
)
_ARABIC_VARIANTS = str.maketrans({"أ": "ا", "إ": "ا", "ة": "ه", "ى": "ي"})


@dataclass(frozen=True)
class BenchCompany:
    company_id: uuid.UUID
    token: str
    user_id: uuid.UUID


def create_company(name: str) -> BenchCompany:
    """A company with an owner and an API token, through the normal services."""
    engine = get_engine("app")
    with Session(engine) as session, session.begin():
        company_id = accounts.create_company(session, name).id
    with tenant_session(engine, company_id) as session:
        system = Actor.system(company_id)
        owner = accounts.add_user(
            session, system, f"bench-{company_id.hex[:12]}@bench.example", Role.OWNER
        )
        _, token = accounts.issue_token(session, system, owner, "bench")
    return BenchCompany(company_id, token, owner.id)


@dataclass
class NamePools:
    english: list[tuple[str, str]]
    arabic: list[tuple[str, str]]
    thai: list[tuple[str, str]]
    companies: list[str]

    @classmethod
    def draw(cls, seed: int) -> NamePools:
        def people(locale: str) -> list[tuple[str, str]]:
            faker = Faker(locale)
            faker.seed_instance(seed)
            return [(faker.first_name(), faker.last_name()) for _ in range(POOL_SIZE)]

        faker = Faker("en_US")
        faker.seed_instance(seed)
        return cls(
            english=people("en_US"),
            arabic=people("ar_AA"),
            thai=people("th_TH"),
            companies=[faker.company() for _ in range(POOL_SIZE)],
        )


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1 :] if rng.random() < 0.5 else text[:i] + text[i] + text[i:]


class CustomerRows:
    """An endless, seeded stream of customer rows for one company."""

    def __init__(self, company_id: uuid.UUID, seed: int, pools: NamePools) -> None:
        self.company_id = company_id
        self.rng = random.Random(seed)
        self.pools = pools
        self.recent: list[list[object]] = []
        self.now = datetime.now(UTC)
        self.serial = seed * 10_000_000

    def _fresh(self) -> list[object]:
        rng, pools = self.rng, self.pools
        self.serial += 1
        first, last = rng.choice(pools.english)
        ar_first, ar_last = rng.choice(pools.arabic)
        script = rng.random()
        if script < 0.15:
            th_first, th_last = rng.choice(pools.thai)
            name, name_ar = f"{th_first} {th_last}", None
        else:
            name, name_ar = f"{first} {last}", f"{ar_first} {ar_last}" if script < 0.75 else None
        organization = rng.random() < 0.3
        emirate, city = rng.choice(EMIRATES)
        created = self.now - timedelta(seconds=rng.randrange(0, 730 * 86400))
        seen = created + timedelta(days=rng.randrange(0, 400)) if rng.random() < 0.7 else None
        handle = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        return [
            self.company_id,
            new_id(),
            "organization" if organization else "individual",
            name,
            name_ar,
            rng.choice(pools.companies) if organization else None,
            f"{handle}{self.serial}@example.ae" if rng.random() < 0.85 else None,
            f"+9715{rng.choice('02456')}{self.serial % 10_000_000:07d}",
            f"100{self.serial:012d}" if rng.random() < 0.4 else None,
            f"ERP-{self.serial}" if rng.random() < 0.3 else None,
            city,
            emirate,
            rng.choice(BUSINESS_TYPES) if organization else None,
            rng.choice(("manual", "manual", "import", "chat")),
            round(rng.uniform(0, 10), 1) if rng.random() < 0.6 else None,
            round(rng.uniform(0, 50_000), 2) if rng.random() < 0.5 else 0,
            "{" + ",".join(rng.sample(["vip", "wholesale", "retail", "clinic"], 1)) + "}",
            rng.random() > 0.1,
            created,
            seen if seen and seen < self.now else None,
        ]

    def _near_duplicate(self) -> list[object]:
        """A copy of a recent row with a typo or another Arabic spelling, and new identifiers."""
        row = list(self.rng.choice(self.recent))
        row[1] = new_id()
        row[3] = _typo(str(row[3]), self.rng)
        if row[4]:
            row[4] = str(row[4]).translate(_ARABIC_VARIANTS)
        row[6], row[8], row[9] = None, None, None  # e-mail/TRN/reference not repeated
        return row

    def __iter__(self) -> Iterator[list[object]]:
        while True:
            if self.recent and self.rng.random() < NEAR_DUPLICATE_SHARE:
                yield self._near_duplicate()
                continue
            row = self._fresh()
            if len(self.recent) < 5000:
                self.recent.append(row)
            yield row


def copy_customers(engine: Engine, rows: Iterator[list[object]], count: int) -> None:
    """COPY `count` rows into customers through the admin engine, in one transaction.

    Row-level security is forced even for the owner and COPY FROM refuses RLS
    tables, so the rows are copied into a temporary table and moved with one
    INSERT … SELECT (under the owner's maintenance policy).
    """
    columns = ", ".join(COLUMNS)
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute("SET LOCAL statement_timeout = 0")  # a bulk load, not a request
            cursor.execute(
                f"CREATE TEMP TABLE bench_rows ON COMMIT DROP AS"
                f" SELECT {columns} FROM customers WITH NO DATA"
            )
            with cursor.copy(f"COPY bench_rows ({columns}) FROM STDIN") as copy:
                for _, row in zip(range(count), rows, strict=False):
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO customers ({columns}) SELECT {columns} FROM bench_rows")
        connection.commit()
    finally:
        connection.close()


def company_sizes(scale: int) -> list[int]:
    """The measured company first, then a skewed tail of smaller tenants (about scale/4)."""
    return [scale, scale // 8, scale // 16, scale // 32, scale // 64]


def load_bench_data(scale: int, seed: int = 4, reuse: bool = False) -> list[BenchCompany]:
    """Create the bench companies and COPY their customers; returns the measured one first.

    With `reuse`, the companies an earlier load of the same scale left in this
    database are measured again (with fresh tokens), when they are all there:
    loading a million customers takes a quarter of an hour.
    """
    sizes = company_sizes(scale)
    if reuse and (found := _earlier_load(sizes)):
        return found
    pools = NamePools.draw(seed)
    admin = get_engine("admin")
    companies = []
    for index, size in enumerate(sizes):
        company = create_company(f"{_BENCH_NAME.format(index=index)} {uuid.uuid4().hex[:6]}")
        copy_customers(admin, iter(CustomerRows(company.company_id, seed + index, pools)), size)
        companies.append(company)
    with admin.begin() as conn:
        conn.exec_driver_sql("ANALYZE customers")
        conn.exec_driver_sql("SELECT refresh_customer_analytics()")
    return companies


_BENCH_NAME = "Bench {index}"


def _earlier_load(sizes: list[int]) -> list[BenchCompany] | None:
    """The newest bench company of each size; None if one is missing."""
    found = []
    for index, size in enumerate(sizes):
        company = earlier_company(_BENCH_NAME.format(index=index), size)
        if company is None:
            return None
        found.append(company)
    return found


def earlier_company(name: str, size: int) -> BenchCompany | None:
    """The newest company named `name` + suffix holding `size` customers, with a new owner token.

    A size matches up to 1 % more customers: the create scenarios add a few hundred.
    """
    with get_engine("admin").connect() as conn:
        row = conn.execute(
            text(
                "SELECT co.id, m.user_id FROM companies co"
                " JOIN memberships m ON m.company_id = co.id AND m.role = 'owner'"
                " WHERE co.name LIKE :name"
                "   AND (SELECT count(*) FROM customers c WHERE c.company_id = co.id)"
                "       BETWEEN :size AND :size * 1.01"
                " ORDER BY co.id DESC LIMIT 1"
            ),
            {"name": name + " %", "size": size},
        ).first()
    return None if row is None else _with_new_token(*row)


def _with_new_token(company_id: uuid.UUID, owner_id: uuid.UUID) -> BenchCompany:
    with tenant_session(get_engine("app"), company_id) as session:
        owner = session.get_one(User, owner_id)
        _, token = accounts.issue_token(session, Actor.system(company_id), owner, "bench")
    return BenchCompany(company_id, token, owner_id)
