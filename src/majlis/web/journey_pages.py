"""Journey pages: the kanban board of the company's stages, and the signed-in user's tasks.

The board reads `journeys.board.board_columns` (the stages, then every column's
capped count and first cards in one statement); a column's further pages are
`board.stage_cards` (keyset-paged, the same order and subquery); a move is
`service.move_stage`, the service behind `POST /api/v1/customers/{id}/journey/move`,
so transition rules, the action history, the event automation hears and the audit
entry are the API's own. Dragging a card (`static/board.js`) submits the same
"Move to…" form a keyboard user submits.

My tasks reads and writes through `journeys.queue`: the next best task first
(`next_task`), then the user's claimed and open tasks in queue order, then the
unassigned pool; **Claim** is `claim_task` (row-locked: of two people claiming the
same task, the second is told someone was first) and **Done** is `complete_task`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from majlis.core.errors import Conflict, NotFound, ValidationFailed
from majlis.core.permissions import Action, can
from majlis.customers.models import Customer
from majlis.journeys import board, queue, service
from majlis.journeys.models import Task, TaskKind, TaskStatus, WorkflowStage
from majlis.web.dashboard_pages import capped_count
from majlis.web.forms import VerifiedForm, text_value
from majlis.web.locale import N_
from majlis.web.rendering import Page, PageRoute, redirect, safe_next, signed_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)
T = TypeVar("T")

# Cards drawn per column: rendering them, not reading them, is most of the board's time
# (each has a move form), and 8 columns × 20 keeps the page inside its 50 ms.
COLUMN_SIZE = 20
TASKS_SHOWN = 25
TASK_KINDS = {
    TaskKind.CALL: N_("Call"),
    TaskKind.MESSAGE: N_("Message"),
    TaskKind.VISIT: N_("Visit"),
    TaskKind.SEND_QUOTE: N_("Send a quote"),
    TaskKind.COLLECT_PAYMENT: N_("Collect payment"),
}
TASK_STATUSES = {
    TaskStatus.OPEN: N_("Open"),
    TaskStatus.CLAIMED: N_("Claimed"),
    TaskStatus.DONE: N_("Done"),
    TaskStatus.CANCELLED: N_("Cancelled"),
}
TASK_TAKEN = N_("Someone else claimed or finished this task first.")


def attempt(page: Page, write: Callable[[], T], *refusals: type[Exception]) -> Exception | None:
    """Run a service write in a savepoint; a refusal the page can explain is returned."""
    try:
        with page.db.begin_nested():
            write()
    except refusals as exc:
        return exc
    return None


# ----- the board ---------------------------------------------------------------------------
def stage_name(page: Page, stage: WorkflowStage) -> str:
    """The stage's name in the reader's language where the company gave one."""
    return page.fmt.name_of(stage)


def _assignee_filter(page: Page, mine: bool) -> uuid.UUID | None:
    return page.actor.user_id if mine else None


def board_columns(page: Page, mine: bool) -> list[board.BoardColumn]:
    """Every stage in order with its capped count and its newest cards (one query)."""
    return board.board_columns(
        page.db, page.actor, assigned_to=_assignee_filter(page, mine), limit=COLUMN_SIZE
    )


def _board_values(page: Page) -> dict[str, Any]:
    return {
        "stage_name": lambda stage: stage_name(page, stage),
        "can_move": can(page.actor, service.JOURNEYS, Action.EDIT),
        "count_text": lambda count: capped_count(page, count, service.COUNT_CAP),
        "currency": page.company.default_currency,
    }


def _render_board(page: Page, mine: bool, refusal: str | None = None) -> Response:
    return page.render(
        "journeys/board.html",
        status_code=422 if refusal else 200,
        columns=board_columns(page, mine),
        mine=mine,
        refusal=refusal,
        **_board_values(page),
    )


@router.get("/journeys")
def journey_board(request: Request, mine: bool = False) -> Response:
    with signed_in(request) as page:
        return _render_board(page, mine)


@router.get("/journeys/stages/{stage_key}")
def stage_column(
    request: Request, stage_key: str, mine: bool = False, cursor: str | None = None
) -> Response:
    """One column beyond the board's first cards, keyset-paged."""
    with signed_in(request) as page:
        funnel = service.funnel_by_stage(
            page.db, page.actor, assigned_to=_assignee_filter(page, mine)
        )
        entry = next((entry for entry in funnel if entry.stage.key == stage_key), None)
        if entry is None:
            raise NotFound("stage", stage_key)
        cards = board.stage_cards(
            page.db,
            page.actor,
            stage_key,
            first_stage=funnel[0].stage.key,
            assigned_to=_assignee_filter(page, mine),
            cursor=cursor,
            limit=COLUMN_SIZE,
        )
        return page.render(
            "journeys/stage.html",
            column=board.BoardColumn(entry.stage, entry.customers, cards),
            stages=[item.stage for item in funnel],
            mine=mine,
            first_page=cursor is None,
            **_board_values(page),
        )


