"""Security headers on every response, whatever produced it.

The API answers JSON that no browser should render, frame or cache; the portal's pages
load only their own script and style sheet (no inline code, see `gateway/portal`), so
their Content-Security-Policy allows nothing else. HSTS is sent outside development.
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI and ReDoc start their bundles inline; the bundles come from the gateway itself.
DOCS_CSP: Final = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HSTS: Final = "max-age=63072000; includeSubDomains"
PAGE_PREFIXES: Final = ("/portal", "/regulator")
DOCS_PATHS: Final = ("/docs", "/docs/oauth2-redirect", "/redoc")
DOCS_ASSETS: Final = "/docs/assets"
"""Where the Swagger UI and ReDoc bundles are served from."""
# Answers under these carry tokens or personal data: never kept by a browser or proxy.
NO_STORE_PREFIXES: Final = ("/v1/", "/oauth/")

BASELINE: Final = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)


def content_security_policy(path: str) -> str:
    """The CSP for a response to `path`."""
    if path in DOCS_PATHS:
        return DOCS_CSP
    if any(path == prefix or path.startswith(prefix + "/") for prefix in PAGE_PREFIXES):
        return PAGE_CSP
    return API_CSP


def security_headers(path: str, *, hsts: bool) -> list[tuple[str, str]]:
    """Every header this middleware adds to a response to `path` (when not already set)."""
    headers = [*BASELINE, ("Content-Security-Policy", content_security_policy(path))]
    if hsts:
        headers.append(("Strict-Transport-Security", HSTS))
    if path.startswith(NO_STORE_PREFIXES):
        headers.append(("Cache-Control", "no-store"))
    return headers


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = getattr(scope["app"].state, "context", None) if "app" in scope else None
        hsts = context is not None and not context.settings.is_development
        added = security_headers(scope["path"], hsts=hsts)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in added:
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
