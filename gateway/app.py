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
from gateway.audit.endpoints import router as audit_router
from gateway.auth.schemes import document_dpop
from gateway.borrowers.endpoints import router as borrower_login_router
from gateway.clients.endpoints import router as oauth_router
from gateway.compliance.endpoints import router as compliance_router
from gateway.core.errors import AuditUnavailable, InvalidRequest, LendgateError
from gateway.core.ids import new_request_id
from gateway.core.logging import configure_logging
from gateway.core.metrics import REQUEST_SECONDS
from gateway.core.migrate import upgrade
from gateway.core.settings import Settings, get_settings
from gateway.jobs.scheduler import scheduler
from gateway.ops.documents import document_payloads
from gateway.ops.endpoints import router as ops_router
from gateway.privacy.pii import redact_pii
from gateway.releases.endpoints import router as releases_router
from gateway.rights.endpoints import router as rights_router
from gateway.runtime.context import GatewayContext, build_context
from gateway.security.headers import DOCS_ASSETS, SecurityHeadersMiddleware, security_headers
from gateway.security.limits import BodySizeLimitMiddleware
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
            if resolved.is_development:
                await upgrade(resolved.resolved_database_url)
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
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


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
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(error.status_code, "InvalidRequest")
        return JSONResponse(
            {"error": code, "detail": str(error.detail)}, status_code=error.status_code
        )

    @app.exception_handler(SQLAlchemyError)
    async def database_error(_: Request, error: SQLAlchemyError) -> JSONResponse:
        log.error("db.error", error=type(error).__name__)
        refusal = AuditUnavailable("The gateway could not record this action; nothing was changed.")
        return JSONResponse(refusal.body(), status_code=refusal.status)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("request.failed", error=type(error).__name__)
        # Answered outside the middleware stack, so the security headers are added here.
        context = getattr(request.app.state, "context", None)
        hsts = context is not None and not context.settings.is_development
        return JSONResponse(
            {"error": "InternalError", "detail": "The gateway could not complete the request."},
            status_code=500,
            headers=dict(security_headers(request.url.path, hsts=hsts)),
        )


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

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            REQUEST_SECONDS.labels(
                scope["method"], getattr(route, "path", "unmatched"), str(status)
            ).observe(time.perf_counter() - started)
            structlog.contextvars.clear_contextvars()