@router.post("/journeys/{customer_id}/stage")
def move_card(request: Request, customer_id: uuid.UUID, form: VerifiedForm) -> Response:
    """Move a customer through the service; a refused transition shows its reason."""
    with signed_in(request) as page:
        to_stage = text_value(form, "to_stage")
        refused = attempt(
            page,
            lambda: service.move_stage(page.db, page.actor, customer_id, to_stage),
            ValidationFailed,
        )
        mine = text_value(form, "mine") == "true"
        if isinstance(refused, ValidationFailed):
            return _render_board(page, mine, "; ".join(e.message for e in refused.errors))
        page.web.update(flash=N_("The customer was moved."))
        return redirect(request, safe_next(text_value(form, "next"), "/journeys"))


# ----- my tasks ----------------------------------------------------------------------------
def _customer_names(page: Page, tasks: list[Task]) -> dict[uuid.UUID, str]:
    """The names of the tasks' customers, in one query."""
    ids = {task.customer_id for task in tasks if task.customer_id is not None}
    if not ids:
        return {}
    rows = page.db.execute(
        select(Customer.id, Customer.name).where(
            Customer.company_id == page.actor.company_id, Customer.id.in_(ids)
        )
    )
    return dict(rows.tuples().all())


def _render_tasks(
    page: Page, mine_cursor: str | None, pool_cursor: str | None, refusal: str | None = None
) -> Response:
    actor, db = page.actor, page.db
    next_task = queue.next_task(db, actor)
    claimed = queue.list_tasks(
        db, actor, status=TaskStatus.CLAIMED, assigned_to=actor.user_id, limit=TASKS_SHOWN
    )
    mine = queue.list_tasks(
        db,
        actor,
        status=TaskStatus.OPEN,
        assigned_to=actor.user_id,
        cursor=mine_cursor,
        limit=TASKS_SHOWN,
    )
    pool = queue.list_tasks(
        db, actor, status=TaskStatus.OPEN, unassigned=True, cursor=pool_cursor, limit=TASKS_SHOWN
    )
    shown = [*claimed.items, *mine.items, *pool.items, *([next_task] if next_task else [])]
    now = datetime.now(UTC)
    return page.render(
        "journeys/tasks.html",
        status_code=409 if refusal else 200,
        next_task=next_task,
        claimed=claimed.items,
        mine=mine,
        pool=pool,
        names=_customer_names(page, shown),
        kinds=TASK_KINDS,
        statuses=TASK_STATUSES,
        is_overdue=lambda task: task.due_at < now,
        can_work=can(actor, service.JOURNEYS, Action.EDIT),
        refusal=refusal,
    )


@router.get("/tasks")
def my_tasks(
    request: Request, mine_cursor: str | None = None, pool_cursor: str | None = None
) -> Response:
    with signed_in(request) as page:
        return _render_tasks(page, mine_cursor, pool_cursor)


def _task_write(request: Request, write: Callable[[Page], object]) -> Response:
    """Claim or complete through the queue; losing a race comes back as a clear message."""
    with signed_in(request) as page:
        if attempt(page, lambda: write(page), Conflict) is not None:
            return _render_tasks(page, None, None, TASK_TAKEN)
        return redirect(request, "/tasks")


@router.post("/tasks/{task_id}/claim")
def claim(request: Request, task_id: uuid.UUID, form: VerifiedForm) -> Response:
    return _task_write(request, lambda page: queue.claim_task(page.db, page.actor, task_id))


@router.post("/tasks/{task_id}/complete")
def complete(request: Request, task_id: uuid.UUID, form: VerifiedForm) -> Response:
    return _task_write(request, lambda page: queue.complete_task(page.db, page.actor, task_id))
