"""Customer tabs over the real server: contacts and projects, conversations, journey, loyalty."""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from tests.web.conftest import Browser, WebCompany
from tests.web.test_page_safety import counting_statements

from majlis.conversations import service as conversations
from majlis.conversations.schemas import ConversationIn
from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.customers.models import Customer
from majlis.journeys import queue
from majlis.journeys.models import Task, TaskKind, TaskStatus, WorkflowAction
from majlis.journeys.schemas import TaskCreate
from majlis.loyalty import service as loyalty
from majlis.loyalty.models import LoyaltyMember, Redemption
from majlis.loyalty.schemas import RewardIn
from majlis.organizations import service as organizations
from majlis.organizations.models import Contact, Project
from majlis.organizations.schemas import ContactCreate, ProjectCreate
from majlis.web.customer_tab_pages import CONVERSATIONS_PAGE_SIZE, LEDGER_PAGE_SIZE

HOSTILE = "<script>alert(1)</script>"
BIDI_NAME = "\u202eشركة النور\u202c"
TABS = ("relationships", "conversations", "journey", "loyalty")


def organization(
    company: WebCompany, name: str = "Noor Trading LLC", role: Role = Role.OWNER, **values: object
) -> Customer:
    return company.customer(role, name=name, kind="organization", **values)


def count(company: WebCompany, model: type, **where: object) -> int:
    with tenant_session(company.engine, company.company_id) as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(session.scalar(query) or 0)


def add_contact(company: WebCompany, org: Customer, name: str, **values: object) -> Contact:
    with tenant_session(company.engine, company.company_id) as session:
        draft = ContactCreate.model_validate({"name": name, **values})
        return organizations.create_contact(session, company.actor(), org.id, draft)


def add_conversations(company: WebCompany, email: str | None, name: str, how_many: int) -> None:
    """Conversations an email matches, one hour apart (the last is the newest)."""
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    with tenant_session(company.engine, company.company_id) as session:
        for number in range(how_many):
            record = ConversationIn.model_validate(
                {
                    "channel": "whatsapp",
                    "session_id": f"s-{uuid.uuid4().hex}",
                    "customer": {"email": email, "name": name},
                    "started_at": start + timedelta(hours=number),
                    "summary": f"Conversation number {number}",
                }
            )
            conversations.ingest_conversation(session, company.actor(), record)


def add_task(company: WebCompany, customer: Customer, title: str, **values: object) -> Task:
    with tenant_session(company.engine, company.company_id) as session:
        draft = TaskCreate.model_validate(
            {
                "kind": TaskKind.CALL,
                "title": title,
                "due_at": datetime.now(UTC) + timedelta(days=1),
                "customer_id": customer.id,
                **values,
            }
        )
        return queue.create_task(session, company.actor(), draft)


def member_with_points(company: WebCompany, customer: Customer, points: int) -> uuid.UUID:
    with tenant_session(company.engine, company.company_id) as session:
        actor = company.actor()
        member = loyalty.enroll(session, actor, customer.id)
        loyalty.earn_points(session, actor, member.id, points, "welcome")
        return member.id


def reward(company: WebCompany, name: str, cost: int, **values: object) -> uuid.UUID:
    with tenant_session(company.engine, company.company_id) as session:
        draft = RewardIn.model_validate({"name": name, "cost_points": cost, **values})
        return loyalty.create_reward(session, company.actor(), draft).id


# ----- the tabs themselves ----------------------------------------------------------------
def test_tabs_show_for_organizations_and_relationships_is_hidden_for_individuals(
    company: WebCompany, browser: Browser
) -> None:
    org = organization(company)
    person = company.customer(name="Omar Haddad")
    org_page = browser.page(f"/customers/{org.id}").text
    for tab in TABS:
        assert f'href="/customers/{org.id}/{tab}"' in org_page
    person_page = browser.page(f"/customers/{person.id}").text
    assert f"/customers/{person.id}/relationships" not in person_page
    assert f'href="/customers/{person.id}/journey"' in person_page
    assert browser.page(f"/customers/{person.id}/relationships").status_code == 404


