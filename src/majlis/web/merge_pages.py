"""Merge pages: two customers side by side, a preview, the merge and its undo; the review queue.

Every page calls the services the JSON API calls: `merges.service` (dry run,
undo, the merge event), `dedupe.review` (the queue, decisions, bulk accept,
and the merge itself, which re-keys the survivor for the duplicate check) and
`customers.service` (the two customers, the search for the second one). So
the merge permission, tenancy, validation and audit are the API's own: a role
that may not merge sees no merge control and a forged POST is the service's 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from majlis.core.errors import Conflict, FieldError, MovedPermanently, ValidationFailed
from majlis.core.i18n import ascii_digits
from majlis.core.permissions import CUSTOMERS, Action, can, require
from majlis.customers import service as customers
from majlis.customers.models import Customer
from majlis.customers.schemas import CustomerOut
from majlis.dedupe import review
from majlis.dedupe.models import DuplicatePair, PairStatus
from majlis.merges import service as merges
from majlis.merges.fields import COMBINE, MULTI_VALUED, OTHER_PREFIX, SURVIVOR, merged_values
from majlis.web.customer_forms import FormField, profile_fields
from majlis.web.customer_pages import (
    UNREADABLE_SEARCH,
    ListQuery,
    find_customers,
)
from majlis.web.forms import VerifiedForm, text_value
from majlis.web.locale import N_, Formatter
from majlis.web.rendering import Page, PageRoute, redirect, safe_next, signed_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)
T = TypeVar("T")

LEFT, RIGHT = "left", "right"
SEARCH_RESULTS = 10
QUEUE_PAGE_SIZE = 25
BULK_LIMIT = 100  # more than a page of the queue; the API's bulk accept caps at 500
PAIR_STATUSES = (
    (PairStatus.PENDING.value, N_("Open")),
    (PairStatus.SKIPPED.value, N_("Skipped")),
    (PairStatus.MERGED.value, N_("Merged pairs")),
    (PairStatus.NOT_DUPLICATE.value, N_("Not duplicates")),
)
OPEN_PAIR_STATUSES = {PairStatus.PENDING, PairStatus.SKIPPED}
# Why a merge or an undo was refused, by the service's `reason`.
REFUSALS = {
    "locked": N_("These customers are being merged or edited right now. Try again."),
    "already-merged": N_("One of these customers was already merged into another one."),
    "unresolved-collision": N_("Both have a record only one of them may keep. Nothing merged."),
    "already-undone": N_("This merge was already undone."),
    "retention-expired": N_("Merges can be undone for 30 days; this one is older."),
    "survivor-changed": N_("The customer that stayed was edited since in a field the merge set."),
    "row-moved-again": N_("Records moved by this merge were given to another customer since."),
    "survivor-merged": N_("The customer that stayed was merged again since. Undo that first."),
    "customer-changed": N_("A merged customer is no longer merged into this one."),
    "customer-deleted": N_("The customer that stayed was deleted since. Restore it first."),
    "collision": N_("Changes made since the merge collide with undoing it."),
}
OTHER_REFUSAL = N_("This could not be done: the customers changed meanwhile.")
# Tables whose moved rows are worth naming; any other table is shown by its name.
MOVED_LABELS = {
    "conversations": N_("Conversations"),
    "invoices": N_("Invoices"),
    "payments": N_("Payments"),
    "contacts": N_("Contacts"),
    "projects": N_("Projects"),
    "tasks": N_("Tasks"),
    "customer_interactions": N_("Interactions"),
    "points_ledger": N_("Loyalty points"),
    "duplicate_pairs": N_("Duplicate reviews"),
}


# ----- the fields a person chooses -------------------------------------------------------------
@dataclass(frozen=True)
class MergeField:
    """One row of the comparison: a choosable field (or contact group) of the merge service."""

    name: str  # the service's choice key
    label: str
    columns: tuple[str, ...]
    widget: str = "text"  # text, list, select, checkbox, date, textarea
    choices: tuple[tuple[str, str], ...] = ()
    direction: str = "auto"

    @property
    def combinable(self) -> bool:
        return self.name in MULTI_VALUED


CONTACT_GROUPS = {
    "email": MergeField(
        "emails", N_("Email addresses"), ("email", "secondary_emails"), "list", (), "ltr"
    ),
    "phone": MergeField(
        "phones", N_("Phone numbers"), ("phone", "secondary_phones"), "list", (), "ltr"
    ),
}
DATE_OF_BIRTH = MergeField("date_of_birth", N_("Date of birth"), ("date_of_birth",), "date")


def _from_form_field(field: FormField) -> MergeField:
    widget = {"tags": "list", "email": "text", "tel": "text"}.get(field.widget, field.widget)
    return MergeField(
        field.name, field.label, (field.name,), widget, field.choices, field.direction
    )


def merge_fields(country: str) -> tuple[MergeField, ...]:
    """The profile's fields the merge lets a person choose; the rest follow the service's rules."""
    fields = [
        CONTACT_GROUPS.get(field.name) or _from_form_field(field)
        for field in profile_fields(country)
        if field.name != "kind"
    ]
    return (*fields, DATE_OF_BIRTH)


@dataclass(frozen=True)
class Shown:
    """A field's value as the page shows it: texts, and whether they are our own messages."""

    texts: tuple[str, ...]
    translated: bool = False


