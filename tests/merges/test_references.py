"""A merge moves every row that points at a merged customer, found from the catalog.

The tables are discovered here the same way the merge discovers them; a table
that points at customers and has no row-maker below fails the test, so a new
table cannot land without being proven to move (and to move back on undo).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from tests.merges.conftest import create_customer, post_merge

from majlis.merges.references import Reference, quote
from majlis.merges.service import movable_references

_REMINDER = (
    "INSERT INTO customer_consolidated_reminders (company_id, id, customer_id, invoice_ids,"
    " total_amount, currency, reminder_type, escalation_level, priority_score,"
    " oldest_days_overdue, channel, language, scheduled_at) VALUES (:c, {id}, {customer},"
    " ARRAY[gen_random_uuid()], 10, 'AED', 'SINGLE', 'POLITE', 10, 5, 'email', 'en',"
    " now() + interval '1 day')"
)
_PORTAL = (
    "INSERT INTO {table} (company_id, id, customer_id, token_hash, expires_at)"
    " VALUES (:c, gen_random_uuid(), :x, convert_to(gen_random_uuid()::text, 'UTF8'),"
    " now() + interval '1 day')"
)

# (table, column) -> statements making one row that points at customer :x in company :c.
# :s is the survivor and :t a third customer of the same company, for rows that need one.
ROW_MAKERS: dict[tuple[str, str], list[str]] = {
    ("consent_log", "customer_id"): [
        "INSERT INTO consent_log (company_id, id, customer_id, channel, marketing_consent,"
        " opted_out, source, actor_kind) VALUES (:c, gen_random_uuid(), :x, 'email', true,"
        " false, 'merge test', 'user')"
    ],
    ("contact_preferences", "customer_id"): [
        "INSERT INTO contact_preferences (company_id, customer_id) VALUES (:c, :x)"
    ],
    ("contacts", "organization_id"): [
        "INSERT INTO contacts (company_id, id, organization_id, name)"
        " VALUES (:c, gen_random_uuid(), :x, 'Contact')"
    ],
    ("contacts", "converted_from_customer_id"): [
        "INSERT INTO contacts (company_id, id, organization_id, name, converted_from_customer_id)"
        " VALUES (:c, gen_random_uuid(), :t, 'Converted', :x)"
    ],
    ("conversations", "customer_id"): [
        "INSERT INTO conversations (company_id, id, channel, session_id, started_at, customer_id,"
        " link_source, sync_state) VALUES (:c, gen_random_uuid(), 'whatsapp',"
        " gen_random_uuid()::text, now(), :x, 'manual', 'linked')"
    ],
    ("customer_consents", "customer_id"): [
        "INSERT INTO customer_consents (company_id, id, customer_id, channel, marketing_consent,"
        " opted_out) VALUES (:c, gen_random_uuid(), :x, 'sms', true, false)"
    ],
    ("customer_consolidated_reminders", "customer_id"): [
        _REMINDER.format(id="gen_random_uuid()", customer=":x")
    ],
    ("customer_interactions", "customer_id"): [
        "INSERT INTO customer_interactions (company_id, id, customer_id, kind, actor_kind)"
        " VALUES (:c, gen_random_uuid(), :x, 'viewed', 'user')"
    ],
    ("customer_reminder_overrides", "customer_id"): [
        "INSERT INTO customer_reminder_overrides (company_id, customer_id) VALUES (:c, :x)"
    ],
    ("duplicate_pairs", "customer_id_a"): [
        "INSERT INTO duplicate_pairs (company_id, id, customer_id_a, customer_id_b,"
        " match_probability, evidence, reasons, source)"
        " VALUES (:c, gen_random_uuid(), :x, :t, 0.9, '{}', 'test', 'scan')"
    ],
    ("duplicate_pairs", "customer_id_b"): [
        "INSERT INTO duplicate_pairs (company_id, id, customer_id_a, customer_id_b,"
        " match_probability, evidence, reasons, source)"
        " VALUES (:c, gen_random_uuid(), :t, :x, 0.9, '{}', 'test', 'scan')"
    ],
    ("email_logs", "customer_id"): [
        _REMINDER.format(id=":r", customer=":t"),
        "INSERT INTO email_logs (company_id, id, reminder_id, customer_id, to_address, subject,"
        " invoice_count, consolidation_savings_pct, delivery_status)"
        " VALUES (:c, gen_random_uuid(), :r, :x, 'a@example.ae', 'Reminder', 1, 0, 'sent')",
    ],
    ("erasure_requests", "customer_id"): [
        "INSERT INTO erasure_requests (company_id, id, customer_id, reason, requested_by,"
        " deadline_at) VALUES (:c, gen_random_uuid(), :x, 'asked', 'test',"
        " now() + interval '30 days')"
    ],
    ("followup_executions", "customer_id"): [
        "INSERT INTO followup_executions (company_id, id, customer_id, template_key, language,"
        " status, scheduled_for) VALUES (:c, gen_random_uuid(), :x, 'checkup', 'en',"
        " 'scheduled', now())"
    ],
    ("invoices", "customer_id"): [
        "INSERT INTO invoices (company_id, id, customer_id, number, issue_date, due_date, amount)"
        " VALUES (:c, gen_random_uuid(), :x, gen_random_uuid()::text, current_date,"
        " current_date + 30, 100)"
    ],
    ("loyalty_members", "customer_id"): [
        "INSERT INTO loyalty_members (company_id, id, customer_id, tier_key, referral_code)"
        " VALUES (:c, gen_random_uuid(), :x, 'bronze', gen_random_uuid()::text)"
    ],
    ("not_duplicate_pairs", "customer_id_a"): [
        "INSERT INTO not_duplicate_pairs (company_id, customer_id_a, customer_id_b)"
        " VALUES (:c, :x, :t)"
    ],
    ("not_duplicate_pairs", "customer_id_b"): [
        "INSERT INTO not_duplicate_pairs (company_id, customer_id_a, customer_id_b)"
        " VALUES (:c, :t, :x)"
    ],
    ("payments", "customer_id"): [
        "INSERT INTO payments (company_id, id, customer_id, amount, received_on)"
        " VALUES (:c, gen_random_uuid(), :x, 10, current_date)"
    ],
    ("portal_links", "customer_id"): [_PORTAL.format(table="portal_links")],
    ("portal_sessions", "customer_id"): [_PORTAL.format(table="portal_sessions")],
    ("projects", "organization_id"): [
        "INSERT INTO projects (company_id, id, organization_id, name)"
        " VALUES (:c, gen_random_uuid(), :x, 'Project')"
    ],
    ("tasks", "customer_id"): [
        "INSERT INTO tasks (company_id, id, kind, title, due_at, priority, rank_at, customer_id)"
        " VALUES (:c, gen_random_uuid(), 'call', 'Call them', now(), 50, now(), :x)"
    ],
    ("workflow_actions", "customer_id"): [
        "INSERT INTO workflow_actions (company_id, id, customer_id, to_stage, actor_kind)"
        " VALUES (:c, gen_random_uuid(), :x, 'new', 'user')"
    ],
    ("workflow_events", "customer_id"): [
        "INSERT INTO workflow_events (company_id, id, kind, customer_id)"
        " VALUES (:c, gen_random_uuid(), 'merge-test', :x)"
    ],
    ("workflow_state", "customer_id"): [
        "INSERT INTO workflow_stages (company_id, id, key, name, position)"
        " VALUES (:c, gen_random_uuid(), 'merge_test', 'Merge test', 99) ON CONFLICT DO NOTHING",
        "INSERT INTO workflow_state (company_id, customer_id, stage_key, entered_at)"
        " VALUES (:c, :x, 'merge_test', now())",
    ],
}


def _references(admin_engine: Engine) -> list[Reference]:
    with Session(admin_engine) as session:
        return movable_references(session)


def _make_row(
    admin_engine: Engine, reference: Reference, company: uuid.UUID, params: dict[str, str]
) -> None:
    values = {"c": company, "r": uuid.uuid4(), **params}
    with admin_engine.begin() as conn:
        for statement in ROW_MAKERS[(reference.table, reference.column)]:
            conn.execute(text(statement), values)


def _keys_of(
    admin_engine: Engine, reference: Reference, company: uuid.UUID, customer: str
) -> set[str]:
    query = (
        f"SELECT {reference.key_expression('t')} FROM {quote(reference.table)} t"
        f" WHERE t.company_id = :c AND t.{quote(reference.column)} = :x"
    )
    with admin_engine.connect() as conn:
        rows = conn.execute(text(query), {"c": company, "x": customer}).scalars()
        return {json.dumps(row, sort_keys=True) for row in rows}


def _rekeyed(keys: set[str], column: str, customer: str) -> set[str]:
    """The keys once moved: a primary key that includes the reference column changes too."""
    moved = []
    for key in map(json.loads, keys):
        if column in key:
            key[column] = customer
        moved.append(json.dumps(key, sort_keys=True))
    return set(moved)


def test_every_table_pointing_at_customers_has_a_row_maker(admin_engine) -> None:
    found = {(ref.table, ref.column) for ref in _references(admin_engine)}
    missing = sorted(found - set(ROW_MAKERS))
    assert not missing, f"add a row-maker (and check the merge rule) for: {missing}"
    assert not set(ROW_MAKERS) - found, "stale row-makers"


def test_merge_moves_every_reference_and_undo_moves_them_back(tenant, owner, admin_engine):
    survivor, other, third = (create_customer(owner, name=n) for n in ("Sur", "Oth", "Third"))
    references = [r for r in _references(admin_engine) if (r.table, r.column) in ROW_MAKERS]
    params = {"x": other, "s": survivor, "t": third}
    for reference in references:
        _make_row(admin_engine, reference, tenant.company_id, params)
    before = {ref: _keys_of(admin_engine, ref, tenant.company_id, other) for ref in references}
    assert all(before.values()), [r.label for r, keys in before.items() if not keys]

    dry = post_merge(owner, survivor, [other], dry_run=True).json()
    expected = {(r.table, r.column): len(keys) for r, keys in before.items()}
    assert {(m["table"], m["column"]): m["rows"] for m in dry["moved"]} == expected

    merged = post_merge(owner, survivor, [other])
    assert merged.status_code == 200, merged.text
    for reference, keys in before.items():
        moved = _keys_of(admin_engine, reference, tenant.company_id, survivor)
        assert _rekeyed(keys, reference.column, survivor) <= moved, f"{reference.label} stayed"
        assert not _keys_of(admin_engine, reference, tenant.company_id, other), reference.label

    undo = owner.post(f"/api/v1/merges/{merged.json()['merge_id']}/undo")
    assert undo.status_code == 200, undo.text
    for reference, keys in before.items():
        assert _keys_of(admin_engine, reference, tenant.company_id, other) == keys, (
            f"{reference.label} did not move back"
        )
    assert owner.get(f"/api/v1/customers/{other}").status_code == 200


@pytest.fixture
def future_tables(admin_engine: Engine) -> Iterator[None]:
    """Two tables 'added next year', made as a migration would, dropped afterwards."""
    with admin_engine.begin() as conn:
        for name, unique in (
            ("merge_probe_notes", ""),
            ("merge_probe_cards", ", UNIQUE (company_id, customer_id)"),
        ):
            conn.execute(
                text(
                    f"CREATE TABLE {name} (company_id uuid NOT NULL, id uuid NOT NULL,"
                    " customer_id uuid NOT NULL, PRIMARY KEY (company_id, id),"
                    " FOREIGN KEY (company_id, customer_id) REFERENCES customers (company_id, id)"
                    f"{unique})"
                )
            )
            conn.execute(text(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"))
            conn.execute(text(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY"))
            conn.execute(
                text(
                    f"CREATE POLICY tenant_isolation ON {name}"
                    " USING (company_id = majlis_current_company())"
                )
            )
            conn.execute(text(f"CREATE POLICY maintenance ON {name} TO CURRENT_USER USING (true)"))
            conn.execute(text(f"GRANT SELECT ON {name} TO majlis_app"))  # read-only for the app
    try:
        yield
    finally:
        with admin_engine.begin() as conn:
            conn.execute(text("DROP TABLE merge_probe_notes, merge_probe_cards"))


def _probe_row(admin_engine: Engine, table: str, company: uuid.UUID, customer: str) -> str:
    row_id = str(uuid.uuid4())
    with admin_engine.begin() as conn:
        conn.execute(
            text(f"INSERT INTO {table} VALUES (:c, :id, :x)"),
            {"c": company, "id": row_id, "x": customer},
        )
    return row_id


def _owner_of(admin_engine: Engine, table: str, row_id: str) -> str:
    with admin_engine.connect() as conn:
        found = conn.execute(
            text(f"SELECT customer_id FROM {table} WHERE id = :id"), {"id": row_id}
        )
        return str(found.scalar_one())


def test_a_table_added_later_is_covered_without_editing_the_merge(
    tenant, owner, admin_engine, future_tables
) -> None:
    survivor, other = create_customer(owner), create_customer(owner)
    note = _probe_row(admin_engine, "merge_probe_notes", tenant.company_id, other)
    card = _probe_row(admin_engine, "merge_probe_cards", tenant.company_id, other)
    merged = post_merge(owner, survivor, [other])
    assert merged.status_code == 200, merged.text
    assert _owner_of(admin_engine, "merge_probe_notes", note) == survivor
    assert _owner_of(admin_engine, "merge_probe_cards", card) == survivor  # no collision: moves
    assert owner.post(f"/api/v1/merges/{merged.json()['merge_id']}/undo").status_code == 200
    assert _owner_of(admin_engine, "merge_probe_notes", note) == other


def test_a_collision_in_a_table_without_a_rule_refuses_the_whole_merge(
    tenant, owner, admin_engine, future_tables
) -> None:
    survivor, other = create_customer(owner), create_customer(owner)
    note = _probe_row(admin_engine, "merge_probe_notes", tenant.company_id, other)
    for customer in (survivor, other):
        _probe_row(admin_engine, "merge_probe_cards", tenant.company_id, customer)
    refused = post_merge(owner, survivor, [other])
    assert refused.status_code == 409
    assert refused.json()["reason"] == "unresolved-collision"
    assert refused.json()["table"] == "merge_probe_cards"
    # nothing half-done: the other is still a customer and its rows stayed
    assert owner.get(f"/api/v1/customers/{other}").status_code == 200
    assert _owner_of(admin_engine, "merge_probe_notes", note) == other


def test_one_row_per_customer_keeps_the_survivors_and_leaves_the_others_in_place(
    tenant, owner, admin_engine
) -> None:
    survivor, other, third = (create_customer(owner) for _ in range(3))
    reference = next(r for r in _references(admin_engine) if r.table == "workflow_state")
    for customer in (survivor, other):
        _make_row(
            admin_engine, reference, tenant.company_id, {"x": customer, "s": survivor, "t": third}
        )
    result = post_merge(owner, survivor, [other]).json()
    assert result["collisions"] == [
        {
            "table": "workflow_state",
            "column": "customer_id",
            "row_key": {"customer_id": other},
            "customer_id": other,
            "resolution": "kept_on_merged_customer",
        }
    ]
    assert _keys_of(admin_engine, reference, tenant.company_id, other)  # not deleted
    assert owner.post(f"/api/v1/merges/{result['merge_id']}/undo").status_code == 200
