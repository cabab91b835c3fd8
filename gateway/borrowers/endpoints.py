"""HTTP: borrower login."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.auth import BORROWER_TOKEN_USE, BorrowerPrincipal, bearer_token, verify_gateway_token
from gateway.borrowers import service
from gateway.borrowers.schemas import BorrowerSession, CodeRequest, CodeSent, SessionRequest
from gateway.context import ContextDep
from gateway.db import SessionDep
from gateway.openapi import error_responses

router = APIRouter(prefix="/v1/borrower", tags=["borrower login"])


@router.post(
    "/otp",
    response_model=CodeSent,
    responses=error_responses("InvalidRequest", "InvalidToken", "ConsentNotFound"),
)
async def send_code(
    body: CodeRequest, request: Request, session: SessionDep, context: ContextDep
) -> CodeSent:
    """Text a one-time code: to log in, or (logged in) to approve one consent."""
    borrower = None
    if body.purpose == "approve":
        claims = verify_gateway_token(context, bearer_token(request), BORROWER_TOKEN_USE)
        borrower = BorrowerPrincipal(phone_index=str(claims["sub"]))
    return await service.send_code(session, context, body, borrower)


@router.post(
    "/session",
    response_model=BorrowerSession,
    responses=error_responses("InvalidRequest", "InvalidToken", "RateLimited"),
)
async def open_session(
    body: SessionRequest, session: SessionDep, context: ContextDep
) -> BorrowerSession:
    """Exchange the code for a borrower session token."""
    return await service.open_session(session, context, body)
