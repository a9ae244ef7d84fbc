"""Reminder templates: bilingual, per escalation level, rendered by Jinja2 in a sandbox.

Companies write their own templates, so a template is untrusted input: it is
rendered by `SandboxedEnvironment` (no attribute access to Python internals),
autoescaped, and checked when saved — syntax, and that it uses only the
variables listed in `TEMPLATE_VARIABLES`. Arabic emails are wrapped in a
`lang="ar" dir="rtl"` document by the layout, whatever the template says.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from jinja2 import TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from majlis.core import audit
from majlis.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from majlis.core.ids import new_id
from majlis.core.permissions import Action, Actor, require
from majlis.receivables.ledger import RECEIVABLES
from majlis.receivables.models import EscalationLevel, ReminderLanguage, ReminderTemplate
from majlis.receivables.schemas import TemplateIn

TEMPLATE_VARIABLES = {
    "customer_name": "the customer's name (Arabic name in Arabic emails when known)",
    "company_name": "your company's name",
    "invoices": "list of invoices: number, issue_date, due_date, amount, balance, days_overdue",
    "invoice_count": "how many invoices the reminder covers",
    "total_amount": "what is due in total (use |money)",
    "currency": "the currency code",
    "oldest_days_overdue": "days the oldest invoice is overdue",
    "escalation_level": "POLITE, FIRM, URGENT or FINAL",
    "summary_only": "true when there are more invoices than the template's max_invoice_count",
}


def _money(value: Decimal | int | float) -> str:
    return f"{Decimal(value):,.2f}"


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(autoescape=autoescape, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    return env


_HTML = _environment(autoescape=True)
_PLAIN = _environment(autoescape=False)

_LAYOUT = _HTML.from_string(
    """<!doctype html>
