"""Email over SMTP, the one way every domain sends mail (reminders, follow-ups).

Domains build the body and decide when a message may leave; this module
knows how to address a message and hand it to the relay. `SEND_ERRORS` are
the failures after which nothing left (refused connection, rejected
recipient), so the caller may safely try again later.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from majlis.core.config import load_settings
from majlis.core.worker import Delivery, RetryAt

SEND_ERRORS = (smtplib.SMTPException, OSError)


@dataclass(frozen=True)
class SmtpMailer:
    """Plain SMTP to a configurable relay (`MAJLIS_SMTP_HOST`/`MAJLIS_SMTP_PORT`)."""

    host: str
    port: int
    sender: str
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls) -> SmtpMailer:
        settings = load_settings()
        return cls(settings.smtp_host, settings.smtp_port, settings.mail_from)

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            smtp.send_message(message)


def new_message(*, sender: str, to: str, subject: str, message_id: str) -> EmailMessage:
    """An addressed message with a deterministic Message-ID, ready for its content.

    A Message-ID derived from the domain's record lets receiving servers (and
    people) recognise a resend as the same message.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(datetime.now(UTC))
    return message


Prepared = TypeVar("Prepared")


@dataclass(frozen=True)
class SendSteps(Generic[Prepared]):
    """A domain's part in sending one message exactly once.

    `claim` runs in its own transaction and answers what to send (marking it as
    being sent), a time to try again (not yet: calendar, quiet hours), or None
    (nothing to send any more). `refused` and `sent` each run in a transaction
    of their own after the SMTP conversation.
    """

    claim: Callable[[Session, datetime], Prepared | datetime | None]
    message: Callable[[Prepared], EmailMessage]
    refused: Callable[[Session, Prepared, Exception, bool], None]
    sent: Callable[[Session, Prepared], None]
    not_yet: str


def send_once(delivery: Delivery, mailer: SmtpMailer, steps: SendSteps[Prepared]) -> None:
    """Claim, send, record: three transactions, so a crash between the send and its
    record leaves the claim standing and the message is never sent twice; a refused
    send (nothing left) is released for the outbox to retry, or failed on the last try.
    """
    with delivery.transaction() as session:
        outcome = steps.claim(session, datetime.now(UTC))
    if isinstance(outcome, datetime):
        raise RetryAt(outcome, steps.not_yet)
    if outcome is None:
        return
    try:
        mailer.send(steps.message(outcome))
    except SEND_ERRORS as exc:
        with delivery.transaction() as session:
            steps.refused(session, outcome, exc, delivery.final_attempt)
        raise
    with delivery.transaction() as session:
        steps.sent(session, outcome)
