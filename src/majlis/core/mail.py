"""Email over SMTP, the one way every domain sends mail (reminders, follow-ups).

Domains build the body and decide when a message may leave; this module
knows how to address a message and hand it to the relay. `SEND_ERRORS` are
the failures after which nothing left (refused connection, rejected
recipient), so the caller may safely try again later.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from majlis.core.config import load_settings

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
