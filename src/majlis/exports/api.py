"""GET /api/v1/exports/customers: the filtered set as CSV or XLSX, streamed."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from majlis.core.db import get_engine
from majlis.core.http import Context
from majlis.exports import service
from majlis.exports.service import ExportFormat
from majlis.search.params import SearchQuery, parse_query, query_parameters
from majlis.search.service import clean_term

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])
MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get(
    "/customers", response_class=StreamingResponse, openapi_extra=query_parameters(SearchQuery)
)
def export_customers(
    ctx: Context, request: Request, format: ExportFormat = ExportFormat.CSV
) -> StreamingResponse:
    """Customers matching the list filters (and `q`), for roles allowed to export."""
    filters, query = parse_query(SearchQuery, request)
    lang = query.lang
    term = clean_term(query.q, lang) if query.q else None
    service.start_export(ctx.session, ctx.actor, filters, term, format)
    writer = service.stream_csv if format is ExportFormat.CSV else service.write_xlsx
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        writer(get_engine("app"), ctx.actor, filters, term, lang),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="customers-{stamp}.{format}"'},
    )