def shown(field: MergeField, record: Mapping[str, Any], fmt: Formatter) -> Shown:
    """How one side (or the preview) displays a field; records are the API's JSON shape."""
    values = [record.get(column) for column in field.columns]
    if field.widget == "checkbox":
        return Shown((N_("Yes") if values[0] else N_("No"),), translated=True)
    if field.widget == "select":
        labels = tuple(label for key, label in field.choices if key and key == values[0])
        return Shown(labels, translated=True)
    if field.widget == "date":
        return Shown((fmt.date(date.fromisoformat(values[0])),) if values[0] else ())
    flat: list[Any] = []
    for value in values:
        flat.extend(value if isinstance(value, list) else [value])
    return Shown(tuple(str(value) for value in flat if value not in (None, "")))


@dataclass(frozen=True)
class MergeRow:
    field: MergeField
    left: Shown
    right: Shown
    chosen: str  # left, right or combine

    @property
    def differs(self) -> bool:
        return self.left != self.right


@dataclass(frozen=True)
class Pairing:
    """The two customers on the page, left (`a`) and right (`b`), and which side survives."""

    left: Customer
    right: Customer
    survivor_side: str
    pair_id: uuid.UUID | None = None

    def side(self, name: str) -> Customer:
        return self.left if name == LEFT else self.right

    @property
    def survivor(self) -> Customer:
        return self.side(self.survivor_side)

    @property
    def other(self) -> Customer:
        return self.side(RIGHT if self.survivor_side == LEFT else LEFT)

    def service_choices(self, sides: dict[str, str]) -> dict[str, str]:
        """The page's left/right/combine per field as the service's survivor/other:/combine."""
        return {
            name: COMBINE
            if side == COMBINE
            else SURVIVOR
            if side == self.survivor_side
            else f"{OTHER_PREFIX}{self.other.id}"
            for name, side in sides.items()
        }


def _json(customer: Customer) -> dict[str, Any]:
    return CustomerOut.model_validate(customer).model_dump(mode="json")


def default_sides(pairing: Pairing, fields: tuple[MergeField, ...]) -> dict[str, str]:
    """What the service's resolvers pick without choices, said as left/right/combine."""
    values = merged_values(pairing.survivor, [pairing.other], {})
    other_side = RIGHT if pairing.survivor_side == LEFT else LEFT
    sides = {}
    for field in fields:
        if field.combinable:
            sides[field.name] = COMBINE
        else:
            kept = values[field.name] == getattr(pairing.survivor, field.name)
            sides[field.name] = pairing.survivor_side if kept else other_side
    return sides


def comparison(page: Page, pairing: Pairing, sides: dict[str, str] | None = None) -> list[MergeRow]:
    """One row per mergeable field that either customer has, with the side chosen for it."""
    fields = merge_fields(page.company.country)
    chosen = {**default_sides(pairing, fields), **(sides or {})}
    left, right = _json(pairing.left), _json(pairing.right)
    rows = [
        MergeRow(
            field, shown(field, left, page.fmt), shown(field, right, page.fmt), chosen[field.name]
        )
        for field in fields
    ]
    return [row for row in rows if row.left.texts or row.right.texts]


def posted_sides(form: FormData, fields: tuple[MergeField, ...]) -> dict[str, str]:
    """The choices the form sent; anything but left/right (or combine where allowed) is ignored."""
    sides = {}
    for field in fields:
        side = text_value(form, f"choice_{field.name}")
        if side in (LEFT, RIGHT) or (side == COMBINE and field.combinable):
            sides[field.name] = side
    return sides


