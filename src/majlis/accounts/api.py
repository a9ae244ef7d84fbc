"""Who am I, and API token management."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from majlis.accounts import service
from majlis.core.http import Context

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class MeOut(BaseModel):
    user_id: uuid.UUID | None
    company_id: uuid.UUID
    company_name: str
    role: str


@router.get("/me", response_model=MeOut, summary="The caller's user, company and role")
def me(ctx: Context) -> MeOut:
    company = service.get_company(ctx.session, ctx.actor.company_id)
    return MeOut(
        user_id=ctx.actor.user_id,
        company_id=company.id,
        company_name=company.name,
        role=ctx.actor.role,
    )


@router.delete(
    "/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an API token"
)
def revoke_token(ctx: Context, token_id: uuid.UUID) -> Response:
    service.revoke_token(ctx.session, ctx.actor, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
