"""HTTP: the OAuth2 token endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from gateway.clients import service
from gateway.clients.schemas import TokenResponse
from gateway.core.db import SessionDep
from gateway.core.openapi import error_responses
from gateway.runtime.context import ContextDep

router = APIRouter(tags=["oauth"])


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    responses=error_responses("InvalidToken", "InvalidRequest", "InsufficientScope"),
)
async def token(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    grant_type: Annotated[str, Form(max_length=64)],
    client_assertion_type: Annotated[str | None, Form(max_length=128)] = None,
    client_assertion: Annotated[str | None, Form(max_length=8192)] = None,
    scope: Annotated[str | None, Form(max_length=400)] = None,
) -> TokenResponse:
    """Client credentials with `private_key_jwt`: an access token for a signed assertion.

    A `DPoP` header (RFC 9449) binds the token to the proof's key (`token_type` DPoP);
    clients registered with DPoP must send one.
    """
    return await service.issue_token(
        session,
        context,
        grant_type=grant_type,
        assertion_type=client_assertion_type,
        assertion=client_assertion,
        scope=scope,
        dpop_proofs=request.headers.getlist("DPoP"),
    )