# ----- loading the two customers --------------------------------------------------------------
def _oldest_side(left: Customer, right: Customer) -> str:
    """The older customer survives by default, as in the review queue's merge decision."""
    return LEFT if (left.created_at, left.id) <= (right.created_at, right.id) else RIGHT


def load_pairing(
    page: Page, a: uuid.UUID, b: uuid.UUID, survivor: str = "", pair: str = ""
) -> Pairing:
    """Both customers through the customers service (another company's id is a 404)."""
    left = customers.get_customer(page.db, page.actor, a)
    right = customers.get_customer(page.db, page.actor, b)
    side = survivor if survivor in (LEFT, RIGHT) else _oldest_side(left, right)
    return Pairing(left, right, side, _uuid(pair))


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


def _pairing_from_form(page: Page, form: FormData) -> Pairing:
    a, b = _uuid(text_value(form, "a")), _uuid(text_value(form, "b"))
    if a is None or b is None or a == b:
        raise ValidationFailed.single("b", "choose two different customers")
    try:
        return load_pairing(page, a, b, text_value(form, "survivor"), text_value(form, "pair"))
    except MovedPermanently as exc:
        # A form from before a merge: say so rather than redirect a POST.
        raise Conflict(
            f"customer {exc.old_id} was already merged into {exc.new_id}", reason="already-merged"
        ) from exc


# ----- refusals ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Refusal:
    message: str | None = None
    errors: tuple[FieldError, ...] = ()


def attempt(page: Page, work: Callable[[], T]) -> tuple[T | None, Refusal]:
    """Run a service call in a savepoint; a refusal the page can explain comes back as one.

    Permission and not-found errors propagate: the request rolls back and shows an error page.
    """
    try:
        with page.db.begin_nested():
            return work(), Refusal()
    except ValidationFailed as exc:
        return None, Refusal(errors=tuple(exc.errors))
    except Conflict as exc:
        return None, Refusal(REFUSALS.get(str(exc.extra.get("reason")), OTHER_REFUSAL))


# ----- merge: compare, preview, confirm -------------------------------------------------------
def _merge_form(page: Page, pairing: Pairing, status_code: int = 200, **values: Any) -> Response:
    sides = values.pop("sides", None)
    values = {"errors": {}, "refusal": None, "preview": None, **values}
    return page.render(
        "merges/new.html",
        status_code=status_code,
        pairing=pairing,
        rows=comparison(page, pairing, sides),
        left_side=LEFT,
        right_side=RIGHT,
        combine=COMBINE,
        **values,
    )


def _search(page: Page, a: uuid.UUID, q: str) -> Response:
    """With only `a`: find the second customer with the customers list's own search."""
    first = customers.get_customer(page.db, page.actor, a)
    found: list[Customer] = []
    hint = None
    if q:
        try:
            listed, _ = find_customers(page, ListQuery(q=q), SEARCH_RESULTS + 1)
            found = [customer for customer in listed if customer.id != a][:SEARCH_RESULTS]
        except ValidationFailed:
            hint = UNREADABLE_SEARCH
    return page.render("merges/pick.html", first=first, q=q, found=found, search_hint=hint)


@router.get("/merges/new")
def new_merge(
    request: Request,
    a: uuid.UUID,
    b: uuid.UUID | None = None,
    q: str = "",
    survivor: str = "",
    pair: str = "",
) -> Response:
    """The two customers side by side, each field's choice defaulting to the service's pick."""
    with signed_in(request) as page:
        require(page.actor, CUSTOMERS, Action.MERGE)
        if b is None or b == a:
            return _search(page, a, q.strip())
        return _merge_form(page, load_pairing(page, a, b, survivor, pair))


@router.post("/merges/preview")
def preview_merge(request: Request, form: VerifiedForm) -> Response:
    """The service's dry run: the record as it would be and what would move; nothing written."""
    with signed_in(request) as page:
        require(page.actor, CUSTOMERS, Action.MERGE)
        pairing = _pairing_from_form(page, form)
        sides = posted_sides(form, merge_fields(page.company.country))
        result, refusal = attempt(
            page,
            lambda: merges.merge_customers(
                page.db,
                page.actor,
                pairing.survivor.id,
                [pairing.other.id],
                pairing.service_choices(sides),
                dry_run=True,
            ),
        )
        if result is None:
            return _refused(page, pairing, sides, refusal)
        fields = merge_fields(page.company.country)
        preview = [(field, shown(field, result.survivor, page.fmt)) for field in fields]
        return _merge_form(
            page,
            pairing,
            sides=sides,
            posted_sides=sides,
            preview=[(field, value) for field, value in preview if value.texts],
            moved=result.moved,
            collisions=result.collisions,
            moved_labels=MOVED_LABELS,
        )


