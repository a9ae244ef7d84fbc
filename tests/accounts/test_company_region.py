"""A company's region (country, default currency) is fixed, so each process reads it once."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from sqlalchemy import Engine, text
from tests.conftest import Tenant
from tests.web.test_page_safety import counting_statements

from majlis.accounts import service as accounts
from majlis.core.db import tenant_session


def test_the_region_is_the_companys_and_is_read_once(make_tenant, app_engine: Engine) -> None:
    uae, thailand = make_tenant("AE"), make_tenant("TH")
    with counting_statements(app_engine) as statements:
        for tenant, expected in ((uae, ("AE", "AED")), (thailand, ("TH", "THB"))):
            for _ in range(2):  # a second request, in its own transaction
                with tenant_session(app_engine, tenant.company_id) as session:
                    region = accounts.company_region(session, tenant.company_id)
                assert (region.country, region.currency) == expected
    company_reads = [s for s in statements if "FROM companies" in s]
    assert len(company_reads) == 2, company_reads


@pytest.mark.parametrize(
    "change", ["country = 'TH'", "default_currency = 'USD'", "country = 'TH', name = 'Moved'"]
)
def test_the_database_refuses_to_change_the_region(
    tenant: Tenant, admin_engine: Engine, change: str
) -> None:
    refused = pytest.raises(sqlalchemy.exc.IntegrityError, match="cannot change")
    with refused, admin_engine.begin() as connection:
        connection.execute(
            text(f"UPDATE companies SET {change} WHERE id = :id"), {"id": tenant.company_id}
        )
    with admin_engine.connect() as connection:
        row = connection.execute(
            text("SELECT name, country, default_currency FROM companies WHERE id = :id"),
            {"id": tenant.company_id},
        ).one()
    assert row.name.startswith("Test Co") and (row.country, row.default_currency) == ("AE", "AED")


def test_other_company_settings_still_change(tenant: Tenant, admin_engine: Engine) -> None:
    with admin_engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE companies SET country = country, time_zone = 'Asia/Bangkok' WHERE id = :id"
            ),
            {"id": tenant.company_id},
        )