<html lang="{{ lang }}" dir="{{ direction }}">
<head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: Tahoma, Arial, sans-serif; direction: {{ direction }};
 text-align: {{ 'right' if direction == 'rtl' else 'left' }}">
{{ body }}
</body>
</html>
"""
)

_DEFAULT_SUBJECT = {
    ReminderLanguage.EN: (
        "{% if escalation_level == 'FINAL' %}Final notice{% elif escalation_level == 'URGENT' %}"
        "Urgent{% else %}Payment reminder{% endif %}: {{ invoice_count }} overdue invoice"
        "{{ 's' if invoice_count > 1 }} from {{ company_name }}"
    ),
    ReminderLanguage.AR: (
        "{% if escalation_level == 'FINAL' %}إشعار نهائي{% elif escalation_level == 'URGENT' %}"
        "تنبيه عاجل{% else %}تذكير بالدفع{% endif %}: {{ invoice_count }} فاتورة مستحقة"
        " — {{ company_name }}"
    ),
}

_DEFAULT_BODY = {
    ReminderLanguage.EN: """<p>Dear {{ customer_name }},</p>
{% if escalation_level == 'POLITE' %}<p>This is a friendly reminder that the following invoices
are past their due date. If you have already paid, thank you, and please ignore this message.</p>
{% elif escalation_level == 'FIRM' %}<p>Our records show the following invoices are still unpaid.
Please arrange payment at your earliest convenience.</p>
{% elif escalation_level == 'URGENT' %}<p>The following invoices are seriously overdue.
Please pay them now or contact us today.</p>
{% else %}<p>This is our final notice. Unless the invoices below are paid within seven days,
we will have to take further steps.</p>{% endif %}
{% if summary_only %}<table><tr><th>Overdue invoices</th><td>{{ invoice_count }}</td></tr>
<tr><th>Oldest overdue</th><td>{{ oldest_days_overdue }} days</td></tr>
<tr><th>Total due</th><td>{{ total_amount|money }} {{ currency }}</td></tr></table>
<p>The attached statement lists every invoice.</p>
{% else %}<table><tr><th>Invoice</th><th>Due date</th><th>Amount due</th><th>Days overdue</th></tr>
{% for invoice in invoices %}<tr><td>{{ invoice.number }}</td><td>{{ invoice.due_date }}</td>
<td>{{ invoice.balance|money }} {{ currency }}</td><td>{{ invoice.days_overdue }}</td></tr>
{% endfor %}<tr><th colspan="2">Total due</th><th>{{ total_amount|money }} {{ currency }}</th>
<td></td></tr></table>{% endif %}
<p>Kind regards,<br>{{ company_name }}</p>""",
    ReminderLanguage.AR: """<p>عزيزنا {{ customer_name }}،</p>
{% if escalation_level == 'POLITE' %}<p>نود تذكيركم بلطف بأن الفواتير التالية قد تجاوزت تاريخ
استحقاقها. إن كنتم قد سددتموها فنشكركم ونرجو تجاهل هذه الرسالة.</p>
{% elif escalation_level == 'FIRM' %}<p>تشير سجلاتنا إلى أن الفواتير التالية لم تُسدد بعد.
نرجو منكم تسويتها في أقرب وقت ممكن.</p>
{% elif escalation_level == 'URGENT' %}<p>الفواتير التالية متأخرة كثيراً عن موعد استحقاقها.
نرجو السداد فوراً أو التواصل معنا اليوم.</p>
{% else %}<p>هذا إشعارنا النهائي. في حال عدم سداد الفواتير أدناه خلال سبعة أيام سنضطر
لاتخاذ الإجراءات اللازمة.</p>{% endif %}
{% if summary_only %}<table><tr><th>عدد الفواتير المتأخرة</th><td>{{ invoice_count }}</td></tr>
<tr><th>أقدم تأخير</th><td>{{ oldest_days_overdue }} يوماً</td></tr>
<tr><th>الإجمالي المستحق</th><td>{{ total_amount|money }} {{ currency }}</td></tr></table>
<p>كشف الحساب المرفق يتضمن جميع الفواتير.</p>
{% else %}<table><tr><th>رقم الفاتورة</th><th>تاريخ الاستحقاق</th><th>المبلغ المستحق</th>
<th>أيام التأخير</th></tr>
{% for invoice in invoices %}<tr><td>{{ invoice.number }}</td><td>{{ invoice.due_date }}</td>
<td>{{ invoice.balance|money }} {{ currency }}</td><td>{{ invoice.days_overdue }}</td></tr>
{% endfor %}<tr><th colspan="2">الإجمالي المستحق</th>
<th>{{ total_amount|money }} {{ currency }}</th><td></td></tr></table>{% endif %}
<p>مع خالص التحيات،<br>{{ company_name }}</p>""",
}
DEFAULT_MAX_INVOICE_COUNT = 10


# ----- validation and storage ------------------------------------------------------------
def render_sample(template: ReminderTemplate) -> RenderedEmail:
    """The template rendered with two sample invoices, for staff to check before use."""
    context = _sample_context()
    items = [InvoiceLineItem(**invoice) for invoice in context["invoices"]]
    return render_reminder(
        template,
        customer_name=context["customer_name"],
        company_name=context["company_name"],
        invoices=items,
        currency=context["currency"],
        level=template.escalation_level,
    )


def _sample_context() -> dict[str, Any]:
    invoice = {
        "number": "INV-1",
        "issue_date": date(2026, 1, 1),
        "due_date": date(2026, 1, 31),
        "amount": Decimal("100.00"),
        "balance": Decimal("100.00"),
        "days_overdue": 10,
    }
    return {
        "customer_name": "Sample",
        "company_name": "Sample Co",
        "invoices": [invoice, {**invoice, "number": "INV-2"}],
        "invoice_count": 2,
        "total_amount": Decimal("200.00"),
        "currency": "AED",
        "oldest_days_overdue": 10,
        "escalation_level": "POLITE",
        "summary_only": False,
    }


def template_variables(field: str, source: str, env: SandboxedEnvironment) -> list[str]:
    """The variables `source` uses; raises ValidationFailed on bad syntax or unknown names."""
    try:
        parsed = env.parse(source)
    except TemplateSyntaxError as exc:
        raise ValidationFailed.single(field, f"line {exc.lineno}: {exc.message}") from exc
    used = meta.find_undeclared_variables(parsed)
    unknown = sorted(used - set(TEMPLATE_VARIABLES))
    if unknown:
        raise ValidationFailed.single(
            field,
            f"unknown variable(s) {', '.join(unknown)}; allowed: {', '.join(TEMPLATE_VARIABLES)}",
        )
    try:
        env.from_string(source).render(_sample_context())
    except (SecurityError, UndefinedError, TypeError, ValueError) as exc:
        raise ValidationFailed.single(field, f"does not render: {exc}") from exc
    return sorted(used)


def validate_template(draft: TemplateIn) -> list[str]:
    errors: list[FieldError] = []
    variables: set[str] = set()
    for field, source, env in (
        ("subject", draft.subject, _PLAIN),
        ("body_html", draft.body_html, _HTML),
    ):
        try:
            variables.update(template_variables(field, source, env))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return sorted(variables)


def save_template(
    session: Session, actor: Actor, draft: TemplateIn, template_id: uuid.UUID | None = None
) -> ReminderTemplate:
    """Create or replace a template after checking its syntax and variables."""
    require(actor, RECEIVABLES, Action.ADMINISTER)
    variables = validate_template(draft)
    template = (
        get_template(session, actor, template_id)
        if template_id
        else ReminderTemplate(company_id=actor.company_id, id=new_id())
    )
    for name, value in draft.model_dump().items():
        setattr(template, name, value)
    template.variables = variables
    savepoint = session.begin_nested()
    try:
        session.add(template)
        session.flush()
    except IntegrityError as exc:
        savepoint.rollback()
        raise Conflict(
            f"a {draft.language} {draft.escalation_level} template"
            f" {'with' if draft.supports_consolidation else 'without'} consolidation exists"
        ) from exc
    savepoint.commit()
    audit.record(
        session,
        actor,
        "reminder_template.saved",
        "reminder_template",
        template.id,
        after={**draft.model_dump(mode="json"), "variables": variables},
    )
    return template


def get_template(session: Session, actor: Actor, template_id: uuid.UUID) -> ReminderTemplate:
    require(actor, RECEIVABLES, Action.VIEW)
    template = session.get(ReminderTemplate, (actor.company_id, template_id))
    if template is None:
        raise NotFound("reminder template", template_id)
    return template


def list_templates(session: Session, actor: Actor) -> list[ReminderTemplate]:
    require(actor, RECEIVABLES, Action.VIEW)
    return list(
        session.scalars(
            select(ReminderTemplate)
            .where(ReminderTemplate.company_id == actor.company_id)
            .order_by(ReminderTemplate.language, ReminderTemplate.escalation_level)
        )
    )


def template_for(
    session: Session,
    actor: Actor,
    language: ReminderLanguage,
    level: EscalationLevel,
    invoice_count: int,
) -> ReminderTemplate:
    """The company's template for this slot, else the built-in one for the language."""
    candidates = session.scalars(
        select(ReminderTemplate).where(
            ReminderTemplate.company_id == actor.company_id,
            ReminderTemplate.language == language,
            ReminderTemplate.escalation_level == level,
        )
    ).all()
    # A consolidated email needs a template that can list several invoices;
    # a single-invoice email prefers a dedicated one but can use either.
    usable = [t for t in candidates if t.supports_consolidation or invoice_count == 1]
    usable.sort(key=lambda t: t.supports_consolidation == (invoice_count > 1), reverse=True)
    if usable:
        return usable[0]
    return ReminderTemplate(
        name=f"built-in {language}",
        language=language,
        escalation_level=level,
        supports_consolidation=True,
        max_invoice_count=DEFAULT_MAX_INVOICE_COUNT,
        subject=_DEFAULT_SUBJECT[language],
        body_html=_DEFAULT_BODY[language],
        variables=sorted(TEMPLATE_VARIABLES),
    )


