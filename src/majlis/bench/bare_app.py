"""The baseline for `majlis bench run load`: FastAPI + a psycopg pool and nothing else.

It reads a customer by id under the same row-level security (tenant set per
transaction) but skips everything Majlis adds: token authentication, the
service layer, Pydantic response models, logging and metrics. Our throughput
divided by this one is the overhead we pay for those.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from psycopg_pool import ConnectionPool

pool = ConnectionPool(os.environ["MAJLIS_BARE_DSN"], min_size=4, max_size=20, open=True)
app = FastAPI()


@app.get("/customers/{customer_id}")
def get_customer(customer_id: str, company: str) -> Response:
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT set_config('majlis.company_id', %s, true)", (company,))
        row = conn.execute(
            "SELECT row_to_json(c)::text FROM customers c WHERE company_id = %s AND id = %s",
            (company, customer_id),
        ).fetchone()
    if row is None:
        raise HTTPException(404)
    return Response(row[0], media_type="application/json")
