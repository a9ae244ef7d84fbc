"""The FastAPI application factory: JSON API under /api/v1, pages, health and metrics."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from majlis import __version__
from majlis.accounts.api import router as accounts_router
from majlis.core.db import get_engine
from majlis.core.http import document_problems, install_problem_handlers
from majlis.core.migrate import is_at_head
from majlis.core.observability import request_context_middleware
from majlis.customers.api import router as customers_router

DOMAIN_ROUTERS = (accounts_router, customers_router)

INDEX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Majlis</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>Majlis</h1>
<p>One clean record per customer, in English and Arabic — مجلس</p>
<ul><li><a href="/docs">API documentation (OpenAPI)</a></li>
<li><a href="/healthz">Health</a></li></ul></body></html>"""


def health() -> JSONResponse:
    """Database reachable and schema at the code's migration head."""
    try:
        engine = get_engine("app")
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        at_head = is_at_head(engine)
    except DBAPIError as exc:
        return JSONResponse(
            {"status": "unavailable", "database": str(exc.orig).splitlines()[0]}, 503
        )
    body = {
        "status": "ok" if at_head else "degraded",
        "database": "ok",
        "migrations_at_head": at_head,
    }
    return JSONResponse(body, status_code=200 if at_head else 503)


def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app() -> FastAPI:
    app = FastAPI(
        title="Majlis",
        version=__version__,
        description="Multi-tenant customer platform: bilingual customers under row-level security.",
    )
    app.middleware("http")(request_context_middleware)
    install_problem_handlers(app)
    document_problems(app)
    for router in DOMAIN_ROUTERS:
        app.include_router(router)
    app.add_api_route("/healthz", health, methods=["GET"], tags=["operations"])
    app.add_api_route(
        "/metrics", metrics, methods=["GET"], tags=["operations"], include_in_schema=False
    )
    app.add_api_route(
        "/", lambda: HTMLResponse(INDEX_PAGE), methods=["GET"], include_in_schema=False
    )
    return app