def _refused(page: Page, pairing: Pairing, sides: dict[str, str], refusal: Refusal) -> Response:
    return _merge_form(
        page,
        pairing,
        status_code=422 if refusal.errors else 409,
        sides=sides,
        refusal=refusal.message,
        errors={error.field.removeprefix("choices."): error.message for error in refusal.errors},
    )


@router.post("/merges")
def confirm_merge(request: Request, form: VerifiedForm) -> Response:
    """Merge as previewed (through the review queue's decision when it came from a pair)."""
    with signed_in(request) as page:
        require(page.actor, CUSTOMERS, Action.MERGE)
        pairing = _pairing_from_form(page, form)
        sides = posted_sides(form, merge_fields(page.company.country))
        choices = pairing.service_choices(sides)
        if pairing.pair_id is not None:
            pair_id = pairing.pair_id

            def work() -> merges.MergeResult:
                return review.merge_pair_as_chosen(
                    page.db, page.actor, pair_id, pairing.survivor.id, choices
                )
        else:

            def work() -> merges.MergeResult:
                return review.merge_and_rekey(
                    page.db, page.actor, pairing.survivor.id, [pairing.other.id], choices
                )

        result, refusal = attempt(page, work)
        if result is None or result.merge_id is None:
            return _refused(page, pairing, sides, refusal)
        page.web.update(flash=N_("Customers merged."))
        return redirect(request, f"/merges/{result.merge_id}")


# ----- a merge and its undo ------------------------------------------------------------------
def _merge_page(
    page: Page, merge_id: uuid.UUID, status_code: int = 200, refusal: str | None = None
) -> Response:
    merge = merges.get_merge(page.db, page.actor, merge_id)
    return page.render(
        "merges/done.html",
        status_code=status_code,
        merge=merge,
        moved=merges.moved_counts(page.db, page.actor, merge.id),
        moved_labels=MOVED_LABELS,
        can_merge=can(page.actor, CUSTOMERS, Action.MERGE),
        refusal=refusal,
    )


@router.get("/merges/{merge_id}")
def merge_done(request: Request, merge_id: uuid.UUID) -> Response:
    """One merge: who survived, who was merged into it, what moved, and its Undo button."""
    with signed_in(request) as page:
        return _merge_page(page, merge_id)


@router.post("/merges/{merge_id}/undo")
def undo_merge(request: Request, merge_id: uuid.UUID, form: VerifiedForm) -> Response:
    """The service's undo; its refusal reason is shown on the merge's page."""
    with signed_in(request) as page:
        undone, refusal = attempt(page, lambda: merges.undo_merge(page.db, page.actor, merge_id))
        if undone is None:
            return _merge_page(page, merge_id, status_code=409, refusal=refusal.message)
        page.web.update(flash=N_("Merge undone."))
        return redirect(request, f"/merges/{merge_id}")


# ----- the duplicate review queue --------------------------------------------------------------
@dataclass(frozen=True)
class QueueQuery:
    """The queue's filters as they appear in the address bar."""

    status: str = PairStatus.PENDING.value
    min_percent: str = ""
    cursor: str | None = None

    @classmethod
    def from_request(cls, request: Request) -> QueueQuery:
        params = request.query_params
        status = params.get("status", "")
        return cls(
            status=status if status in {key for key, _ in PAIR_STATUSES} else cls.status,
            min_percent=ascii_digits(params.get("min", "").strip()),
            cursor=params.get("cursor") or None,
        )

    def minimum(self) -> tuple[float, str | None]:
        """The minimum probability (0–1) and, for unreadable input, the message to show."""
        if not self.min_percent:
            return 0.0, None
        try:
            percent = Decimal(self.min_percent.replace("٫", ".").replace(",", "."))
        except ArithmeticError:
            percent = Decimal(-1)
        if not Decimal(0) <= percent <= Decimal(100):
            return 0.0, N_("Enter a number from 0 to 100.")
        return float(percent) / 100, None

    def url(self, **changes: str | None) -> str:
        values = {"status": self.status, "min": self.min_percent, "cursor": self.cursor, **changes}
        query = {key: value for key, value in values.items() if value}
        return "/duplicates" + (f"?{urlencode(query)}" if query else "")


