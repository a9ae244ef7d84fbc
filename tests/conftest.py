"""One real PostgreSQL cluster and one real HTTP server per test run.

Tests isolate themselves by tenant: each test gets companies of its own
(`make_tenant`), so tests never see each other's rows and need no truncation.
Tests that need an empty schema create a database of their own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from majlis.accounts import service as accounts
from majlis.core import migrate
from majlis.core.db import dispose_engines, get_engine, tenant_session
from majlis.core.embedded import OWNER_ROLE, EmbeddedCluster, free_loopback_port
from majlis.core.permissions import Actor, Role


@pytest.fixture(scope="session")
def cluster() -> Iterator[EmbeddedCluster]:
    home = Path(tempfile.mkdtemp(prefix="majlis-test-"))
    os.chmod(home, 0o755)  # the unprivileged server user must be able to enter it
    os.environ["MAJLIS_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("MAJLIS_ADMIN_DATABASE_URL", None)
    embedded = EmbeddedCluster(home, durable=False)
    embedded.up()
    migrate.upgrade(embedded.url(OWNER_ROLE))
    yield embedded
    dispose_engines()
    embedded.down()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def app_engine(cluster: EmbeddedCluster) -> Engine:
    return get_engine("app")


@pytest.fixture(scope="session")
def admin_engine(cluster: EmbeddedCluster) -> Engine:
    return get_engine("admin")


@pytest.fixture(scope="session")
def base_url(cluster: EmbeddedCluster) -> Iterator[str]:
    """The real app served by uvicorn on a loopback port, in a background thread."""
    from majlis.app import create_app

    port = free_loopback_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@dataclass
class Tenant:
    """A fresh company with one user (and token) per role."""

    company_id: uuid.UUID
    base_url: str
    tokens: dict[Role, str] = field(default_factory=dict)
    user_ids: dict[Role, uuid.UUID] = field(default_factory=dict)

    def client(self, role: Role = Role.OWNER) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=30,
        )

    def actor(self, role: Role = Role.OWNER) -> Actor:
        return Actor(company_id=self.company_id, role=role, user_id=self.user_ids[role])


def create_tenant(engine: Engine, base_url: str, country: str = "AE") -> Tenant:
    with Session(engine) as session, session.begin():
        company_id = accounts.create_company(
            session, f"Test Co {uuid.uuid4().hex[:8]}", country=country
        ).id
    tenant = Tenant(company_id, base_url)
    with tenant_session(engine, company_id) as session:
        system = Actor.system(company_id)
        for role in Role:
            user = accounts.add_user(
                session, system, f"{role}-{uuid.uuid4().hex[:10]}@test.example", role
            )
            _, raw = accounts.issue_token(session, system, user)
            tenant.tokens[role], tenant.user_ids[role] = raw, user.id
    return tenant


@pytest.fixture
def make_tenant(app_engine: Engine, base_url: str) -> Callable[..., Tenant]:
    return lambda country="AE": create_tenant(app_engine, base_url, country)


@pytest.fixture
def tenant(make_tenant: Callable[..., Tenant]) -> Tenant:
    return make_tenant()


@pytest.fixture
def owner(tenant: Tenant) -> Iterator[httpx.Client]:
    with tenant.client(Role.OWNER) as client:
        yield client
