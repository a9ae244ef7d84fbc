"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document.

Schemathesis generates valid and invalid requests for every operation; each
must answer without a 5xx, in the documented status codes and shapes, and a
refused request must leave nothing behind (no audit entry, no new row). The
budget is bounded (examples per operation) so the suite stays fast in CI.
"""

from __future__ import annotations

import json

import hypothesis
import pytest
import schemathesis
from sqlalchemy import Engine, text

from majlis.core.permissions import Role

EXAMPLES_PER_OPERATION = 15
# A value can fit the schema and still be refused on meaning (a "phone" that is
# no phone number, a cursor this API never issued): 422 with a field message is
# the documented answer there, so "schema-valid data must be accepted" does not apply.
SEMANTIC_CHECKS = [schemathesis.checks.positive_data_acceptance]


@schemathesis.serializer("application/x-ndjson")
def ndjson_body(context: schemathesis.SerializationContext, value: object) -> bytes:
    """Bulk endpoints take NDJSON; the schema documents the body as one string."""
    return (
        value.encode("utf-8", "surrogatepass")
        if isinstance(value, str)
        else json.dumps(value).encode()
    )


@pytest.fixture(scope="module")
def api_schema(base_url: str):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


@pytest.fixture(scope="module")
def fuzz_tenant(app_engine: Engine, base_url: str):  # type: ignore[no-untyped-def]
    from tests.conftest import create_tenant

    tenant = create_tenant(app_engine, base_url)
    with tenant.client() as client:
        for name in ("Fuzz One", "فز اثنان"):
            client.post("/api/v1/customers", json={"name": name})
    return tenant


def _written_rows(engine: Engine, company_id: object) -> int:
    """Everything a request of this tenant could have written, as one number."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM audit_log WHERE company_id = :c)"
                    " + (SELECT count(*) FROM customers WHERE company_id = :c)"
                    " + (SELECT count(*) FROM outbox_events WHERE company_id = :c)"
                ),
                {"c": company_id},
            ).scalar_one()
        )


def test_api_survives_generated_requests(api_schema, base_url, fuzz_tenant, admin_engine) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {fuzz_tenant.tokens[Role.OWNER]}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8

    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            derandomize=True,
            database=None,
        )
        def survives(case) -> None:  # type: ignore[no-untyped-def]
            before = _written_rows(admin_engine, fuzz_tenant.company_id)
            response = case.call_and_validate(
                base_url=base_url, headers=headers, excluded_checks=SEMANTIC_CHECKS
            )
            if response.status_code >= 400:
                assert _written_rows(admin_engine, fuzz_tenant.company_id) == before, (
                    f"{case.method} {case.path} answered {response.status_code} but wrote rows"
                )

        survives()
