"""HTTP: the OAuth2 token endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form

from gateway.clients import service
from gateway.clients.schemas import TokenResponse
from gateway.context import ContextDep
from gateway.db import SessionDep
from gateway.openapi import error_responses

router = APIRouter(tags=["oauth"])


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    responses=error_responses("InvalidToken", "InvalidRequest", "InsufficientScope"),
)
async def token(
    session: SessionDep,
    context: ContextDep,
    grant_type: Annotated[str, Form()],
    client_assertion_type: Annotated[str | None, Form()] = None,
    client_assertion: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> TokenResponse:
    """Client credentials with `private_key_jwt`: an access token for a signed assertion."""
    return await service.issue_token(
        session,
        context,
        grant_type=grant_type,
        assertion_type=client_assertion_type,
        assertion=client_assertion,
        scope=scope,
    )
