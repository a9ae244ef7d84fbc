"""Shapes of the notifications HTTP API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from majlis.customers.schemas import Name, ShortText
from majlis.notifications.models import Priority


class NotificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID
    title: Name
    body: ShortText | None = None
    priority: Priority = Priority.NORMAL
    action_url: ShortText | None = None
    expires_at: datetime | None = None


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    priority: Priority
    title: str
    body: str | None
    action_url: str | None
    created_at: datetime
    read_at: datetime | None
    expires_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None
