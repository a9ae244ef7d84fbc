"""Which customer a chat record belongs to: exact identifiers first, then the name.

The rules live once, as SQL conditions over a customer `c` and the record's match
keys `k`, so the online path (`find_customer_for`, one record) and the set-based
bulk sync (thousands of records joined at once) apply exactly the same rules.
`find_customer_for` is the seam for the fuzzy duplicate matcher (`majlis.dedupe`):
anything returning a `CustomerMatch` can replace it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from sqlalchemy import text
from sqlalchemy.orm import Session

from majlis.conversations.schemas import ChannelCustomer
from majlis.core.i18n import normalize_text
from majlis.core.permissions import Actor
from majlis.customers.schemas import valid_email, valid_trn
from majlis.customers.service import normalise_phone

MAX_CANDIDATES = 10
LIVE_CUSTOMER = "c.company_id = :company AND c.deleted_at IS NULL AND c.erased_at IS NULL"
LIVE_CONTACT = "p.company_id = :company AND p.archived_at IS NULL"


@dataclass(frozen=True)
class MatchRule:
    """One rung of the ladder: the key it needs, how sure a hit is, and where to look.

    The key is compared with each expression of `equals` (customer columns or indexed
    expressions) and looked up in each array column of `contains`; `guard` must hold for
    every hit. A rule `via_contacts` compares the key with columns of the organizations'
    live contacts (aliased p) instead, and its candidate is the contact's organization.
    """

    reason: str
    key: str
    confidence: float
    equals: tuple[str, ...]
    contains: tuple[str, ...] = ()
    guard: str = "true"
    via_contacts: bool = False

    def probes(self, keys: str, where: str) -> str:
        """SQL giving (k.seq, candidate id, contact id) for the rows of `keys` (aliased k)
        that pass `where`; the contact id is NULL unless the rule goes through contacts.

        One indexed probe per column: the equality ones join on btree indexes; the array
        ones read only customers that have secondary values (their GIN index cannot serve
        under RLS, the array operators not being leakproof) and unnest them.
        """
        if self.via_contacts:
            return " UNION ALL ".join(
                f"SELECT k.seq, c.id, p.id AS contact_id FROM {keys}"
                f" JOIN contacts p ON {LIVE_CONTACT} AND {expression} = k.{self.key}"
                f" JOIN customers c ON {LIVE_CUSTOMER} AND c.id = p.organization_id"
                f" WHERE {where}"
                for expression in self.equals
            )
        equal = [
            f"SELECT k.seq, c.id, NULL::uuid AS contact_id FROM {keys} JOIN customers c"
            f" ON {LIVE_CUSTOMER} AND {expression} = k.{self.key} AND {self.guard}"
            f" WHERE {where}"
            for expression in self.equals
        ]
        contained = [
            f"SELECT k.seq, c.id, NULL::uuid AS contact_id FROM (SELECT c.*,"
            f" unnest(c.{column}) AS value FROM customers c"
            f" WHERE {LIVE_CUSTOMER} AND c.{column} <> '{{}}') c"
            f" JOIN {keys} ON k.{self.key} = c.value AND {self.guard} WHERE {where}"
            for column in self.contains
        ]
        return " UNION ALL ".join(equal + contained)


# Tried in order; the first rung with any candidate decides (one → link, several → ambiguous).
# A customer's own email or phone outranks the same value on an organization's contact; a
# name match counts only when no identifier on either side contradicts it.
RULES = (
    MatchRule("trn", "trn", 1.0, ("c.trn",)),
    MatchRule("external_ref", "external_ref", 1.0, ("c.external_ref",)),
    MatchRule("email", "email", 0.95, ("c.email",), ("secondary_emails",)),
    MatchRule("phone", "phone", 0.9, ("c.phone",), ("secondary_phones",)),
    MatchRule("contact_email", "email", 0.9, ("p.email",), via_contacts=True),
    MatchRule("contact_phone", "phone", 0.85, ("p.phone",), via_contacts=True),
    MatchRule(
        "name",
        "name",
        0.6,
        ("c.match_name", "c.match_name_ar"),
        guard="(k.email IS NULL OR c.email IS NULL OR c.email = k.email)"
        " AND (k.phone IS NULL OR c.phone IS NULL OR c.phone = k.phone)",
    ),
)


@dataclass(frozen=True)
class MatchKeys:
    """A record's identifiers in the form customers store them (None when absent or invalid)."""

    email: str | None = None
    phone: str | None = None
    trn: str | None = None
    external_ref: str | None = None
    name: str | None = None

    @property
    def is_empty(self) -> bool:
        return not any((self.email, self.phone, self.trn, self.external_ref, self.name))


