"""The web app's router: every page module, plus the packaged static assets.

A domain's pages join by adding their module's router to `PAGE_ROUTERS`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from majlis.web import (
    auth_pages,
    customer_pages,
    customer_tab_pages,
    dashboard_pages,
    import_pages,
    journey_pages,
    loyalty_pages,
    merge_pages,
    notification_pages,
    portal_pages,
    receivables_pages,
    settings_pages,
)
from majlis.web.rendering import STATIC_DIR

PAGE_ROUTERS = (
    auth_pages.router,
    import_pages.router,  # before customer_pages: /customers/export is not a customer id
    customer_pages.router,
    receivables_pages.router,
    customer_tab_pages.router,
    portal_pages.router,
    dashboard_pages.router,
    loyalty_pages.router,
    journey_pages.router,
    notification_pages.router,
    merge_pages.router,
    settings_pages.router,
)
# URLs carry a content hash (`static_url`), so a year of caching is safe.
STATIC_CACHE = "public, max-age=31536000, immutable"


class PackagedAssets(StaticFiles):
    """Static files with long caching and `nosniff`, served from inside the package."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = STATIC_CACHE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _build_router() -> APIRouter:
    web = APIRouter(include_in_schema=False)
    for page_router in PAGE_ROUTERS:
        web.include_router(page_router)
    web.mount("/static", PackagedAssets(directory=STATIC_DIR), name="static")
    return web


router = _build_router()
