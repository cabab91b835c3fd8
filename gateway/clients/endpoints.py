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
    grant_type: Annotated[str, Form(max_length=64, description="Always `client_credentials`.")],
    client_assertion_type: Annotated[
        str | None,
        Form(
            max_length=128,
            description="Always `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.",
        ),
    ] = None,
    client_assertion: Annotated[
        str | None,
        Form(
            max_length=8192,
            description="A JWT signed by one of the client's registered keys (RFC 7523): "
            "`iss` and `sub` the client id, `aud` the gateway's issuer, a fresh `jti`, short "
            "`exp`.",
        ),
    ] = None,
    scope: Annotated[
        str | None,
        Form(
            max_length=400,
            description="Space-separated scopes asked for; left out, every scope the client "
            "may have.",
        ),
    ] = None,
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
