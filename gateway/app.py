"""The FastAPI application: routers, error rendering, request ids, lifespan."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent.endpoints import borrower_router, lender_router
from consent.notifications.endpoints import router as notifications_router
from gateway.audit import tree_heads
from gateway.audit.endpoints import router as audit_router
from gateway.auth.schemes import document_dpop
from gateway.borrowers.endpoints import router as borrower_login_router
from gateway.clients.endpoints import router as oauth_router
from gateway.compliance.endpoints import router as compliance_router
from gateway.core.db import is_outage, outage_log, unit_of_work
from gateway.core.errors import AuditUnavailable, InvalidRequest, InvalidToken, LendgateError
from gateway.core.ids import new_request_id
from gateway.core.logging import configure_logging
from gateway.core.metrics import (
    HTTP_REQUEST_SECONDS,
    HTTP_REQUESTS,
    TOKEN_REFUSALS,
    refusal_reason,
)
from gateway.core.settings import Settings, get_settings
from gateway.jobs.scheduler import scheduler
from gateway.ops.documents import document_payloads
from gateway.ops.endpoints import router as ops_router
from gateway.privacy.pii import redact_pii
from gateway.releases.endpoints import router as releases_router
from gateway.rights.endpoints import router as rights_router
from gateway.runtime.context import GatewayContext, build_context
from gateway.security.headers import DOCS_ASSETS, SecurityHeadersMiddleware
from gateway.security.limits import RequestGuardMiddleware
from gateway.web.console.endpoints import router as console_router
from gateway.web.portal.endpoints import router as portal_router

log = structlog.get_logger()


def create_app(context: GatewayContext | None = None, settings: Settings | None = None) -> FastAPI:
    """The gateway app; with no `context`, one is built from the settings at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "context", None) is not None:
            yield
            return
        resolved = settings or get_settings()
        configure_logging(resolved.log_level, redact=redact_pii)
        # Catalogs first: an invalid LENDGATE_POLICY_DIR stops start-up, listing every
        # problem (CatalogError), before the database is touched.
        app.state.context = build_context(resolved)
        try:
            await _check_keys_match_log(app.state.context)
            async with scheduler(app.state.context):
                yield
        finally:
            await app.state.context.aclose()

    # /docs and /redoc load Swagger UI and ReDoc from the gateway itself (the bundles that
    # fastapi-offline ships), never from a CDN: they work offline and behind a firewall.
    app = FastAPIOffline(
        title="Lendgate",
        version="0.1.0",
        summary="Consent-bound, minimal, encrypted and audited data sharing for lending.",
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
    )
    if context is not None:
        app.state.context = context
    for router in (
        ops_router,
        oauth_router,
        lender_router,
        releases_router,
        borrower_login_router,
        rights_router,
        borrower_router,
        notifications_router,
        audit_router,
        compliance_router,
        portal_router,
        console_router,
    ):
        app.include_router(router)
    _install_error_handlers(app)
    _document_dpop(app)
    # Last added runs first: headers go on every answer, even a refused oversized body.
    app.add_middleware(RequestGuardMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


async def _check_keys_match_log(context: GatewayContext) -> None:
    """Refuse to start with a key directory that did not sign this database's log."""
    async with unit_of_work(context.sessionmaker) as session:
        try:
            await tree_heads.check_keys_match(session, context.keys)
        except tree_heads.KeysDoNotMatchLog as mismatch:
            log.error("startup.keys_do_not_match_log", problem=str(mismatch))
            raise


def _document_dpop(app: FastAPI) -> None:
    """The OpenAPI document, plus the DPoP scheme, the signed payloads and the callback."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_payloads(document_dpop(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LendgateError)
    async def lendgate_error(_: Request, error: LendgateError) -> JSONResponse:
        if isinstance(error, AuditUnavailable) and is_outage(error):
            outage_log.failure("db.unavailable", error)
        if isinstance(error, InvalidToken):
            TOKEN_REFUSALS.labels(refusal_reason(error.detail)).inc()
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        # Only where and what, never the offending input: it may be personal data.
        problems = [
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()[:5]
        ]
        refusal = InvalidRequest("; ".join(problems) or None)
        return JSONResponse(refusal.body(), status_code=refusal.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:
            # FastAPI's answer to a body it could not parse: malformed input, said with 422.
            refusal = InvalidRequest("The request body could not be parsed.")
            return JSONResponse(refusal.body(), status_code=refusal.status)
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(error.status_code, "InvalidRequest")
        return JSONResponse(
            {"error": code, "detail": str(error.detail)}, status_code=error.status_code
        )

    @app.exception_handler(SQLAlchemyError)
    async def database_error(_: Request, error: SQLAlchemyError) -> JSONResponse:
        return database_refusal(error)


def database_refusal(error: BaseException) -> JSONResponse:
    """`AuditUnavailable` (503, `Retry-After`) for a database error, logged in one line.

    An outage is expected: a warning without traceback, at most one a second. Any other
    database error is a defect the operator must see, still without the statement's values.
    """
    if is_outage(error):
        outage_log.failure("db.unavailable", error)
    else:
        log.error("db.error", error=type(error).__name__)
    refusal = AuditUnavailable("The gateway could not record this action; nothing was changed.")
    return JSONResponse(refusal.body(), status_code=refusal.status, headers=refusal.headers)


class RequestContextMiddleware:
    """Gives every request an id (echoed as `X-Request-ID`), bound into logs and audit events."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                responded = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            # Answered here, not re-raised: the server would log the traceback a second time.
            await _answer_failure(scope, send_with_id, error, responded=responded)
        finally:
            # The route template, never the path: ids stay out of label values.
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_REQUEST_SECONDS.labels(method, route).observe(elapsed)
            # One line per request: who (a client id, never an address), what, how it went.
            log.info(
                "http.request",
                method=method,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                client_id=scope.get("state", {}).get("client_id"),
            )
            structlog.contextvars.clear_contextvars()


async def _answer_failure(scope: Scope, send: Send, error: Exception, *, responded: bool) -> None:
    """Log an unexpected failure once and answer it: 503 for a database outage, else 500.

    Once the answer has started nothing more can be said; the connection then ends.
    """
    if is_outage(error) or isinstance(error, SQLAlchemyError):
        response = database_refusal(error)
    else:
        log.error("request.failed", error=type(error).__name__, exc_info=error)
        response = JSONResponse(
            {"error": "InternalError", "detail": "The gateway could not complete the request."},
            status_code=500,
        )
    if not responded:
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}
