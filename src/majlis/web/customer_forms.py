"""The customer form: which fields, in which wizard step, and how posted text becomes values.

Validation is not repeated here: the values go to the same Pydantic schemas
and service functions as the JSON API, and their field errors come back to
the form next to the field they name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from majlis.core.errors import FieldError
from majlis.customers.models import BusinessType, Customer, CustomerKind, Language
from majlis.customers.schemas import CustomerCreate, CustomerUpdate
from majlis.web.forms import field_errors, text_value
from majlis.web.locale import N_

TAG_SEPARATORS = (",", "،")


@dataclass(frozen=True)
class FormField:
    """One input: its name (the schema field), label, widget and typing hints."""

    name: str
    label: str
    widget: str = "text"  # text, email, tel, select, textarea, tags, checkbox
    choices: tuple[tuple[str, str], ...] = ()
    direction: str = "auto"
    digits: bool = False  # Arabic-Indic and Thai digits are read as ASCII
    autocomplete: str = "off"
    required: bool = False
    hint: str | None = None


KIND_CHOICES = (
    (CustomerKind.INDIVIDUAL.value, N_("Individual")),
    (CustomerKind.ORGANIZATION.value, N_("Organization")),
)
BUSINESS_TYPE_CHOICES = (
    ("", "—"),
    (BusinessType.LLC.value, N_("LLC")),
    (BusinessType.FREE_ZONE.value, N_("Free zone company")),
    (BusinessType.SOLE_PROPRIETORSHIP.value, N_("Sole proprietorship")),
    (BusinessType.PARTNERSHIP.value, N_("Partnership")),
    (BusinessType.BRANCH.value, N_("Branch")),
    (BusinessType.PUBLIC_SHAREHOLDING_COMPANY.value, N_("Public shareholding company")),
    (BusinessType.PRIVATE_SHAREHOLDING_COMPANY.value, N_("Private shareholding company")),
    (BusinessType.GOVERNMENT_ENTITY.value, N_("Government entity")),
)
LANGUAGE_CHOICES = (
    (Language.EN.value, N_("English")),
    (Language.AR.value, N_("Arabic")),
    (Language.TH.value, N_("Thai")),
)

TRN = FormField(
    "trn",
    N_("TRN"),
    direction="ltr",
    digits=True,
    hint=N_("15 digits; Arabic-Indic digits are fine."),
)
THAI_TAX_ID = FormField("thai_tax_id", N_("Thai tax ID"), direction="ltr", digits=True)


def basic_fields(country: str) -> tuple[FormField, ...]:
    """Step 1 (and the top of the profile form); the tax id field follows the company's country."""
    return (
        FormField("kind", N_("Type"), widget="select", choices=KIND_CHOICES),
        FormField("name", N_("Name"), required=True, autocomplete="name"),
        FormField("name_ar", N_("Name in Arabic"), direction="rtl"),
        FormField("business_name", N_("Business name"), autocomplete="organization"),
        FormField("business_name_ar", N_("Business name in Arabic"), direction="rtl"),
        FormField(
            "business_type", N_("Business type"), widget="select", choices=BUSINESS_TYPE_CHOICES
        ),
        FormField("email", N_("Email"), widget="email", direction="ltr", autocomplete="email"),
        FormField(
            "phone", N_("Phone"), widget="tel", direction="ltr", digits=True, autocomplete="tel"
        ),
        TRN if country == "AE" else THAI_TAX_ID,
        FormField(
            "preferred_language",
            N_("Preferred language"),
            widget="select",
            choices=LANGUAGE_CHOICES,
        ),
    )


ADDRESS_FIELDS = (
    FormField("address_line1", N_("Address line 1"), autocomplete="address-line1"),
    FormField("address_line2", N_("Address line 2"), autocomplete="address-line2"),
    FormField("city", N_("City"), autocomplete="address-level2"),
    FormField("emirate", N_("Emirate or province"), autocomplete="address-level1"),
    FormField(
        "postal_code", N_("Postal code"), direction="ltr", digits=True, autocomplete="postal-code"
    ),
    FormField(
        "country", N_("Country code"), direction="ltr", hint=N_("Two letters, e.g. AE or TH.")
    ),
    FormField("address_ar", N_("Address in Arabic"), direction="rtl"),
)
NOTES_FIELDS = (
    FormField("tags", N_("Tags"), widget="tags", hint=N_("Separate tags with commas.")),
    FormField("notes", N_("Notes"), widget="textarea"),
)
ACTIVE_FIELD = FormField("is_active", N_("Active customer"), widget="checkbox")


@dataclass(frozen=True)
class WizardStep:
    number: int
    title: str
    fields: tuple[FormField, ...]


def wizard_steps(country: str) -> tuple[WizardStep, ...]:
    return (
        WizardStep(1, N_("Basic information"), basic_fields(country)),
        WizardStep(2, N_("Address"), ADDRESS_FIELDS),
        WizardStep(3, N_("Notes and tags"), NOTES_FIELDS),
    )


def profile_fields(country: str) -> tuple[FormField, ...]:
    """Everything the profile's inline edit offers."""
    return (*basic_fields(country), *ADDRESS_FIELDS, *NOTES_FIELDS, ACTIVE_FIELD)


# ----- posted text -> values -------------------------------------------------------------------
def posted_text(form: FormData, fields: tuple[FormField, ...]) -> dict[str, str]:
    """The raw text of each field, digits made ASCII where the field holds numbers."""
    return {
        field.name: ("on" if form.get(field.name) == "on" else "")
        if field.widget == "checkbox"
        else text_value(form, field.name, digits=field.digits)
        for field in fields
    }


def split_tags(text: str) -> list[str]:
    for separator in TAG_SEPARATORS[1:]:
        text = text.replace(separator, TAG_SEPARATORS[0])
    return [tag.strip() for tag in text.split(TAG_SEPARATORS[0]) if tag.strip()]


def _value(field: FormField, text: str) -> Any:
    if field.widget == "checkbox":
        return text == "on"
    if field.widget == "tags":
        return split_tags(text) or None
    return text or None


def field_values(text: dict[str, str], fields: tuple[FormField, ...]) -> dict[str, Any]:
    """Schema values for the given fields; an empty input means "no value"."""
    return {field.name: _value(field, text.get(field.name, "")) for field in fields}


def draft_for_create(
    text: dict[str, str], fields: tuple[FormField, ...]
) -> tuple[CustomerCreate | None, list[FieldError]]:
    """The creation draft (empty fields left out), or the schema's field errors."""
    values = {k: v for k, v in field_values(text, fields).items() if v is not None}
    try:
        return CustomerCreate.model_validate(values), []
    except ValidationError as exc:
        return None, field_errors(exc)


def patch_for_update(
    text: dict[str, str], fields: tuple[FormField, ...]
) -> tuple[CustomerUpdate | None, list[FieldError]]:
    """A patch of every field on the form: emptied inputs clear their field."""
    try:
        return CustomerUpdate.model_validate(field_values(text, fields)), []
    except ValidationError as exc:
        return None, field_errors(exc)


def text_of(customer: Customer, fields: tuple[FormField, ...]) -> dict[str, str]:
    """A customer's values as the form shows them."""
    text = {}
    for field in fields:
        value = getattr(customer, field.name)
        if field.widget == "tags":
            text[field.name] = ", ".join(value or [])
        elif field.widget == "checkbox":
            text[field.name] = "on" if value else ""
        else:
            text[field.name] = "" if value is None else str(value)
    return text