# ----- rendering ---------------------------------------------------------------------------
@dataclass(frozen=True)
class InvoiceLineItem:
    number: str
    issue_date: date
    due_date: date
    amount: Decimal
    balance: Decimal
    days_overdue: int


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str
    statement_csv: str | None


def _statement(invoices: list[InvoiceLineItem], currency: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["invoice", "issue_date", "due_date", "amount", "balance", "currency", "days"])
    for item in invoices:
        writer.writerow(
            [
                item.number,
                item.issue_date,
                item.due_date,
                item.amount,
                item.balance,
                currency,
                item.days_overdue,
            ]
        )
    return buffer.getvalue()


def _plain_text(context: dict[str, Any]) -> str:
    lines = [f"{context['customer_name']},", ""]
    lines += [
        f"{i.number}  due {i.due_date}  {_money(i.balance)} {context['currency']}"
        for i in context["invoices"]
    ]
    lines += ["", f"Total: {_money(context['total_amount'])} {context['currency']}"]
    return "\n".join(lines)


def render_reminder(
    template: ReminderTemplate,
    *,
    customer_name: str,
    company_name: str,
    invoices: list[InvoiceLineItem],
    currency: str,
    level: EscalationLevel,
) -> RenderedEmail:
    """Render subject, HTML (in the RTL layout for Arabic) and a plain-text part."""
    summary_only = len(invoices) > template.max_invoice_count
    context: dict[str, Any] = {
        "customer_name": customer_name,
        "company_name": company_name,
        "invoices": [vars(i) for i in invoices],
        "invoice_count": len(invoices),
        "total_amount": sum((i.balance for i in invoices), Decimal(0)),
        "currency": currency,
        "oldest_days_overdue": max(i.days_overdue for i in invoices),
        "escalation_level": str(level),
        "summary_only": summary_only,
    }
    subject = " ".join(_PLAIN.from_string(template.subject).render(context).split())
    body = _HTML.from_string(template.body_html).render(context)
    rtl = template.language is ReminderLanguage.AR
    html = _LAYOUT.render(
        lang=str(template.language),
        direction="rtl" if rtl else "ltr",
        subject=subject,
        body=Markup(body),
    )
    return RenderedEmail(
        subject=subject,
        html=html,
        text=_plain_text({**context, "invoices": invoices}),
        statement_csv=_statement(invoices, currency) if summary_only else None,
    )
