"""Questions in plain words: a fixed family of English and Arabic questions → safe queries.

A question is normalised (case, Arabic letter variants, Arabic-Indic digits),
matched against the patterns below, and its parts become *parameters* of a
fixed, parameterised query. Nothing the user types is ever SQL. A question
that matches no pattern gets a clear "not understood" with examples.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from majlis.accounts.service import get_company
from majlis.core.i18n import normalize_arabic, normalize_text
from majlis.core.permissions import CUSTOMERS, Action, Actor, require
from majlis.customers.models import Customer
from majlis.journeys.models import Task, TaskStatus, WorkflowState
from majlis.receivables.models import Invoice, InvoiceStatus

DEFAULT_TOP = 10
MAX_TOP = 100
# Arabic city names as people type them (folded), to the stored English names.
ARABIC_CITIES = {
    normalize_text(arabic): english
    for arabic, english in (
        ("دبي", "Dubai"),
        ("أبوظبي", "Abu Dhabi"),
        ("أبو ظبي", "Abu Dhabi"),
        ("الشارقة", "Sharjah"),
        ("عجمان", "Ajman"),
        ("العين", "Al Ain"),
        ("رأس الخيمة", "Ras Al Khaimah"),
        ("الفجيرة", "Fujairah"),
        ("أم القيوين", "Umm Al Quwain"),
    )
}
PERIODS = {
    "today": 0,
    "اليوم": 0,
    "this week": 7,
    "هذا الاسبوع": 7,
    "this month": 30,
    "هذا الشهر": 30,
}
EXAMPLES = [
    "top 10 customers by outstanding balance in Dubai",
    "how many new leads this week",
    "which customers are late in payment",
    "how many customers in stage proposal",
    "my open tasks",
    "أعلى 5 عملاء حسب الرصيد المستحق في دبي",
    "كم عدد العملاء الجدد هذا الأسبوع",
    "العملاء المتأخرون في الدفع",
    "العملاء في مرحلة proposal",
    "مهامي المفتوحة",
]


@dataclass(frozen=True)
class Answer:
    understood: bool
    question: str | None = None
    language: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] = field(default_factory=dict)
    message: str | None = None


Query = Callable[[Session, Actor, dict[str, Any]], dict[str, Any]]


def _city(raw: str | None) -> str | None:
    if not raw:
        return None
    return ARABIC_CITIES.get(raw.strip(), raw.strip().title())


# ----- the parameterised queries ----------------------------------------------------------------
def top_by_balance(session: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    query = select(Customer.id, Customer.name, Customer.city, Customer.outstanding_balance).where(
        Customer.company_id == actor.company_id,
        Customer.deleted_at.is_(None),
        Customer.outstanding_balance > 0,
    )
    if params["city"]:
        query = query.where(func.lower(Customer.city) == params["city"].lower())
    rows = session.execute(
        query.order_by(Customer.outstanding_balance.desc(), Customer.id).limit(params["limit"])
    )
    return {"customers": [_customer_row(row) for row in rows]}


def _customer_row(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "city": row.city,
        "outstanding_balance": str(row.outstanding_balance),
    }


def new_customers(session: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Customers created since the start of today (company time) minus the period's days."""
    zone = ZoneInfo(get_company(session, actor.company_id).time_zone)
    today = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    since = (today - timedelta(days=params["days"])).astimezone(UTC)
    count = session.scalar(
        select(func.count())
        .select_from(Customer)
        .where(
            Customer.company_id == actor.company_id,
            Customer.deleted_at.is_(None),
            Customer.created_at >= since,
        )
    )
    return {"count": int(count or 0), "since": since.isoformat()}


