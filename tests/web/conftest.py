"""Signed-in browsers-without-a-browser: httpx clients that keep the session cookie.

Each test gets a fresh company (`make_tenant`) and users with passwords made
on demand, so sign-in, throttling and permissions never leak between tests.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from majlis.accounts import service as accounts
from majlis.core.db import tenant_session
from majlis.core.permissions import Actor, Role
from majlis.customers.models import Customer
from majlis.customers.schemas import CustomerCreate
from majlis.customers.service import create_customer

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@functools.cache
def password_hash() -> str:
    """PASSWORD hashed once per run: Argon2 is slow on purpose, and tests make many users."""
    return PasswordHasher().hash(PASSWORD)


def csrf_of(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


class Browser(httpx.Client):
    """An httpx client that remembers the page's CSRF token and posts forms with it."""

    csrf: str = ""

    def page(self, url: str, **kwargs: object) -> httpx.Response:
        response = self.get(url, **kwargs)  # type: ignore[arg-type]
        if CSRF_INPUT.search(response.text):
            self.csrf = csrf_of(response.text)
        return response

    def submit(
        self, url: str, data: dict[str, str] | None = None, **kwargs: object
    ) -> httpx.Response:
        return self.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)  # type: ignore[arg-type]

    def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        self.page("/sign-in")
        response = self.submit("/sign-in", {"email": email, "password": password})
        self.page("/customers")
        return response


@dataclass
class WebCompany:
    """A company whose members (one per role, made on demand) can sign in with a password."""

    company_id: uuid.UUID
    base_url: str
    engine: Engine
    emails: dict[Role, str] = field(default_factory=dict)
    user_ids: dict[Role, uuid.UUID] = field(default_factory=dict)
    browsers: list[Browser] = field(default_factory=list)

    def member(self, role: Role = Role.OWNER) -> str:
        if role not in self.emails:
            email = f"web-{role}-{uuid.uuid4().hex[:10]}@test.example"
            with tenant_session(self.engine, self.company_id) as session:
                user = accounts.add_user(session, Actor.system(self.company_id), email, role)
                user.password_hash = password_hash()
            self.emails[role], self.user_ids[role] = email, user.id
        return self.emails[role]

    def actor(self, role: Role = Role.OWNER) -> Actor:
        self.member(role)
        return Actor(company_id=self.company_id, role=role, user_id=self.user_ids[role])

    def customer(self, role: Role = Role.OWNER, **values: object) -> Customer:
        """A customer made through the service, as `role`."""
        with tenant_session(self.engine, self.company_id) as session:
            customer, _ = create_customer(
                session, self.actor(role), CustomerCreate.model_validate(values)
            )
        return customer

    def browser(self, role: Role | None = Role.OWNER, **headers: str) -> Browser:
        """A client signed in as the member with `role` (None: not signed in)."""
        client = Browser(base_url=self.base_url, timeout=30, headers=headers)
        self.browsers.append(client)
        if role is not None:
            client.sign_in(self.member(role))
        return client


@pytest.fixture
def make_company(app_engine: Engine, base_url: str) -> Iterator[Callable[..., WebCompany]]:
    made: list[WebCompany] = []

    def make(country: str = "AE") -> WebCompany:
        with Session(app_engine) as session, session.begin():
            company_id = accounts.create_company(
                session, f"Web Co {uuid.uuid4().hex[:8]}", country=country
            ).id
        company = WebCompany(company_id, base_url, app_engine)
        made.append(company)
        return company

    yield make
    for company in made:
        for client in company.browsers:
            client.close()


@pytest.fixture
def company(make_company: Callable[..., WebCompany]) -> WebCompany:
    return make_company()


@pytest.fixture
def browser(company: WebCompany) -> Browser:
    """The company's owner, signed in."""
    return company.browser(Role.OWNER)