def test_another_companys_customer_is_not_found_on_every_tab(
    company: WebCompany, make_company: Callable[..., WebCompany]
) -> None:
    other = make_company()
    theirs = organization(other)
    task = add_task(other, theirs, "Their task")
    contact = add_contact(other, theirs, "Their contact")
    intruder = company.browser(Role.OWNER)
    for tab in TABS:
        response = intruder.page(f"/customers/{theirs.id}/{tab}")
        assert response.status_code == 404, tab
    intruder.page(f"/customers/{organization(company).id}/journey")
    posts = (
        (f"/customers/{theirs.id}/relationships/contacts", {"name": "X"}),
        (f"/customers/{theirs.id}/relationships/projects", {"name": "X"}),
        (f"/customers/{theirs.id}/relationships/contacts/{contact.id}/archive", {}),
        (f"/customers/{theirs.id}/journey/move", {"to_stage": "contacted"}),
        (f"/customers/{theirs.id}/journey/tasks/{task.id}/complete", {}),
        (f"/customers/{theirs.id}/loyalty/enrol", {}),
    )
    for url, data in posts:
        assert intruder.submit(url, data).status_code == 404, url
    assert count(other, Contact) == 1 and count(other, Project) == 0
    assert count(other, Task, status=TaskStatus.OPEN) == 1


def test_hostile_names_are_escaped_on_every_tab(company: WebCompany, browser: Browser) -> None:
    org = organization(company, name=HOSTILE, name_ar=BIDI_NAME, email="hostile@example.ae")
    add_contact(company, org, HOSTILE, role_title=HOSTILE, name_ar=BIDI_NAME)
    add_conversations(company, org.email, org.name, 1)
    add_task(company, org, HOSTILE)
    member_with_points(company, org, 50)
    reward(company, HOSTILE, 10)
    for tab in TABS:
        page = browser.page(f"/customers/{org.id}/{tab}").text
        assert HOSTILE not in page, tab
        assert html.escape(HOSTILE) in page, tab
        # The schema strips bidi controls; the Arabic name still sits in its own <bdi>.
        assert "\u202e" not in page and '<bdi lang="ar">شركة النور</bdi>' in page, tab


# ----- contacts and projects ----------------------------------------------------------------
def test_relationships_list_contacts_and_projects(company: WebCompany, browser: Browser) -> None:
    org = organization(company)
    add_contact(company, org, "Layla Nasser", role_title="Buyer", is_primary_contact=True)
    archived = add_contact(company, org, "Gone Person")
    with tenant_session(company.engine, company.company_id) as session:
        organizations.archive_contact(session, company.actor(), archived.id)
        organizations.create_project(
            session, company.actor(), org.id, ProjectCreate(name="Fit-out", value=1500)
        )
    page = browser.page(f"/customers/{org.id}/relationships").text
    assert "Layla Nasser" in page and "Buyer" in page and "Primary contact" in page
    assert "Gone Person" not in page
    assert "Fit-out" in page and "AED1,500.00" in page and "Planned" in page


