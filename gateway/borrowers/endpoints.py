"""HTTP: borrower login and logout, with bearer tokens (apps) or cookies (browsers)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from consent import lookup as consent_lookup
from gateway.auth import dependencies as auth
from gateway.auth.dependencies import CurrentBorrower
from gateway.borrowers import service
from gateway.borrowers.schemas import BorrowerSession, CodeRequest, CodeSent, SessionRequest
from gateway.core.db import SessionDep
from gateway.core.openapi import error_responses
from gateway.runtime.context import ContextDep, GatewayContext

router = APIRouter(prefix="/v1/borrower", tags=["borrower login"])


@router.post(
    "/otp",
    response_model=CodeSent,
    responses=error_responses(
        "InvalidRequest", "InvalidToken", "ConsentNotFound", "RateLimited", "SourceUnavailable"
    ),
)
async def send_code(
    body: CodeRequest, request: Request, session: SessionDep, context: ContextDep
) -> CodeSent:
    """Text a one-time code: to log in, or (logged in) to approve one consent."""
    if body.purpose == "approve":
        # Only the approval code needs the session; a stale cookie must not stop a login.
        borrower = await auth.current_borrower(request, context, session)
        consent_id = service.approval_consent_id(context, body, borrower)
        await consent_lookup.get_for_borrower(session, borrower, consent_id)
    address = request.client.host if request.client else "unknown"
    return await service.send_code(session, context, body, address)


@router.post(
    "/session",
    response_model=BorrowerSession,
    response_model_exclude_none=True,
    responses=error_responses("InvalidRequest", "InvalidToken", "RateLimited"),
)
async def open_session(
    body: SessionRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    context: ContextDep,
) -> BorrowerSession:
    """Exchange the code for a session: a bearer token, or (`delivery: cookie`) cookies."""
    if body.delivery == "cookie":
        auth.check_same_origin(request, context)
    opened = await service.open_session(session, context, body)
    if opened.delivery == "bearer":
        return BorrowerSession(access_token=opened.token, expires_in=opened.expires_in)
    csrf = auth.csrf_token(context, opened.session_id)
    _set_session_cookies(response, context, opened.token, csrf, opened.expires_in)
    return BorrowerSession(token_type=None, expires_in=opened.expires_in, csrf_token=csrf)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses("InvalidToken"),
)
async def log_out(borrower: CurrentBorrower, session: SessionDep, context: ContextDep) -> Response:
    """End the session at once, server-side; the cookies (if any) are cleared."""
    await service.log_out(session, context, borrower)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    _clear_session_cookies(response, context)
    return response


def _set_session_cookies(
    response: Response, context: GatewayContext, token: str, csrf: str, max_age: int
) -> None:
    # Secure outside development; SameSite=Strict: no other site's page makes the browser
    # send them. The CSRF cookie is readable by the portal's script, which echoes it.
    secure = not context.settings.is_development
    for name, value, http_only in (
        (auth.session_cookie_name(context.settings), token, True),
        (auth.csrf_cookie_name(context.settings), csrf, False),
    ):
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=secure,
            httponly=http_only,
            samesite="strict",
        )


def _clear_session_cookies(response: Response, context: GatewayContext) -> None:
    secure = not context.settings.is_development
    for name, http_only in (
        (auth.session_cookie_name(context.settings), True),
        (auth.csrf_cookie_name(context.settings), False),
    ):
        response.delete_cookie(name, path="/", secure=secure, httponly=http_only, samesite="strict")
