"""What the borrower portal and the regulator console share: their static files with
validators, their HTML templates, the data block a shell hands its script, and the
route that serves the static files.

Each package keeps its own templates, scripts and style sheets (`templates/` and
`static/` beside its `pages.py`); only the way they are read and served lives here.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Final

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from gateway.web.portal.messages import HTML_LANG, Language

MEDIA_TYPES: Final[dict[str, str]] = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    """One static file, with its validator."""

    body: bytes
    media_type: str
    etag: str

    @property
    def version(self) -> str:
        """A short content hash, put in the asset's URL so a new release is fetched at once."""
        return self.etag.strip('"')[:12]


def load_assets(package_dir: Path, *names: str) -> dict[str, Asset]:
    """The files `names` of `package_dir/static`, by name, typed by their suffix."""
    assets = {}
    for name in names:
        body = (package_dir / "static" / name).read_bytes()
        media_type = MEDIA_TYPES[Path(name).suffix]
        assets[name] = Asset(body, media_type, f'"{hashlib.sha256(body).hexdigest()}"')
    return assets


def load_template(package_dir: Path, name: str) -> Template:
    """The template `name` of `package_dir/templates`."""
    return Template((package_dir / "templates" / name).read_text(encoding="utf-8"))


def message_values(messages: Mapping[str, str]) -> dict[str, str]:
    """The messages as template values `m_<key>`, HTML-escaped."""
    return {f"m_{key}": html.escape(text) for key, text in messages.items()}


def script_json(value: object) -> str:
    """`value` as JSON that can stand inside a `<script>` data block."""
    # Inside <script> only "</" can end the element early; \u003c keeps the JSON valid.
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def shell_response(body: str, language: Language, *, status: int = 200) -> Response:
    """A rendered HTML shell in `language`."""
    return HTMLResponse(
        body,
        status_code=status,
        # The shell holds no personal or audit data, but must follow the script's version.
        headers={"Cache-Control": "no-cache", "Content-Language": HTML_LANG[language]},
    )


def add_static_route(router: APIRouter, assets: Mapping[str, Asset]) -> None:
    """Serve `assets` at `/static/{name}` on `router`, revalidated by ETag (304 when current).

    Add it before the router's catch-all page, which would otherwise answer first.
    """

    async def static_file(name: str, request: Request) -> Response:
        """One of the package's scripts, style sheets or icons."""
        asset = assets.get(name)
        if asset is None:
            raise HTTPException(404, "No such file.")
        headers = {"ETag": asset.etag, "Cache-Control": "public, max-age=3600"}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    router.add_api_route("/static/{name}", static_file, methods=["GET"])
