"""Shapes of the customers HTTP API (validation that does not depend on the company)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.th import tin as thai_tin

from majlis.core.i18n import ascii_digits, strip_invisibles
from majlis.customers.models import BusinessType, CustomerKind, CustomerSource, Language
from majlis.dedupe.schemas import DuplicateMatchOut

_SEPARATORS = re.compile(r"[\s\-./]")


def clean_text(value: str) -> str:
    return strip_invisibles(value).strip()


def required_text(value: str) -> str:
    value = clean_text(value)
    if not value:
        raise ValueError("must not be empty")
    return value


def valid_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc


def valid_trn(value: str) -> str:
    """UAE Tax Registration Number: exactly 15 digits once Arabic-Indic digits and separators go."""
    digits = _SEPARATORS.sub("", ascii_digits(value))
    if not re.fullmatch(r"[0-9]{15}", digits):
        raise ValueError("a TRN is exactly 15 digits")
    return digits


def valid_thai_tax_id(value: str) -> str:
    try:
        return str(thai_tin.validate(_SEPARATORS.sub("", ascii_digits(value))))
    except StdnumError as exc:
        raise ValueError(f"not a valid Thai tax id: {exc}") from exc


def not_in_future(value: date) -> date:
    if value > datetime.now(UTC).date():
        raise ValueError("must not be in the future")
    return value


def upper_code(value: str) -> str:
    return value.upper()


ShortText = Annotated[str, StringConstraints(max_length=300), AfterValidator(clean_text)]
Name = Annotated[str, StringConstraints(max_length=300), AfterValidator(required_text)]
# Free text keeps its line breaks but, like every text field, loses the invisible and
# bidi-override characters that could make it display as something else.
LongText = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(clean_text)]
PostalCode = Annotated[str, StringConstraints(max_length=20), AfterValidator(clean_text)]
Reference = Annotated[str, StringConstraints(max_length=100), AfterValidator(required_text)]
Email = Annotated[str, AfterValidator(valid_email)]
Trn = Annotated[str, AfterValidator(valid_trn)]
ThaiTaxId = Annotated[str, AfterValidator(valid_thai_tax_id)]
CountryCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2}$"), AfterValidator(upper_code)
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$"), AfterValidator(upper_code)]
Tag = Annotated[str, StringConstraints(max_length=50), AfterValidator(required_text)]
BirthDate = Annotated[date, AfterValidator(not_in_future)]
RiskScore = Annotated[Decimal, Field(ge=0, le=10, max_digits=3, decimal_places=1)]


# Sort orders of the customer list; a leading "-" means newest/last first.
CustomerSort = Literal[
    "name", "-name", "created_at", "-created_at", "last_seen_at", "-last_seen_at"
]


class CustomerFields(BaseModel):
    """Every writable field; all optional so PATCH can reuse it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: CustomerKind | None = None
    name: Name | None = None
    name_ar: ShortText | None = None
    business_name: ShortText | None = None
    business_name_ar: ShortText | None = None
    email: Email | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    secondary_emails: list[Email] | None = Field(default=None, max_length=10)
    secondary_phones: list[Annotated[str, StringConstraints(max_length=40)]] | None = Field(
        default=None, max_length=10
    )
    address_line1: ShortText | None = None
    address_line2: ShortText | None = None
    city: ShortText | None = None
    emirate: ShortText | None = None
    postal_code: PostalCode | None = None
    country: CountryCode | None = None
    address_ar: ShortText | None = None
    date_of_birth: BirthDate | None = None
    trn: Trn | None = None
    thai_tax_id: ThaiTaxId | None = None
    business_type: BusinessType | None = None
    preferred_language: Language | None = None
    risk_score: RiskScore | None = None
    currency: Currency | None = None
    is_active: bool | None = None
    source: CustomerSource | None = None
    external_ref: Reference | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    notes: LongText | None = None
    owner_id: uuid.UUID | None = None


class CustomerCreate(CustomerFields):
    name: Name
    kind: CustomerKind = CustomerKind.INDIVIDUAL
    # dedupe (issue 5): not a column, so excluded from model_dump().
    block_on_duplicate: bool = Field(
        default=False,
        exclude=True,
        description="Refuse (409, nothing written) when a likely duplicate exists",
    )


class CustomerUpdate(CustomerFields):
    """PATCH body: only the fields sent are changed; an explicit null clears a field."""


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: CustomerKind
    name: str
    name_ar: str | None
    business_name: str | None
    business_name_ar: str | None
    email: str | None
    phone: str | None
    secondary_emails: list[str]
    secondary_phones: list[str]
    address_line1: str | None
    address_line2: str | None
    city: str | None
    emirate: str | None
    postal_code: str | None
    country: str | None
    address_ar: str | None
    date_of_birth: date | None
    trn: str | None
    thai_tax_id: str | None
    business_type: BusinessType | None
    preferred_language: Language
    risk_score: Decimal | None
    outstanding_balance: Decimal
    currency: str
    is_active: bool
    source: CustomerSource
    external_ref: str | None
    tags: list[str]
    notes: str | None
    owner_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None
    deleted_at: datetime | None
    version: int


class CustomerWritten(CustomerOut):
    warnings: list[str] = []
    duplicate_warnings: list[DuplicateMatchOut] = []  # dedupe (issue 5): create only


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    next_cursor: str | None


class HistoryEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    occurred_at: datetime
    actor_kind: str
    actor_id: uuid.UUID | None
    action: str
    before: dict[str, object] | None
    after: dict[str, object] | None
    request_id: str | None


class HistoryPage(BaseModel):
    items: list[HistoryEntryOut]
    next_cursor: str | None
