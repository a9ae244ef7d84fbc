"""The list's query string, parsed as one model: bad values are 422s naming the parameter."""

from __future__ import annotations

import uuid

import httpx
import pytest
from starlette.requests import Request

from majlis.customers.service import CustomerFilters
from majlis.search.params import CustomerListQuery, parse_query

BAD_VALUES = {
    "limit": "0",
    "is_active": "maybe",
    "business_type": "bakery",
    "owner": "not-a-uuid",
    "created_from": "yesterday",
    "lang": "fr",
    "sort": "price",
    "q": "x" * 201,
}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_a_bad_parameter_is_named(owner, name: str) -> None:
    response = owner.get("/api/v1/customers", params={name: BAD_VALUES[name]})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == [name]


def test_every_bad_parameter_is_named_at_once(owner) -> None:
    response = owner.get("/api/v1/customers", params={"limit": "500", "has_email": "often"})
    assert response.status_code == 422
    assert {error["field"] for error in response.json()["errors"]} == {"limit", "has_email"}


def test_authentication_comes_before_the_parameters(base_url) -> None:
    response = httpx.get(f"{base_url}/api/v1/customers", params={"limit": "0"})
    assert response.status_code == 401


def test_the_filters_parse_as_the_service_names_them() -> None:
    owner_id = uuid.uuid4()
    query_string = f"owner={owner_id}&is_active=false&limit=7&ignored=x&city=Dubai"
    request = Request({"type": "http", "query_string": query_string.encode(), "headers": []})
    filters, query = parse_query(CustomerListQuery, request)
    assert filters == CustomerFilters(owner_id=owner_id, is_active=False, city="Dubai")
    assert query.limit == 7 and query.sort == "name" and query.count is False


def test_openapi_documents_every_parameter(base_url) -> None:
    document = httpx.get(f"{base_url}/openapi.json").json()
    for path, model_fields in (
        ("/api/v1/customers", {*CustomerListQuery.model_fields, "owner", "is_active", "tag"}),
        ("/api/v1/exports/customers", {"q", "lang", "owner", "created_from", "format"}),
    ):
        parameters = document["paths"][path]["get"]["parameters"]
        assert set(model_fields) <= {parameter["name"] for parameter in parameters}
        assert all("#/$defs/" not in str(parameter) for parameter in parameters)
