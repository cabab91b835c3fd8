"""Request limits: the edge checks of every request (an ASGI middleware) and rate limits
(called by the auth layer)."""

from __future__ import annotations

import json
import math

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.core.errors import InvalidRequest, RateLimited
from gateway.core.inputs import check_json_body, check_target
from gateway.security.store import SharedStore, StoreUnavailable
from gateway.security.store import outage_log as store_outage_log

BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class PayloadTooLarge(InvalidRequest):
    """A request body above `LENDGATE_MAX_REQUEST_BODY_BYTES`: malformed input, said with 413."""

    status = 413
    default_detail = "The request body is too large."


async def enforce_rate_limit(
    store: SharedStore,
    key: str,
    *,
    limit: int,
    window_seconds: float,
    detail: str,
    exact: bool = True,
) -> None:
    """Count a hit of `key`; past `limit` in the window refuse with `RateLimited` and Retry-After.

    A store that does not answer lets the request through (logged): a rate limit is a
    throttle, while credentials and replay checks, which fail closed, are elsewhere.
    `exact=False` is for throughput limits on every request, which the store may count
    a second late (`SharedStore.throttle`).
    """
    count = store.hit if exact else store.throttle
    try:
        window = await count(key, window_seconds)
    except StoreUnavailable as error:
        store_outage_log.failure("ratelimit.store_unavailable", error)
        return
    if window.count > limit:
        retry_after = max(1, math.ceil(window.resets_in))
        raise RateLimited(detail, headers={"Retry-After": str(retry_after)})


class RequestGuardMiddleware:
    """Checks every request at the edge, before any endpoint (or query) sees it.

    The path and query must be UTF-8 free of control characters; a JSON body must parse
    as JSON the gateway accepts (`gateway.core.inputs.check_json_body`). Bodies larger
    than the configured limit are refused: a declared `Content-Length` over the limit at
    once, a chunked body as soon as it passes it. Accepted bodies are handed on unchanged
    (they are small: the limit is tens of kilobytes). Every refusal is `InvalidRequest`.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_target(scope.get("raw_path") or scope["path"].encode(), scope["query_string"])
        except InvalidRequest as refusal:
            await _refuse(send, refusal)
            return
        limit = _limit_of(scope)
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, _too_large(limit))
            return
        chunked = b"transfer-encoding" in headers
        if declared is None and not chunked and scope["method"] in BODYLESS_METHODS:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, _too_large(limit))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _is_json(headers.get(b"content-type", b"")):
            try:
                check_json_body(body)
            except InvalidRequest as refusal:
                await _refuse(send, refusal)
                return
        request = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([request], None, receive), send)


def _is_json(content_type: bytes) -> bool:
    # As FastAPI reads it: a body with no content type is parsed as JSON too.
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type in (b"", b"application/json") or media_type.endswith(b"+json")


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than {limit} bytes.")


def _limit_of(scope: Scope) -> int:
    context = getattr(scope["app"].state, "context", None) if "app" in scope else None
    return int(context.settings.max_request_body_bytes) if context is not None else 65_536


def _replay(messages: list[Message], last: Message | None, receive: Receive) -> Receive:
    pending = [*messages, *([last] if last is not None else [])]

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _refuse(send: Send, refusal: InvalidRequest) -> None:
    body = json.dumps(refusal.body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
