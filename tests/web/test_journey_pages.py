"""Journey board and my tasks over the real server: columns, moves, refusals, claiming."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from tests.web.conftest import WebCompany
from tests.web.test_page_safety import counting_statements

from majlis.core.audit import AuditEntry
from majlis.core.db import tenant_session
from majlis.core.permissions import Role
from majlis.customers.models import Customer
from majlis.customers.service import delete_customer
from majlis.journeys import board, queue, service
from majlis.journeys.models import Task, TaskKind, TaskStatus, WorkflowAction
from majlis.journeys.schemas import JourneyUpdate, TaskCreate
from majlis.web import journey_pages

HOSTILE = "<script>alert(1)</script>"


def move(company: WebCompany, customer: Customer, *stages: str) -> None:
    with tenant_session(company.engine, company.company_id) as session:
        for stage in stages:
            service.move_stage(session, company.actor(), customer.id, stage)


def stage_of(company: WebCompany, customer_id: uuid.UUID) -> str:
    with tenant_session(company.engine, company.company_id) as session:
        return service.journey_state(session, company.actor(), customer_id).stage_key


def task(
    company: WebCompany,
    title: str,
    *,
    due_in_hours: float = 24,
    assigned_to: uuid.UUID | None = None,
    customer: Customer | None = None,
    deal_value: str | None = None,
) -> uuid.UUID:
    draft = TaskCreate(
        kind=TaskKind.CALL,
        title=title,
        due_at=datetime.now(UTC) + timedelta(hours=due_in_hours),
        customer_id=customer.id if customer else None,
        deal_value=Decimal(deal_value) if deal_value else None,
        assigned_to=assigned_to,
        assign=None if assigned_to else "pool",
    )
    with tenant_session(company.engine, company.company_id) as session:
        return queue.create_task(session, company.actor(), draft).id


def column(page_html: str, stage: str) -> str:
    """The HTML of one board column."""
    match = re.search(rf'data-stage="{stage}".*?</section>', page_html, re.S)
    assert match, f"no column {stage}"
    return match.group(0)


def count_of(page_html: str, stage: str) -> int:
    match = re.search(r'<span class="count">.*?</span> (\d+)</span>', column(page_html, stage))
    assert match
    return int(match.group(1))


# ----- the board ---------------------------------------------------------------------------
def test_board_has_a_column_per_stage_in_order_with_counts(company: WebCompany) -> None:
    browser = company.browser(Role.OWNER)
    never_moved = company.customer(name="Never Moved")
    contacted = company.customer(name="Called Once")
    move(company, contacted, "contacted")
    with tenant_session(company.engine, company.company_id) as session:
        service.update_journey(
            session, company.actor(), contacted.id, JourneyUpdate(deal_value=Decimal("12500"))
        )
    page = browser.page("/journeys")
    assert page.status_code == 200
    stages = re.findall(r'<section class="board-column[^"]*" data-stage="([a-z_]+)"', page.text)
    assert stages == [s.key for s in service.DEFAULT_STAGES]
    assert count_of(page.text, "lead") == 1 and count_of(page.text, "contacted") == 1
    assert count_of(page.text, "won") == 0
    assert "Never Moved" in column(page.text, "lead")
    assert "Called Once" in column(page.text, "contacted")
    assert "AED12,500.00" in column(page.text, "contacted")
    assert 'data-next="contacted lost"' in column(page.text, "lead")
    assert f"/journeys/{never_moved.id}/stage" in page.text


def test_board_columns_are_capped_with_a_keyset_more_link(
    company: WebCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = company.browser(Role.OWNER)
    for i in range(3):
        company.customer(name=f"Lead {i}")
    monkeypatch.setattr(journey_pages, "COLUMN_SIZE", 2)
    page = browser.page("/journeys")
    lead = column(page.text, "lead")
    assert lead.count('class="board-card"') == 2 and count_of(page.text, "lead") == 3
    more = html.unescape(re.search(r'href="(/journeys/stages/lead\?cursor=[^"]+)"', lead)[1])
    rest = browser.page(more)
    assert rest.status_code == 200
    assert rest.text.count('class="board-card"') == 1
    assert "Lead 0" in rest.text  # newest first: the oldest is on the next page


def test_mine_shows_only_my_customers(company: WebCompany) -> None:
    sales = company.browser(Role.SALES)
    company.customer(name="Someone Elses")
    mine = company.customer(name="My Own Lead")
    with tenant_session(company.engine, company.company_id) as session:
        service.update_journey(
            session,
            company.actor(),
            mine.id,
            JourneyUpdate(assigned_to=company.user_ids[Role.SALES]),
        )
    page = sales.page("/journeys?mine=true")
    assert "My Own Lead" in page.text and "Someone Elses" not in page.text
    assert count_of(page.text, "lead") == 1
    everyone = sales.page("/journeys")
    assert "Someone Elses" in everyone.text and count_of(everyone.text, "lead") == 2


def test_moving_through_the_form_uses_the_service(company: WebCompany) -> None:
    browser = company.browser(Role.SALES)
    customer = company.customer(name="Mover")
    browser.page("/journeys")
    response = browser.submit(
        f"/journeys/{customer.id}/stage", {"to_stage": "contacted", "next": "/journeys"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/journeys"
    assert stage_of(company, customer.id) == "contacted"
    page = browser.page("/journeys")
    assert "The customer was moved." in page.text
    assert "Mover" in column(page.text, "contacted")
    with tenant_session(company.engine, company.company_id) as session:
        history = session.scalars(
            select(WorkflowAction).where(WorkflowAction.customer_id == customer.id)
        ).all()
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity_id == customer.id, AuditEntry.action == "journey.moved")
        )
    assert [(a.from_stage, a.to_stage) for a in history] == [("lead", "contacted")]
    assert history[0].actor_id == company.user_ids[Role.SALES] and audited == 1


def test_a_refused_move_shows_the_reason_and_the_card_stays(company: WebCompany) -> None:
    browser = company.browser(Role.OWNER)
    customer = company.customer(name="Stays Put")
    browser.page("/journeys")
    response = browser.submit(f"/journeys/{customer.id}/stage", {"to_stage": "won"})
    assert response.status_code == 422
    assert "That move was refused." in response.text
    assert "cannot move from &#39;lead&#39; to &#39;won&#39;; allowed: contacted, lost" in (
        response.text
    )
    assert "Stays Put" in column(response.text, "lead")
    assert stage_of(company, customer.id) == "lead"
    # a closed stage leads only back to the start
    move(company, customer, "lost")
    closed = browser.submit(f"/journeys/{customer.id}/stage", {"to_stage": "proposal"})
    assert closed.status_code == 422 and "allowed: lead" in closed.text
    assert stage_of(company, customer.id) == "lost"
    unknown = browser.submit(f"/journeys/{customer.id}/stage", {"to_stage": "nowhere"})
    assert unknown.status_code == 422 and "no stage &#39;nowhere&#39;" in unknown.text


def test_analysts_see_no_move_controls_and_a_forged_move_is_403(company: WebCompany) -> None:
    analyst = company.browser(Role.ANALYST)
    customer = company.customer(name="Look Only")
    page = analyst.page("/journeys")
    assert page.status_code == 200 and "Look Only" in page.text
    assert "move-form" not in page.text and 'draggable="true"' not in page.text
    forged = analyst.submit(f"/journeys/{customer.id}/stage", {"to_stage": "contacted"})
    assert forged.status_code == 403
    assert stage_of(company, customer.id) == "lead"


def test_moves_need_the_csrf_token(company: WebCompany) -> None:
    browser = company.browser(Role.OWNER)
    customer = company.customer(name="Csrf")
    response = browser.post(f"/journeys/{customer.id}/stage", data={"to_stage": "contacted"})
    assert response.status_code == 403
    assert stage_of(company, customer.id) == "lead"


def test_another_companys_customer_or_stage_is_404(
    company: WebCompany, make_company: Callable[..., WebCompany]
) -> None:
    other = make_company()
    theirs = other.customer(name="Theirs")
    their_task = task(other, "Their task")
    browser = company.browser(Role.OWNER)
    browser.page("/journeys")
    moved = browser.submit(f"/journeys/{theirs.id}/stage", {"to_stage": "contacted"})
    assert moved.status_code == 404
    assert browser.page("/journeys/stages/nowhere").status_code == 404
    assert browser.submit(f"/tasks/{their_task}/claim").status_code == 404
    assert browser.submit(f"/tasks/{their_task}/complete").status_code == 404
    assert stage_of(other, theirs.id) == "lead"


def test_hostile_names_are_escaped_on_the_board_and_tasks(company: WebCompany) -> None:
    browser = company.browser(Role.OWNER)
    customer = company.customer(name=HOSTILE)
    task(company, HOSTILE, customer=customer)
    for path in ("/journeys", "/journeys/stages/lead", "/tasks"):
        page = browser.page(path)
        assert HOSTILE not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path


def test_board_queries_do_not_grow_with_the_cards(company: WebCompany, app_engine: Engine) -> None:
    browser = company.browser(Role.OWNER)
    first = company.customer(name="First")
    move(company, first, "contacted")

    def statements() -> int:
        with counting_statements(app_engine) as seen:
            assert browser.get("/journeys").status_code == 200
        return len(seen)

    few = statements()
    for i in range(6):
        moved = company.customer(name=f"More {i}")
        move(company, moved, "contacted")
    assert statements() == few


def test_board_columns_are_what_stage_cards_and_the_funnel_give_each_stage(
    company: WebCompany,
) -> None:
    """The one-statement board equals `stage_cards` per stage (page and cursor) and the funnel."""
    actor = company.actor(Role.SALES)
    sales = actor.user_id
    for i in range(3):
        company.customer(name=f"Waiting {i}")
    company.customer(Role.SALES, name="Waiting, owned by sales")
    for i, stages in enumerate([("contacted",), ("lost", "lead"), ("contacted",), ("lost",)]):
        moved = company.customer(name=f"Moved {i}")
        move(company, moved, *stages)
        with tenant_session(company.engine, company.company_id) as session:
            service.update_journey(
                session, company.actor(), moved.id, JourneyUpdate(assigned_to=sales)
            )
    trashed = company.customer(name="In the trash")
    move(company, trashed, "contacted")
    with tenant_session(company.engine, company.company_id) as session:
        delete_customer(session, company.actor(), trashed.id)
    boards = {}
    for assigned_to in (None, sales):
        with tenant_session(company.engine, company.company_id) as session:
            columns = boards[assigned_to] = board.board_columns(
                session, actor, assigned_to=assigned_to, limit=2
            )
            funnel = service.funnel_by_stage(session, actor, assigned_to=assigned_to)
            first = funnel[0].stage.key
            assert [c.stage.key for c in columns] == [s.key for s in service.DEFAULT_STAGES]
            assert [c.count for c in columns] == [entry.customers for entry in funnel]
            for col in columns:
                alone = board.stage_cards(
                    session,
                    actor,
                    col.stage.key,
                    first_stage=first,
                    assigned_to=assigned_to,
                    limit=2,
                )
                assert col.cards == alone, (col.stage.key, assigned_to)
    everyone, mine = boards[None], boards[sales]
    assert everyone[0].count == 5 and everyone[0].cards.next_cursor  # paged like stage_cards
    assert [card.name for card in mine[0].cards.items] == ["Moved 1", "Waiting, owned by sales"]
    assert mine[0].cards.next_cursor is None
    assert [c.count for c in mine[:2]] == [2, 2] and "In the trash" not in str(everyone)


# ----- my tasks ----------------------------------------------------------------------------
def test_tasks_page_shows_next_then_mine_then_the_pool(company: WebCompany) -> None:
    browser = company.browser(Role.SALES)
    me = company.user_ids[Role.SALES]
    task(company, "Pool later", due_in_hours=72)
    task(company, "Mine later", due_in_hours=48, assigned_to=me)
    task(company, "Mine soon", due_in_hours=2, assigned_to=me)
    task(company, "Overdue one", due_in_hours=-3, assigned_to=me)
    page = browser.page("/tasks").text
    next_section = page[page.index('id="next-heading"') : page.index('id="mine-heading"')]
    mine_section = page[page.index('id="mine-heading"') : page.index('id="pool-heading"')]
    pool_section = page[page.index('id="pool-heading"') :]
    assert "Overdue one" in next_section
    titles = re.findall(r'<h3 class="task-title"><bdi>(.*?)</bdi>', mine_section)
    assert titles == ["Overdue one", "Mine soon", "Mine later"]
    assert "Pool later" in pool_section and "Mine" not in pool_section
    assert page.count('<span class="badge overdue">Overdue</span>') == 2  # next + mine


def test_due_times_are_shown_in_the_company_time_zone_and_language(company: WebCompany) -> None:
    browser = company.browser(Role.OWNER, **{"Accept-Language": "ar"})
    due = datetime(2030, 1, 15, 21, 30, tzinfo=UTC)  # 16 Jan 01:30 in Dubai
    draft = TaskCreate(kind=TaskKind.VISIT, title="Visit", due_at=due, assign="pool")
    with tenant_session(company.engine, company.company_id) as session:
        queue.create_task(session, company.actor(), draft)
    page = browser.page("/tasks").text
    assert "16 يناير 2030" in page and "زيارة" in page


def test_claim_then_done(company: WebCompany) -> None:
    browser = company.browser(Role.SALES)
    task_id = task(company, "Call back")
    browser.page("/tasks")
    claimed = browser.submit(f"/tasks/{task_id}/claim")
    assert claimed.status_code == 303 and claimed.headers["location"] == "/tasks"
    page = browser.page("/tasks").text
    mine_section = page[page.index('id="mine-heading"') : page.index('id="pool-heading"')]
    assert "Call back" in mine_section and "Claimed" in mine_section
    assert browser.submit(f"/tasks/{task_id}/complete").status_code == 303
    with tenant_session(company.engine, company.company_id) as session:
        done = session.get(Task, (company.company_id, task_id))
        assert done is not None and done.status is TaskStatus.DONE
        assert done.assigned_to == company.user_ids[Role.SALES]


def test_two_people_claiming_one_task_one_wins_the_other_is_told(company: WebCompany) -> None:
    first, second = company.browser(Role.SALES), company.browser(Role.MANAGER)
    task_id = task(company, "Only one of us")
    first.page("/tasks")
    second.page("/tasks")
    assert first.submit(f"/tasks/{task_id}/claim").status_code == 303
    lost = second.submit(f"/tasks/{task_id}/claim")
    assert lost.status_code == 409
    assert "Someone else claimed or finished this task first." in lost.text
    with tenant_session(company.engine, company.company_id) as session:
        claimed = session.get(Task, (company.company_id, task_id))
        assert claimed is not None and claimed.assigned_to == company.user_ids[Role.SALES]


def test_analysts_get_no_task_buttons_and_a_forged_claim_is_403(company: WebCompany) -> None:
    analyst = company.browser(Role.ANALYST)
    task_id = task(company, "Not for analysts")
    page = analyst.page("/tasks")
    assert page.status_code == 200 and "Not for analysts" in page.text
    assert f"/tasks/{task_id}/claim" not in page.text
    assert analyst.submit(f"/tasks/{task_id}/claim").status_code == 403
    assert analyst.submit(f"/tasks/{task_id}/complete").status_code == 403


def test_sales_cannot_work_someone_elses_task(company: WebCompany) -> None:
    sales = company.browser(Role.SALES)
    company.member(Role.MANAGER)
    task_id = task(company, "The manager's", assigned_to=company.user_ids[Role.MANAGER])
    sales.page("/tasks")
    assert sales.submit(f"/tasks/{task_id}/claim").status_code == 403
    assert sales.post(f"/tasks/{task_id}/claim").status_code == 403  # and no CSRF token


def add_tasks(company: WebCompany, me: uuid.UUID, count: int, first_hour: int) -> None:
    """`count` tasks of each kind My tasks reads: mine open, pool, mine claimed, mine done."""
    owner, sales = company.actor(), company.actor(Role.SALES)
    with tenant_session(company.engine, company.company_id) as session:
        for hour in range(first_hour, first_hour + count):
            due = datetime.now(UTC) + timedelta(hours=hour)
            ids = [
                queue.create_task(
                    session,
                    owner,
                    TaskCreate(
                        kind=TaskKind.CALL,
                        title=f"Task {hour} {number}",
                        due_at=due,
                        assigned_to=assignee,
                        assign=None if assignee else "pool",
                    ),
                ).id
                for number, assignee in enumerate((me, None, me, me))
            ]
            queue.claim_task(session, sales, ids[2])
            queue.complete_task(session, sales, ids[3])


def test_tasks_page_queries_do_not_grow_with_the_tasks(
    company: WebCompany, app_engine: Engine
) -> None:
    """A fixed set of statements per page (keyset, no count), first page or later by cursor."""
    browser = company.browser(Role.SALES)
    me = company.user_ids[Role.SALES]
    add_tasks(company, me, 1, first_hour=1)

    def statements(url: str) -> int:
        with counting_statements(app_engine) as seen:
            assert browser.get(url).status_code == 200
        return len(seen)

    few = statements("/tasks")
    add_tasks(company, me, journey_pages.TASKS_SHOWN + 5, first_hour=2)
    page = browser.page("/tasks").text
    assert statements("/tasks") == few
    mine = page[page.index('id="mine-heading"') : page.index('id="pool-heading"')]
    shown = re.findall(r'<h3 class="task-title"><bdi>Task (\d+) (\d)', mine)
    assert len(shown) == 2 * journey_pages.TASKS_SHOWN  # claimed, then open: each capped
    claimed = shown[: journey_pages.TASKS_SHOWN]
    assert claimed == [(str(hour), "2") for hour in range(1, journey_pages.TASKS_SHOWN + 1)]
    cursors = re.findall(r'href="/tasks\?((?:mine|pool)_cursor=[^"]+)"', page)
    assert len(cursors) == 2
    assert statements("/tasks?" + html.unescape("&".join(cursors))) == few


def test_counts_past_the_cap_read_as_cap_plus_on_the_board_exact_on_the_dashboard(
    company: WebCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live counts stop at the cap (no page counts every customer): "3+" with a cap of 3.
    The dashboard's funnel is the analytics refresh's exact count per stage."""
    browser = company.browser(Role.OWNER)
    for i in range(4):
        company.customer(name=f"Waiting {i}")
    for i in range(2):
        move(company, company.customer(name=f"Reached {i}"), "contacted")
    monkeypatch.setattr(service, "COUNT_CAP", 3)
    board = browser.page("/journeys").text
    assert re.search(r'<span class="count">.*?</span> 3\+</span>', column(board, "lead"))
    assert count_of(board, "contacted") == 2
    lead = browser.page("/journeys/stages/lead").text
    assert re.search(r'<span class="count">.*?</span> 3\+</span>', lead)
    with tenant_session(company.engine, company.company_id) as session:
        counts = {row.stage.key: row for row in service.funnel_by_stage(session, company.actor())}
    assert counts["lead"].customers == 4 and counts["lead"].capped
    assert counts["contacted"].customers == 2 and not counts["contacted"].capped
    assert browser.submit("/dashboard/refresh").status_code == 303
    dashboard = browser.page("/dashboard").text
    assert re.search(r"<title>Lead: 4</title>", dashboard)
    assert re.search(r"<title>Contacted: 2</title>", dashboard)


def test_first_column_merges_never_moved_and_moved_back_newest_first(
    company: WebCompany,
) -> None:
    browser = company.browser(Role.OWNER)
    company.customer(name="First Waiting")
    returned = company.customer(name="Came Back")
    move(company, returned, "lost", "lead")
    company.customer(name="Latest Waiting")
    lead = column(browser.page("/journeys").text, "lead")
    names = re.findall(r"(Latest Waiting|Came Back|First Waiting)", lead)
    assert list(dict.fromkeys(names)) == ["Latest Waiting", "Came Back", "First Waiting"]
    assert count_of(browser.page("/journeys").text, "lead") == 3