def overdue_customers(session: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Customers with an unpaid invoice past its due date, biggest balance first."""
    overdue = (
        select(Invoice.customer_id)
        .where(
            Invoice.company_id == actor.company_id,
            Invoice.status.in_((InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)),
            Invoice.due_date < datetime.now(UTC).date(),
        )
        .distinct()
    )
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.city, Customer.outstanding_balance)
        .where(
            Customer.company_id == actor.company_id,
            Customer.deleted_at.is_(None),
            Customer.id.in_(overdue),
        )
        .order_by(Customer.outstanding_balance.desc(), Customer.id)
        .limit(params["limit"])
    )
    return {"customers": [_customer_row(row) for row in rows]}


def customers_in_stage(session: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    count = session.scalar(
        select(func.count())
        .select_from(WorkflowState)
        .where(
            WorkflowState.company_id == actor.company_id,
            WorkflowState.stage_key == params["stage"],
        )
    )
    return {"count": int(count or 0)}


def my_open_tasks(session: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    tasks = session.execute(
        select(Task.id, Task.title, Task.due_at, Task.priority)
        .where(
            Task.company_id == actor.company_id,
            Task.assigned_to == actor.user_id,
            Task.status.in_((TaskStatus.OPEN, TaskStatus.CLAIMED)),
        )
        .order_by(Task.rank_at, Task.id)
        .limit(params["limit"])
    )
    return {
        "tasks": [
            {
                "id": str(t.id),
                "title": t.title,
                "due_at": t.due_at.isoformat(),
                "priority": t.priority,
            }
            for t in tasks
        ]
    }


# ----- the question family ------------------------------------------------------------------------
@dataclass(frozen=True)
class Form:
    name: str
    language: str
    pattern: re.Pattern[str]
    query: Query
    parameters: Callable[[re.Match[str]], dict[str, Any]]


def _form(
    name: str,
    language: str,
    pattern: str,
    query: Query,
    parameters: Callable[[re.Match[str]], dict[str, Any]],
) -> Form:
    # Patterns are folded like the questions, so أ/ا, ة/ه and ى/ي all match.
    return Form(name, language, re.compile(normalize_arabic(pattern)), query, parameters)


def _top(match: re.Match[str]) -> dict[str, Any]:
    limit = min(int(match["n"] or DEFAULT_TOP), MAX_TOP)
    return {"limit": limit, "city": _city(match["city"])}


def _period(match: re.Match[str]) -> dict[str, Any]:
    return {"days": PERIODS[normalize_arabic(match["period"])], "period": match["period"]}


def _list(match: re.Match[str]) -> dict[str, Any]:
    return {"limit": MAX_TOP}


FORMS = (
    _form(
        "top_customers_by_balance",
        "en",
        r"^(?:show |list )?(?:the )?top (?P<n>\d+ )?customers by (?:outstanding )?"
        r"(?:balance|amount owed)(?: in (?P<city>[a-z ]+))?\??$",
        top_by_balance,
        _top,
    ),
    _form(
        "top_customers_by_balance",
        "ar",
        r"^(?:اعلى|أعلى|اكبر|أكبر) (?P<n>\d+ )?عملاء (?:حسب|من حيث) (?:الرصيد المستحق|الرصيد|"
        r"المستحقات)(?: في (?P<city>.+?))?\؟?$",
        top_by_balance,
        _top,
    ),
    _form(
        "new_customers",
        "en",
        r"^how many new (?:leads|customers)(?: did we get)? "
        r"(?P<period>today|this week|this month)\??$",
        new_customers,
        _period,
    ),
    _form(
        "new_customers",
        "ar",
        r"^كم عدد العملاء (?:الجدد|المحتملين الجدد) (?P<period>اليوم|هذا الأسبوع|هذا الشهر)\؟?$",
        new_customers,
        _period,
    ),
    _form(
        "overdue_customers",
        "en",
        r"^(?:which |list |show )?(?:the )?customers (?:are |who are )?"
        r"(?:overdue|late (?:in|on|with) (?:payment|paying))\??$",
        overdue_customers,
        _list,
    ),
    _form(
        "overdue_customers",
        "ar",
        r"^(?:من هم )?العملاء المتأخر(?:ون|ين) (?:في|عن) (?:الدفع|السداد)\؟?$",
        overdue_customers,
        _list,
    ),
    _form(
        "customers_in_stage",
        "en",
        r"^how many customers (?:are )?in (?:the )?(?:stage )?(?P<stage>[a-z_]+)(?: stage)?\??$",
        customers_in_stage,
        lambda m: {"stage": m["stage"]},
    ),
    _form(
        "customers_in_stage",
        "ar",
        r"^(?:كم عدد )?العملاء في مرحلة (?P<stage>[a-z_]+)\؟?$",
        customers_in_stage,
        lambda m: {"stage": m["stage"]},
    ),
    _form("my_open_tasks", "en", r"^(?:what are |show )?my open tasks\??$", my_open_tasks, _list),
    _form("my_open_tasks", "ar", r"^(?:ما هي )?مهامي المفتوحة\؟?$", my_open_tasks, _list),
)


def ask(session: Session, actor: Actor, question: str) -> Answer:
    """Answer one question of the documented family, or say it was not understood."""
    require(actor, CUSTOMERS, Action.VIEW)
    text = normalize_text(question)
    for form in FORMS:
        match = form.pattern.match(text)
        if match:
            params = form.parameters(match)
            return Answer(
                True, form.name, form.language, params, form.query(session, actor, params)
            )
    return Answer(
        understood=False,
        message="I did not understand that question. I can answer these kinds of questions:",
        answer={"examples": EXAMPLES},
    )
