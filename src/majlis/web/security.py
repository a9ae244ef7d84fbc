"""The browser session: a signed cookie, CSRF tokens, sign-in throttling and secure headers.

The session is a signed (not encrypted) cookie holding only ids, the
language and the CSRF token — nothing secret. Every request re-checks the
membership in the database, so a deactivated user or membership is locked
out at their next click even though the cookie is still validly signed.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from majlis.core.config import load_settings
from majlis.core.errors import DomainError

SESSION_COOKIE = "majlis_session"
SESSION_MAX_AGE_S = 12 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SECRET_ENV = "MAJLIS_SECRET_KEY"
SECRET_FILE = "web-secret-key"

# No inline scripts or styles anywhere, so the policy can forbid them outright.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class CsrfRejected(DomainError):
    status, title, slug = 403, "Form expired", "csrf"


class SignInRequired(Exception):
    """Raised by a page that needs a signed-in user; answered with a redirect to sign in."""


# ----- the signing key --------------------------------------------------------------------
_serializer: URLSafeTimedSerializer | None = None
_serializer_lock = threading.Lock()


def _secret_key() -> str:
    """MAJLIS_SECRET_KEY, or a random key kept under MAJLIS_HOME so restarts keep sessions."""
    configured = os.environ.get(SECRET_ENV)
    if configured:
        return configured
    path = Path(load_settings().home) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when several workers start at once, exactly one writes the key.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        key = secrets.token_urlsafe(48)
        handle.write(key)
    return key


def _signer() -> URLSafeTimedSerializer:
    global _serializer
    with _serializer_lock:
        if _serializer is None:
            _serializer = URLSafeTimedSerializer(_secret_key(), salt="majlis.web.session")
        return _serializer


def cookie_signer(salt: str) -> URLSafeTimedSerializer:
    """A serializer with the session's key but its own salt, for another signed cookie.

    The salt keeps the cookies apart: a session cookie is never a valid portal cookie.
    """
    return URLSafeTimedSerializer(_secret_key(), salt=salt)


# ----- the session ------------------------------------------------------------------------
@dataclass
class WebSession:
    """What the session cookie carries; `changed` marks it for re-issuing."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    lang: str | None = None
    user_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    flash: str | None = None
    changed: bool = True

    @property
    def signed_in(self) -> bool:
        return self.user_id is not None and self.company_id is not None

    def sign_in(self, user_id: uuid.UUID, company_id: uuid.UUID) -> None:
        """A fresh CSRF token at sign-in, so a token seen before sign-in is worthless after."""
        self.user_id, self.company_id = user_id, company_id
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def sign_out(self) -> None:
        self.user_id = self.company_id = None
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def update(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)
        self.changed = True

    def pop_flash(self) -> str | None:
        message = self.flash
        if message is not None:
            self.update(flash=None)
        return message

    def dump(self) -> dict[str, Any]:
        return {
            "csrf": self.csrf,
            "lang": self.lang,
            "uid": str(self.user_id) if self.user_id else None,
            "cid": str(self.company_id) if self.company_id else None,
            "flash": self.flash,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> WebSession:
        return cls(
            csrf=str(data["csrf"]),
            lang=data.get("lang"),
            user_id=uuid.UUID(data["uid"]) if data.get("uid") else None,
            company_id=uuid.UUID(data["cid"]) if data.get("cid") else None,
            flash=data.get("flash"),
            changed=False,
        )


def web_session(request: Request) -> WebSession:
    """The request's session, read from its cookie once; a missing or forged one starts fresh."""
    cached = getattr(request.state, "web_session", None)
    if isinstance(cached, WebSession):
        return cached
    session = WebSession()
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        try:
            session = WebSession.load(_signer().loads(raw, max_age=SESSION_MAX_AGE_S))
        except (BadSignature, KeyError, TypeError, ValueError):
            session = WebSession()
    request.state.web_session = session
    return session


def finish_response(request: Request, response: Response) -> Response:
    """Re-issue the session cookie when it changed, and add the secure headers."""
    session = getattr(request.state, "web_session", None)
    if isinstance(session, WebSession) and session.changed:
        response.set_cookie(
            SESSION_COOKIE,
            _signer().dumps(session.dump()),
            max_age=SESSION_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.url.scheme == "https":
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def check_csrf(request: Request, submitted: str | None) -> None:
    """Reject a state-changing request whose token (form field or HTMX header) is not ours."""
    expected = web_session(request).csrf
    token = submitted or request.headers.get(CSRF_HEADER) or ""
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise CsrfRejected("this form has expired; reload the page and try again")


# ----- sign-in throttling -----------------------------------------------------------------
@dataclass
class _Failures:
    count: int
    first_at: float


class SignInThrottle:
    """Counts failed sign-ins per email and per client address, in this process's memory.

    After `max_per_email` failures for one email within `window_s`, that email
    is refused (even with the right password) until the window has passed;
    one address is allowed more failures, since offices share an address. The
    counters live in memory: they reset on restart and each worker process
    keeps its own, which bounds guessing to (workers x limit) per window —
    enough against online guessing, and it needs no table of its own.
    """

    def __init__(
        self,
        max_per_email: int = 5,
        max_per_address: int = 50,
        window_s: float = 15 * 60,
        capacity: int = 10_000,
    ) -> None:
        self.limits = {"email": max_per_email, "address": max_per_address}
        self.window_s = window_s
        self.capacity = capacity
        self._failures: OrderedDict[tuple[str, str], _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, email: str, address: str) -> list[tuple[str, str]]:
        return [("email", email.strip().lower()), ("address", address)]

    def _current(self, key: tuple[str, str], now: float) -> _Failures | None:
        entry = self._failures.get(key)
        if entry is not None and now - entry.first_at >= self.window_s:
            del self._failures[key]
            return None
        return entry

    def retry_after(self, email: str, address: str) -> int:
        """Seconds until sign-in is allowed again for this email/address; 0 when allowed."""
        now = time.monotonic()
        with self._lock:
            waits = [
                self.window_s - (now - entry.first_at)
                for key in self._keys(email, address)
                if (entry := self._current(key, now)) is not None
                and entry.count >= self.limits[key[0]]
            ]
        return int(max(waits, default=0)) + (1 if waits else 0)

    def record_failure(self, email: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in self._keys(email, address):
                entry = self._current(key, now)
                if entry is None:
                    self._failures[key] = _Failures(1, now)
                else:
                    entry.count += 1
                self._failures.move_to_end(key)
            while len(self._failures) > self.capacity:
                self._failures.popitem(last=False)

    def record_success(self, email: str) -> None:
        with self._lock:
            self._failures.pop(("email", email.strip().lower()), None)


sign_in_throttle = SignInThrottle()