def test_add_a_contact_with_arabic_indic_digits(company: WebCompany, browser: Browser) -> None:
    org = organization(company)
    browser.page(f"/customers/{org.id}/relationships")
    response = browser.submit(
        f"/customers/{org.id}/relationships/contacts",
        {"name": "Sara Ali", "phone": "٠٥٠ ١٢٣ ٤٥٦٧", "is_primary_contact": "on"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/customers/{org.id}/relationships"
    page = browser.page(response.headers["location"]).text
    assert "Contact added." in page and "Sara Ali" in page and "+971501234567" in page


def test_a_refused_contact_comes_back_with_field_errors_and_nothing_written(
    company: WebCompany, browser: Browser
) -> None:
    org = organization(company)
    browser.page(f"/customers/{org.id}/relationships")
    missing_name = browser.submit(
        f"/customers/{org.id}/relationships/contacts", {"name": "", "email": "x@example.ae"}
    )
    assert missing_name.status_code == 422
    assert 'id="contact-name-error"' in missing_name.text
    assert 'aria-invalid="true"' in missing_name.text and "x@example.ae" in missing_name.text
    bad_phone = browser.submit(
        f"/customers/{org.id}/relationships/contacts", {"name": "Sara", "phone": "12"}
    )
    assert bad_phone.status_code == 422 and 'id="contact-phone-error"' in bad_phone.text
    assert "not a valid phone number" in bad_phone.text
    assert count(company, Contact) == 0


def test_add_a_project_and_its_field_errors(company: WebCompany, browser: Browser) -> None:
    org = organization(company)
    browser.page(f"/customers/{org.id}/relationships")
    refused = browser.submit(
        f"/customers/{org.id}/relationships/projects",
        {"name": "Fit-out", "status": "active", "value": "-5", "start_date": "2026-13-01"},
    )
    assert refused.status_code == 422
    assert 'id="project-value-error"' in refused.text
    assert 'id="project-start_date-error"' in refused.text
    assert count(company, Project) == 0
    added = browser.submit(
        f"/customers/{org.id}/relationships/projects",
        {"name": "Fit-out", "status": "active", "value": "٢٥٠٠", "start_date": "2026-02-01"},
    )
    assert added.status_code == 303
    page = browser.page(f"/customers/{org.id}/relationships").text
    assert "Project added." in page and "AED2,500.00" in page and "Active" in page


def test_archive_a_contact_and_a_project(company: WebCompany, browser: Browser) -> None:
    org = organization(company)
    contact = add_contact(company, org, "Layla Nasser")
    with tenant_session(company.engine, company.company_id) as session:
        project = organizations.create_project(
            session, company.actor(), org.id, ProjectCreate(name="Fit-out")
        )
    browser.page(f"/customers/{org.id}/relationships")
    base = f"/customers/{org.id}/relationships"
    assert browser.submit(f"{base}/contacts/{contact.id}/archive").status_code == 303
    assert browser.submit(f"{base}/projects/{project.id}/archive").status_code == 303
    page = browser.page(base).text
    assert "Layla Nasser" not in page and "Fit-out" not in page
    # A contact of another organization of the same company is not this tab's to archive.
    other = add_contact(company, organization(company, name="Other Org"), "Not Yours")
    assert browser.submit(f"{base}/contacts/{other.id}/archive").status_code == 404


def test_roles_follow_the_customers_matrix_on_relationships(company: WebCompany) -> None:
    org = organization(company)
    contact = add_contact(company, org, "Layla Nasser")
    analyst = company.browser(Role.ANALYST)
    page = analyst.page(f"/customers/{org.id}/relationships").text
    assert "Layla Nasser" in page
    assert "Add a contact" not in page and "Archive" not in page
    forged = analyst.submit(f"/customers/{org.id}/relationships/contacts", {"name": "Forged"})
    assert forged.status_code == 403
    archive = f"/customers/{org.id}/relationships/contacts/{contact.id}/archive"
    assert analyst.submit(archive).status_code == 403
    # Sales edit only the customers they own: another's organization shows no controls.
    sales = company.browser(Role.SALES)
    assert "Add a contact" not in sales.page(f"/customers/{org.id}/relationships").text
    assert (
        sales.submit(f"/customers/{org.id}/relationships/contacts", {"name": "X"}).status_code
        == 403
    )
    own = organization(company, "Sales Own Org", Role.SALES)
    assert "Add a contact" in sales.page(f"/customers/{own.id}/relationships").text
    assert count(company, Contact) == 1


def test_forms_without_csrf_are_refused(company: WebCompany, browser: Browser) -> None:
    org = organization(company)
    browser.page(f"/customers/{org.id}/relationships")
    forged = browser.post(f"/customers/{org.id}/relationships/contacts", data={"name": "X"})
    assert forged.status_code == 403
    moved = browser.post(f"/customers/{org.id}/journey/move", data={"to_stage": "contacted"})
    assert moved.status_code == 403
    assert count(company, Contact) == 0 and count(company, WorkflowAction) == 0


# ----- conversations --------------------------------------------------------------------------
def test_conversations_newest_first_with_channel_and_match_rule(
    company: WebCompany, browser: Browser
) -> None:
    customer = company.customer(name="Amal Saeed", email="amal@example.ae")
    add_conversations(company, customer.email, customer.name, 2)
    page = browser.page(f"/customers/{customer.id}/conversations").text
    assert page.index("Conversation number 1") < page.index("Conversation number 0")
    assert "whatsapp" in page and "Matched by" in page and "Email" in page
    assert "Matched automatically" in page


def test_conversations_matched_through_a_contact_name_it(
    company: WebCompany, browser: Browser
) -> None:
    org = organization(company)
    contact = add_contact(company, org, "Layla Nasser", email="layla@noor.example")
    add_conversations(company, contact.email, contact.name, 1)
    page = browser.page(f"/customers/{org.id}/conversations").text
    assert "Matched contact" in page and "Layla Nasser" in page
    assert "A contact&#39;s email" in page


def test_more_conversations_are_appended_with_htmx(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Amal Saeed", email="amal@example.ae")
    add_conversations(company, customer.email, customer.name, CONVERSATIONS_PAGE_SIZE + 2)
    page = browser.page(f"/customers/{customer.id}/conversations").text
    assert page.count('class="tab-conversation"') == CONVERSATIONS_PAGE_SIZE
    assert 'id="more-conversations"' in page
    more_url = html.unescape(page.split('hx-get="', 1)[1].split('"', 1)[0])
    more = browser.get(
        more_url, headers={"HX-Request": "true", "HX-Target": "more-conversations"}
    ).text
    assert "<html" not in more and more.count('class="tab-conversation"') == 2
    assert "Conversation number 0" in more and "more-conversations" not in more


def test_no_conversations_yet(company: WebCompany) -> None:
    customer = company.customer(name="Quiet Customer")
    page = company.browser(Role.ANALYST).page(f"/customers/{customer.id}/conversations").text
    assert "No conversations yet." in page


# ----- journey and tasks -------------------------------------------------------------------------
def test_journey_shows_stage_owner_value_days_and_the_coachs_advice(
    company: WebCompany, browser: Browser
) -> None:
    customer = company.customer(name="Amal Saeed")
    add_task(company, customer, "Call about the quote")
    page = browser.page(f"/customers/{customer.id}/journey").text
    assert 'id="current-stage"><bdi>Lead</bdi>' in page
    assert 'id="days-in-stage">0<' in page and "AED0.00" in page
    assert "Next best action" in page and 'id="next-action"><strong>Follow up' in page
    assert "lead score" in page
    assert "Call about the quote" in page and "Not moved yet." in page
    assert '<option value="contacted"' in page and '<option value="lost"' in page


def test_move_the_stage_records_the_history(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Amal Saeed")
    browser.page(f"/customers/{customer.id}/journey")
    response = browser.submit(
        f"/customers/{customer.id}/journey/move", {"to_stage": "contacted", "reason": "Called"}
    )
    assert response.status_code == 303
    page = browser.page(f"/customers/{customer.id}/journey").text
    assert "Stage changed." in page and 'id="current-stage"><bdi>Contacted</bdi>' in page
    history = page.split('id="stage-history"', 1)[1]
    assert "Lead" in history and "Contacted" in history and "Called" in history
    assert count(company, WorkflowAction) == 1


def test_a_move_the_workflow_forbids_is_a_field_error(
    company: WebCompany, browser: Browser
) -> None:
    customer = company.customer(name="Amal Saeed")
    browser.page(f"/customers/{customer.id}/journey")
    for stage in ("won", "Not A Key"):
        refused = browser.submit(f"/customers/{customer.id}/journey/move", {"to_stage": stage})
        assert refused.status_code == 422
        assert 'id="move-to_stage-error"' in refused.text and 'aria-invalid="true"' in refused.text
    assert count(company, WorkflowAction) == 0


def test_complete_a_task(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Amal Saeed")
    task = add_task(company, customer, "Call about the quote")
    browser.page(f"/customers/{customer.id}/journey")
    url = f"/customers/{customer.id}/journey/tasks/{task.id}/complete"
    assert browser.submit(url).status_code == 303
    page = browser.page(f"/customers/{customer.id}/journey").text
    assert "Task completed." in page and "No open tasks." in page
    assert browser.submit(url).status_code == 303
    assert "This task was already closed." in browser.page(f"/customers/{customer.id}/journey").text
    # A task of another customer is not this tab's to complete.
    other = add_task(company, company.customer(name="Other"), "Not yours")
    foreign = f"/customers/{customer.id}/journey/tasks/{other.id}/complete"
    assert browser.submit(foreign).status_code == 404
    assert count(company, Task, status=TaskStatus.OPEN) == 1


def test_roles_follow_the_journeys_matrix(company: WebCompany) -> None:
    customer = company.customer(name="Amal Saeed")
    task = add_task(company, customer, "Call about the quote")
    analyst = company.browser(Role.ANALYST)
    page = analyst.page(f"/customers/{customer.id}/journey").text
    assert "Call about the quote" in page and "Next best action" in page
    assert "Move to stage" not in page and "Complete" not in page
    move = analyst.submit(f"/customers/{customer.id}/journey/move", {"to_stage": "contacted"})
    complete = analyst.submit(f"/customers/{customer.id}/journey/tasks/{task.id}/complete")
    assert move.status_code == 403 and complete.status_code == 403
    assert count(company, WorkflowAction) == 0
    # Sales move any journey but complete only their own or unassigned tasks.
    company.member(Role.MANAGER)
    theirs = add_task(
        company, customer, "Manager's call", assigned_to=company.user_ids[Role.MANAGER]
    )
    sales = company.browser(Role.SALES)
    page = sales.page(f"/customers/{customer.id}/journey").text
    assert "Move to stage" in page
    assert f"/journey/tasks/{theirs.id}/complete" not in page
    assert f"/journey/tasks/{task.id}/complete" in page
    refused = sales.submit(f"/customers/{customer.id}/journey/tasks/{theirs.id}/complete")
    assert refused.status_code == 403


def test_journey_in_arabic_names_the_stage_in_arabic(company: WebCompany) -> None:
    customer = company.customer(name="Amal Saeed")
    page = company.browser(Role.OWNER, **{"Accept-Language": "ar"}).page(
        f"/customers/{customer.id}/journey"
    )
    assert 'dir="rtl"' in page.text and "عميل محتمل" in page.text


# ----- loyalty ------------------------------------------------------------------------------
def test_enrol_a_customer(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Amal Saeed")
    page = browser.page(f"/customers/{customer.id}/loyalty").text
    assert "Not a member of the loyalty program." in page and "Enrol" in page
    refused = browser.submit(f"/customers/{customer.id}/loyalty/enrol", {"referral_code": "NOPE"})
    assert refused.status_code == 422 and 'id="enrol-referral_code-error"' in refused.text
    assert count(company, LoyaltyMember) == 0
    response = browser.submit(f"/customers/{customer.id}/loyalty/enrol")
    assert response.status_code == 303
    page = browser.page(f"/customers/{customer.id}/loyalty").text
    assert "Enrolled in the loyalty program." in page
    assert 'id="tier"><bdi>Bronze</bdi>' in page and 'id="points-balance">0<' in page
    assert "1,000 more points to reach Silver." in page


def test_membership_ledger_newest_first_by_keyset(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Amal Saeed")
    member_id = member_with_points(company, customer, 1200)
    with tenant_session(company.engine, company.company_id) as session:
        for number in range(LEDGER_PAGE_SIZE):
            loyalty.earn_points(session, company.actor(), member_id, 1, f"visit {number}")
    page = browser.page(f"/customers/{customer.id}/loyalty").text
    assert 'id="tier"><bdi>Silver</bdi>' in page and "3,775 more points to reach Gold." in page
    assert page.count("<tr>") == LEDGER_PAGE_SIZE + 1  # the head row, then a full page
    assert page.index(f"visit {LEDGER_PAGE_SIZE - 1}") < page.index("visit 0")
    older_url = html.unescape(page.rsplit('class="button secondary" href="', 1)[1].split('"')[0])
    assert "cursor=" in older_url
    second = browser.page(older_url).text
    assert "welcome" in second and "visit 5" not in second


def test_redeem_a_reward(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Amal Saeed")
    member_id = member_with_points(company, customer, 300)
    coffee = reward(company, "Free coffee", 100)
    reward(company, "Weekend stay", 5000)
    page = browser.page(f"/customers/{customer.id}/loyalty").text
    assert "Free coffee" in page and "Weekend stay" not in page
    response = browser.submit(
        f"/customers/{customer.id}/loyalty/redeem", {"reward_id": str(coffee)}
    )
    assert response.status_code == 303
    page = browser.page(f"/customers/{customer.id}/loyalty").text
    assert "Reward redeemed." in page and 'id="points-balance">200<' in page
    assert "Redeemed" in page
    assert count(company, Redemption, member_id=member_id) == 1


def test_a_redemption_the_service_refuses_says_why(company: WebCompany, browser: Browser) -> None:
    customer = company.customer(name="Amal Saeed")
    member_id = member_with_points(company, customer, 300)
    once = reward(company, "Free coffee", 100, per_member_limit=1)
    expensive = reward(company, "Weekend stay", 5000)
    browser.page(f"/customers/{customer.id}/loyalty")
    url = f"/customers/{customer.id}/loyalty/redeem"
    assert browser.submit(url, {"reward_id": str(once)}).status_code == 303
    again = browser.submit(url, {"reward_id": str(once)})
    assert again.status_code == 409 and "This reward could not be redeemed." in again.text
    assert "1 time(s) only" in again.text
    poor = browser.submit(url, {"reward_id": str(expensive)})
    assert poor.status_code == 409 and "not enough points" in poor.text
    assert browser.submit(url, {"reward_id": "not-an-id"}).status_code == 404
    assert count(company, Redemption, member_id=member_id) == 1


def test_roles_follow_the_loyalty_matrix(company: WebCompany) -> None:
    customer = company.customer(name="Amal Saeed")
    newcomer = company.customer(name="Newcomer")
    member_with_points(company, customer, 300)
    coffee = reward(company, "Free coffee", 100)
    analyst = company.browser(Role.ANALYST)
    page = analyst.page(f"/customers/{customer.id}/loyalty").text
    assert "Free coffee" in page and "Redeem" not in page
    assert "Enrol" not in analyst.page(f"/customers/{newcomer.id}/loyalty").text
    redeem = analyst.submit(f"/customers/{customer.id}/loyalty/redeem", {"reward_id": str(coffee)})
    enrol = analyst.submit(f"/customers/{newcomer.id}/loyalty/enrol")
    assert redeem.status_code == 403 and enrol.status_code == 403
    assert count(company, Redemption) == 0 and count(company, LoyaltyMember) == 1
    sales = company.browser(Role.SALES)
    assert "Enrol" in sales.page(f"/customers/{newcomer.id}/loyalty").text
    assert sales.submit(f"/customers/{newcomer.id}/loyalty/enrol").status_code == 303


def test_no_tab_runs_more_statements_as_its_lists_grow(
    company: WebCompany, browser: Browser, app_engine: Engine
) -> None:
    """A tab runs a fixed set of queries (names in one query each), whatever it lists."""
    org = organization(company, email="office@noor.example")
    member_id = member_with_points(company, org, 100)
    reward(company, "Free coffee", 10)

    def statements_per_tab() -> list[int]:
        counts = []
        for tab in TABS:
            with counting_statements(app_engine) as statements:
                assert browser.get(f"/customers/{org.id}/{tab}").status_code == 200, tab
            counts.append(len(statements))
        return counts

    company.member(Role.MANAGER)

    def add_one_of_each(number: int) -> None:
        email = f"c{number}@noor.example"
        contact = add_contact(company, org, f"Contact {number}", email=email)
        add_conversations(company, contact.email, contact.name, 1)
        add_task(company, org, f"Task {number}", assigned_to=company.user_ids[Role.MANAGER])
        reward(company, f"Reward {number}", 10 + number)
        with tenant_session(company.engine, company.company_id) as session:
            loyalty.earn_points(session, company.actor(), member_id, 5, f"visit {number}")
            organizations.create_project(
                session, company.actor(), org.id, ProjectCreate(name=f"Project {number}")
            )

    add_one_of_each(0)
    browser.page(f"/customers/{org.id}/journey")
    browser.submit(f"/customers/{org.id}/journey/move", {"to_stage": "contacted"})
    statements_per_tab()  # the first visit stores the company's default workflow and program
    few = statements_per_tab()
    for number in range(1, 5):
        add_one_of_each(number)
    browser.submit(f"/customers/{org.id}/journey/move", {"to_stage": "consultation"})
    assert statements_per_tab() == few


@pytest.mark.parametrize("tab", TABS)
def test_tabs_need_sign_in(company: WebCompany, tab: str) -> None:
    org = organization(company)
    response = company.browser(None).get(f"/customers/{org.id}/{tab}")
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in")
