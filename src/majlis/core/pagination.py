"""Keyset pagination with opaque cursors.

A cursor is the sort key of the last row of a page, base64url-encoded JSON;
clients pass it back untouched. No OFFSET: page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from majlis.core.errors import ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, expected_length: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed.single("cursor", "is not a cursor this API issued") from exc
    if not isinstance(values, list) or len(values) != expected_length:
        raise ValidationFailed.single("cursor", "does not fit this listing or sort order")
    return values


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def page_by_moment(
    session: Session,
    query: Select[Any],
    moment: InstrumentedAttribute[datetime],
    key: InstrumentedAttribute[uuid.UUID],
    *,
    cursor: str | None,
    limit: int,
    newest_first: bool = True,
) -> Page[Any]:
    """One keyset page of `query`'s rows ordered on (moment, id): an audit trail, a
    points ledger, a queue. A cursor that decodes but names no moment and id is
    refused like any other foreign cursor (422), never a server error.
    """
    position = tuple_(moment, key)
    if cursor:
        last_moment, last_id = decode_cursor(cursor, 2)
        try:
            bound = tuple_(
                literal(datetime.fromisoformat(str(last_moment))), literal(uuid.UUID(str(last_id)))
            )
        except ValueError as exc:
            raise ValidationFailed.single("cursor", "is not a cursor this API issued") from exc
        query = query.where(position < bound if newest_first else position > bound)
    order = (moment.desc(), key.desc()) if newest_first else (moment, key)
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(
            [getattr(last, moment.key).isoformat(), str(getattr(last, key.key))]
        )
    return Page(rows[:limit], next_cursor)
