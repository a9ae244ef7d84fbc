"""Reading submitted forms: the CSRF check, and values in the shape services expect."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from majlis.core.errors import FieldError
from majlis.core.i18n import ascii_digits
from majlis.web.security import CSRF_FIELD, check_csrf


async def verified_form(request: Request) -> FormData:
    """The submitted form, once its CSRF token (field or HTMX header) has been checked."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    check_csrf(request, token if isinstance(token, str) else None)
    return form


VerifiedForm = Annotated[FormData, Depends(verified_form)]


def text_value(form: FormData, name: str, *, digits: bool = False) -> str:
    """A trimmed text field ('' when absent); `digits` turns Arabic-Indic and Thai digits ASCII."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    return ascii_digits(text) if digits else text


def field_errors(error: ValidationError) -> list[FieldError]:
    """Pydantic's complaints as (field, message) pairs, like the API's problem+json."""
    return [
        FieldError(
            ".".join(str(part) for part in item["loc"]) or "form",
            str(item["msg"]).removeprefix("Value error, "),
        )
        for item in error.errors()
    ]