def _percent(fmt: Formatter) -> Callable[[float], str]:
    return lambda probability: fmt.number(Decimal(f"{probability * 100:.1f}"))


@router.get("/duplicates")
def duplicates(request: Request) -> Response:
    """Candidate pairs, most probable first, keyset-paged, with both customers and the evidence."""
    query = QueueQuery.from_request(request)
    with signed_in(request) as page:
        minimum, min_error = query.minimum()
        listed = review.list_pairs(
            page.db,
            page.actor,
            status=PairStatus(query.status),
            cursor=query.cursor,
            limit=QUEUE_PAGE_SIZE,
        )
        pairs = [pair for pair in listed.items if pair.match_probability >= minimum]
        # Most probable first: once a pair falls below the minimum, so do all later pages.
        next_cursor = listed.next_cursor if len(pairs) == len(listed.items) else None
        people = review.pair_customers(page.db, page.actor, pairs)
        return page.render(
            "merges/duplicates.html",
            status_code=422 if min_error else 200,
            query=query,
            pairs=pairs,
            people=people,
            statuses=PAIR_STATUSES,
            min_error=min_error,
            next_url=query.url(cursor=next_cursor) if next_cursor else None,
            percent=_percent(page.fmt),
            is_open=lambda pair: pair.status in OPEN_PAIR_STATUSES,
            can_merge=can(page.actor, CUSTOMERS, Action.MERGE),
            merge_url=_merge_url,
        )


def _merge_url(pair: DuplicatePair) -> str:
    return "/merges/new?" + urlencode(
        {"a": pair.customer_id_a, "b": pair.customer_id_b, "pair": pair.id}
    )


def _back(form: FormData) -> str:
    return safe_next(text_value(form, "back"), "/duplicates")


@router.post("/duplicates/{pair_id}/not-duplicate")
def not_duplicate(request: Request, pair_id: uuid.UUID, form: VerifiedForm) -> Response:
    """Remember that the two customers are different (the review service's decision)."""
    with signed_in(request) as page:
        _, refusal = attempt(page, lambda: review.mark_not_duplicate(page.db, page.actor, pair_id))
        page.web.update(
            flash=N_("Marked as not duplicates.") if refusal.message is None else refusal.message
        )
        return redirect(request, _back(form))


def _selected(form: FormData) -> list[uuid.UUID]:
    ids = (_uuid(value) for value in form.getlist("pair") if isinstance(value, str))
    return list(dict.fromkeys(pair_id for pair_id in ids if pair_id is not None))[:BULK_LIMIT]


def _bulk_not_duplicate(page: Page, pair_ids: list[uuid.UUID]) -> bool:
    """Each selected pair through the service in its own savepoint; True if all were decided."""

    def decide(pair_id: uuid.UUID) -> bool:
        pair, _ = attempt(page, lambda: review.mark_not_duplicate(page.db, page.actor, pair_id))
        return pair is not None

    return all([decide(pair_id) for pair_id in pair_ids])  # a list: decide every pair


@router.post("/duplicates/bulk")
def bulk_decision(request: Request, form: VerifiedForm) -> Response:
    """ "Mark not duplicates" or "Accept (merge)" for the selected pairs."""
    with signed_in(request) as page:
        require(page.actor, CUSTOMERS, Action.MERGE)
        pair_ids = _selected(form)
        if not pair_ids:
            page.web.update(flash=N_("Select at least one pair first."))
        elif text_value(form, "action") == "merge":
            outcomes = review.bulk_accept(page.db, page.actor, 0.0, len(pair_ids), pair_ids)
            done = len(outcomes) == len(pair_ids) and all(o.outcome == "merged" for o in outcomes)
            page.web.update(
                flash=N_("The selected pairs were merged.")
                if done
                else N_("Some selected pairs could not be merged; they stay in the queue.")
            )
        else:
            page.web.update(
                flash=N_("The selected pairs were marked as not duplicates.")
                if _bulk_not_duplicate(page, pair_ids)
                else N_("Some selected pairs could not be decided; they stay in the queue.")
            )
        return redirect(request, _back(form))
