"""The FastAPI application factory: JSON API under /api/v1, pages, health and metrics."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from majlis import __version__
from majlis.accounts.api import router as accounts_router
from majlis.analytics.api import router as analytics_router
from majlis.conversations.api import router as conversations_router
from majlis.core.admission import DatabaseTurn
from majlis.core.boundary import RequestBoundary
from majlis.core.db import get_engine
from majlis.core.http import document_problems, install_problem_handlers
from majlis.core.migrate import is_at_head
from majlis.core.observability import RequestContext
from majlis.customers.api import router as customers_router
from majlis.customers.saved_filters_api import router as saved_filters_router
from majlis.dedupe.api import router as dedupe_router
from majlis.exports.api import router as exports_router
from majlis.imports.api import router as imports_router
from majlis.insights.api import router as insights_router
from majlis.journeys.api import router as journeys_router
from majlis.loyalty.api import router as loyalty_router
from majlis.merges.api import router as merges_router
from majlis.notifications.api import router as notifications_router
from majlis.organizations.api import router as organizations_router
from majlis.portal.api import router as portal_router
from majlis.privacy.api import router as privacy_router
from majlis.receivables.api import router as receivables_router
from majlis.web.pages import router as web_router

DOMAIN_ROUTERS = (
    accounts_router,
    dedupe_router,  # before customers: /customers/duplicates/check is not a customer id
    merges_router,  # before customers too: /customers/merge
    customers_router,
    journeys_router,
    loyalty_router,
    notifications_router,
    insights_router,
    portal_router,
    conversations_router,
    organizations_router,
    privacy_router,
    imports_router,
    exports_router,
    analytics_router,
    receivables_router,
    saved_filters_router,
)


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
    app.add_middleware(DatabaseTurn)  # every route but operations and streams (core.admission)
    app.add_middleware(RequestContext)
    app.add_middleware(RequestBoundary)  # outermost: refuses oversized requests unread
    install_problem_handlers(app)
    document_problems(app)
    for router in DOMAIN_ROUTERS:
        app.include_router(router)
    app.add_api_route("/healthz", health, methods=["GET"], tags=["operations"])
    app.add_api_route(
        "/metrics", metrics, methods=["GET"], tags=["operations"], include_in_schema=False
    )
    # The pages: "/" signs in or opens the customers list.
    app.include_router(web_router)
    return app
