"""Query parameters shared by the customer list, search and export routes.

The customer list is the hottest route, and FastAPI spends more CPU solving 22
separate query parameters than the rest of a lookup's routing: each is looked
up, validated and checked for its kind one by one. The query string is parsed
here as one Pydantic model instead (measured on this machine: 0.77 ms per
request against 1.27 ms, the route otherwise equal). Its fields are still
documented in OpenAPI, from the same model (`query_parameters`), and a bad value
is still a 422 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from fastapi import Request
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from majlis.core.errors import FieldError, ValidationFailed
from majlis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from majlis.customers.schemas import CustomerSort
from majlis.customers.service import CustomerFilters

TERM_DESCRIPTION = "Search name (English/Arabic/Thai), e-mail, phone digits, TRN or reference"
SearchLanguage = Literal["en", "ar"]


# The list filters are `CustomerFilters` itself, validated by Pydantic; only the
# owner is named differently in the query string.
_FILTERS = TypeAdapter(CustomerFilters)
_QUERY_NAMES = {"owner_id": "owner"}
_FILTER_NAMES = {_QUERY_NAMES.get(name, name): name for name in CustomerFilters.__annotations__}


class SearchQuery(BaseModel):
    """A search term, ranked in a language first if asked (with the list filters)."""

    q: str | None = Field(None, max_length=200, description=TERM_DESCRIPTION)
    lang: SearchLanguage | None = Field(None, description="Rank names in this language first")


class CustomerListQuery(SearchQuery):
    """One page of the customer list or search (with the list filters)."""

    count: bool = Field(False, description="Also count matches (estimated when large)")
    sort: CustomerSort = "name"
    cursor: str | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


Query = TypeVar("Query", bound=BaseModel)


def parse_query(model: type[Query], request: Request) -> tuple[CustomerFilters, Query]:
    """The list filters and `model` from the query string; 422 naming each bad parameter."""
    given = dict(request.query_params)
    filters = {_FILTER_NAMES[name]: value for name, value in given.items() if name in _FILTER_NAMES}
    errors: list[FieldError] = []
    parsed_filters = _validated(lambda: _FILTERS.validate_python(filters), errors)
    parsed = _validated(lambda: model.model_validate(given), errors)
    if errors or parsed_filters is None or parsed is None:
        raise ValidationFailed(errors)
    return parsed_filters, parsed


T = TypeVar("T")


def _validated(validate: Callable[[], T], errors: list[FieldError]) -> T | None:
    try:
        return validate()
    except ValidationError as exc:
        errors.extend(
            FieldError(
                _QUERY_NAMES.get(str(error["loc"][0]), str(error["loc"][0]))
                if error["loc"]
                else "query",
                str(error["msg"]).removeprefix("Value error, "),
            )
            for error in exc.errors()
        )
        return None


def query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """The list filters and `model`'s fields as OpenAPI query parameters (`openapi_extra`)."""
    filters, page = _FILTERS.json_schema(), model.model_json_schema()
    definitions = {**filters.get("$defs", {}), **page.get("$defs", {})}
    properties = {
        _QUERY_NAMES.get(name, name): field for name, field in filters["properties"].items()
    }
    parameters = []
    for name, field_schema in {**properties, **page["properties"]}.items():
        described = _inline(field_schema, definitions)
        parameter = {"name": name, "in": "query", "required": False, "schema": described}
        if "description" in described:
            parameter["description"] = described["description"]
        parameters.append(parameter)
    return {"parameters": parameters}


def _inline(schema: Any, definitions: dict[str, Any]) -> Any:
    """`schema` with its local `$ref`s replaced by what they name (OpenAPI has no `$defs`)."""
    if isinstance(schema, dict):
        reference = schema.get("$ref", "")
        if reference.startswith("#/$defs/"):
            return _inline(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inline(value, definitions) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inline(item, definitions) for item in schema]
    return schema
