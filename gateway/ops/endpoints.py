"""HTTP: public keys, the catalog, health, readiness and metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from gateway.auth.dependencies import ClientOrAnonymous
from gateway.clients.products import products_of
from gateway.core.db import SessionDep
from gateway.core.openapi import error_responses
from gateway.ops.metrics import refresh as refresh_gauges
from gateway.runtime.context import ContextDep
from policies.schemas import CatalogView

router = APIRouter(tags=["gateway"])


@router.get("/.well-known/jwks.json")
async def jwks(context: ContextDep) -> dict[str, Any]:
    """The gateway's public signing keys; verify artefacts, tree heads and payloads with them."""
    return context.keys.jwks()


@router.get(
    "/v1/catalog",
    response_model=CatalogView,
    response_model_exclude_none=True,
    responses=error_responses("InvalidToken", "RateLimited", "AuditUnavailable"),
)
async def catalog(
    context: ContextDep, session: SessionDep, client: ClientOrAnonymous
) -> dict[str, Any]:
    """Purposes and features, with zh/en descriptions, limits, sources and `policy_version`.

    Public: no token needed. Called with a lender's token, `products` lists that lender's
    own products (and nobody else's). Every release payload carries the `policy_version`
    it was evaluated under, so a lender can tell which catalog a payload's features come from.
    """
    products = (await products_of(session, context, client)) if client is not None else {}
    return context.catalog.public_view(products.values())


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        200: {"description": "Ready: the database, the SMS sender and every source answer."},
        503: {"description": "Not ready: the same body, naming what does not answer."},
    },
)
async def readyz(context: ContextDep) -> JSONResponse:
    """Readiness: the database, every source and the SMS sender answer; breaker states too."""
    checks: dict[str, Any] = {}
    try:
        async with context.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "unavailable"
    names = list(context.connectors)
    *results, sms_health = await asyncio.gather(
        *(context.connectors[name].health() for name in names),
        context.sms.health(),
        return_exceptions=True,
    )
    # Each source: does it answer its health check now, and is its circuit breaker
    # letting fetches through (`closed`), failing them fast (`open`) or trying one?
    checks["sources"] = {
        name: {
            "status": "ok" if result is True else "unavailable",
            "circuit": context.connectors[name].circuit,
        }
        for name, result in zip(names, results, strict=True)
    }
    # Without a working SMS sender no borrower can log in or approve.
    checks["sms"] = {
        "sender": context.sms.kind,
        "status": "ok" if sms_health is True else "unavailable",
    }
    ready = (
        checks["database"] == "ok"
        and checks["sms"]["status"] == "ok"
        and all(source["status"] == "ok" for source in checks["sources"].values())
    )
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"description": "The Prometheus text exposition format."}},
)
async def metrics(context: ContextDep) -> Response:
    """Prometheus metrics of this process; the gauges of stored state are read now."""
    await refresh_gauges(context)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
