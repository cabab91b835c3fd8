"""What the borrower portal and the regulator console share: their static files with
validators, their Jinja2 templates, and the route that serves the static files.

Each package keeps its own templates, scripts and style sheets (`templates/` and
`static/` beside its `pages.py`); what both use (the page frame `base.html`, the
"not found" page, `shared.js`, `shared.css`) lives in this package's `templates/` and
`static/`, and is served under each package's prefix beside its own files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException

from gateway.web.languages import HTML_LANG, Language, other_language

SHARED_DIR: Final = Path(__file__).resolve().parent

MEDIA_TYPES: Final[dict[str, str]] = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# A module's import of a sibling module: `from "./name.js"`.
SIBLING_IMPORT: Final = re.compile(r'(from\s+"\./)([A-Za-z0-9_-]+\.js)(")')

LangQuery = Annotated[str | None, Query(max_length=16, description="`en` for English.")]


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


def _load_assets(folders: Sequence[Path], names: Iterable[str]) -> dict[str, Asset]:
    """The files `names`, each from the first of `folders` that has it, and every module a
    script imports; by name, typed by their suffix.

    A script's imports of its sibling modules get the sibling's version in their URL, as
    the page's own links do, so a new release never runs beside a cached older module.
    """
    assets: dict[str, Asset] = {}

    def versioned(found: re.Match[str]) -> str:
        return f"{found[1]}{found[2]}?v={load(found[2]).version}{found[3]}"

    def load(name: str) -> Asset:
        if name not in assets:
            path = next(folder / name for folder in folders if (folder / name).is_file())
            body = path.read_bytes()
            if name.endswith(".js"):
                body = SIBLING_IMPORT.sub(versioned, body.decode("utf-8")).encode("utf-8")
            etag = f'"{hashlib.sha256(body).hexdigest()}"'
            assets[name] = Asset(body, MEDIA_TYPES[path.suffix], etag)
        return assets[name]

    for name in names:
        load(name)
    return assets


class Site:
    """A set of pages under `prefix`: the package's templates and static files, and the
    shared ones, read once.

    Each page loads `stylesheet` after the shared one, and one module `script`; the
    modules it imports are served beside it.
    """

    def __init__(self, package_dir: Path, prefix: str, *, script: str, stylesheet: str):
        self.prefix = prefix
        self.script = script
        self.stylesheet = stylesheet
        self.assets = _load_assets(
            (package_dir / "static", SHARED_DIR / "static"),
            (script, "shared.css", stylesheet, "favicon.svg"),
        )
        # The package's templates first: the shared ones extend its `layout.html`.
        self.templates = Environment(
            loader=FileSystemLoader([package_dir / "templates", SHARED_DIR / "templates"]),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # The texts go to the script as JSON (`tojson`), kept readable, not \u-escaped.
        self.templates.policies["json.dumps_kwargs"] = {"ensure_ascii": False}

    def href(self, path: str, language: Language, query: Iterable[tuple[str, str]] = ()) -> str:
        """The address of `path` in `language`, with `query` (its `lang` replaced)."""
        params = [(name, value) for name, value in query if name != "lang"]
        if language == "en":
            params.append(("lang", "en"))
        return self.prefix + path + (f"?{urlencode(params)}" if params else "")

    def static_url(self, name: str) -> str:
        """The address of the static file `name`, with its version."""
        return f"{self.prefix}/static/{name}?v={self.assets[name].version}"

    def render(
        self,
        template: str,
        language: Language,
        messages: Mapping[str, str],
        *,
        page: str,
        query: Iterable[tuple[str, str]] = (),
        **values: Any,
    ) -> str:
        """The template `template` of `page` in `language`; `query` is kept by the language
        switch. Every value is HTML-escaped by the template engine."""
        other = other_language(language)
        switch = [(name, value) for name, value in query if name != "lang"] + [("lang", other)]
        return self.templates.get_template(template).render(
            m=messages,
            page=page,
            title=messages[f"title_{page}"],
            html_lang=HTML_LANG[language],
            other_html_lang=HTML_LANG[other],
            switch_href="?" + urlencode(switch),
            home_href=self.href("/", language),
            static=self.static_url,
            script=self.script,
            stylesheet=self.stylesheet,
            **values,
        )

    def add_static_route(self, router: APIRouter) -> None:
        """Serve the static files at `/static/{name}` on `router`, revalidated by ETag (304
        when current).

        Add it before the router's catch-all page, which would otherwise answer first.
        """
        assets = self.assets

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


def shell_response(body: str, language: Language, *, status: int = 200) -> Response:
    """A rendered HTML shell in `language`."""
    return HTMLResponse(
        body,
        status_code=status,
        # The shell holds no personal or audit data, but must follow the script's version.
        headers={"Cache-Control": "no-cache", "Content-Language": HTML_LANG[language]},
    )
