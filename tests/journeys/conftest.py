"""Journey test helpers: customers made over the real API, a real local SMTP server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from majlis.core.embedded import free_loopback_port


@pytest.fixture
def new_customer(owner: httpx.Client) -> Callable[..., str]:
    def create(client: httpx.Client | None = None, **fields: Any) -> str:
        body = {"name": "Journey Customer", **fields}
        response = (client or owner).post("/api/v1/customers", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    return create


@dataclass
class Inbox:
    """What the local SMTP server received."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_loopback_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def inbox(smtp_server: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch) -> Inbox:
    """The real local SMTP server, which this test's sends go to (the worker reads the env)."""
    box, port = smtp_server
    monkeypatch.setenv("MAJLIS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MAJLIS_SMTP_PORT", str(port))
    return box