@dataclass(frozen=True)
class CustomerMatch:
    customer_id: uuid.UUID | None
    confidence: float
    reason: str | None
    candidates: tuple[uuid.UUID, ...] = ()
    contact_id: uuid.UUID | None = None  # the organization contact the match went through

    @property
    def is_ambiguous(self) -> bool:
        return len(self.candidates) > 1


NO_MATCH = CustomerMatch(None, 0.0, None)


def _valid_or_none(validate: Callable[[str], str], raw: str | None) -> str | None:
    if not raw or not raw.strip():
        return None
    try:
        return validate(raw)
    except ValueError:
        return None


# A plain ASCII address needs no IDNA work: email_validator would return it lower-cased, so
# it is taken as is (bulk sync reads ~100k of them); anything else goes through the validator.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_%+\-]+(?:\.[a-z0-9_%+\-]+)*@(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+[a-z]{2,63}"
)


def email_key(raw: str | None) -> str | None:
    """The email as customers store it (validated, lower-case), or None when it is not one."""
    candidate = (raw or "").strip().lower()
    if _PLAIN_EMAIL.fullmatch(candidate) and not _special_use(candidate):
        return candidate
    return _valid_or_none(valid_email, raw)


def _special_use(address: str) -> bool:
    domain = address.rpartition("@")[2]
    return any(domain == name or domain.endswith("." + name) for name in SPECIAL_USE_DOMAIN_NAMES)


@lru_cache(maxsize=100_000)
def phone_key(raw: str, region: str) -> str | None:
    """E.164 (cached: the same customer writes from the same number again and again)."""
    return normalise_phone(raw, region) if raw.strip() else None


def match_keys(seen: ChannelCustomer, region: str) -> MatchKeys:
    """Normalise what a channel typed: email as customers store it, phone in E.164, TRN digits."""
    return MatchKeys(
        email=email_key(seen.email),
        phone=phone_key(seen.phone, region) if seen.phone else None,
        trn=_valid_or_none(valid_trn, seen.trn),
        external_ref=(seen.external_ref or "").strip() or None,
        name=normalize_text(seen.name) or None,
    )


_ONE_RECORD = (
    "(SELECT 0 AS seq, CAST(:email AS text) AS email, CAST(:phone AS text) AS phone,"
    " CAST(:trn AS text) AS trn, CAST(:external_ref AS text) AS external_ref,"
    " CAST(:name AS text) AS name) k"
)


def find_customer_for(session: Session, actor: Actor, keys: MatchKeys) -> CustomerMatch:
    """The customer a record belongs to, how sure we are, and why; ambiguous when several fit."""
    params = {"company": actor.company_id, **keys.__dict__}
    for rule in RULES:
        if getattr(keys, rule.key) is None:
            continue
        probes = rule.probes(_ONE_RECORD, "true")
        query = text(
            f"SELECT id, min(contact_id::text)::uuid FROM ({probes}) p"
            f" GROUP BY id ORDER BY id LIMIT {MAX_CANDIDATES}"
        )
        hits = session.execute(query, params).all()
        ids = tuple(customer_id for customer_id, _ in hits)
        if len(ids) == 1:
            return CustomerMatch(ids[0], rule.confidence, rule.reason, ids, hits[0][1])
        if ids:
            return CustomerMatch(None, 0.0, rule.reason, ids)
    return NO_MATCH
