"""GET /api/v1/exports/customers: the filtered set as CSV or XLSX, streamed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from majlis.core.db import get_engine
from majlis.core.http import Context
from majlis.customers.service import CustomerFilters
from majlis.exports import service
from majlis.exports.service import ExportFormat
from majlis.search.params import SearchLanguage, SearchTerm, customer_filters
from majlis.search.service import clean_term

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])
MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get("/customers", response_class=StreamingResponse)
def export_customers(
    ctx: Context,
    filters: Annotated[CustomerFilters, Depends(customer_filters)],
    q: SearchTerm = None,
    lang: SearchLanguage = None,
    format: ExportFormat = ExportFormat.CSV,
) -> StreamingResponse:
    """Customers matching the list filters (and `q`), for roles allowed to export."""
    term = clean_term(q, lang) if q else None
    service.start_export(ctx.session, ctx.actor, filters, term, format)
    writer = service.stream_csv if format is ExportFormat.CSV else service.write_xlsx
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        writer(get_engine("app"), ctx.actor, filters, term, lang),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="customers-{stamp}.{format}"'},
    )
