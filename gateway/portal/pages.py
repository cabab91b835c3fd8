"""The portal's HTML shells and static files, read once at import.

The shells carry no personal data: the script fills them in from the borrower API
after login. Every value put into a template is HTML-escaped here.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Final, Literal

from gateway.portal.messages import HTML_LANG, MESSAGES, Language

PACKAGE_DIR: Final = Path(__file__).resolve().parent

Page = Literal["consent", "consents", "not_found"]


@dataclass(frozen=True)
class Asset:
    """One static file of the portal, with its validator."""

    body: bytes
    media_type: str
    etag: str

    @property
    def version(self) -> str:
        """A short content hash, put in the asset's URL so a new release is fetched at once."""
        return self.etag.strip('"')[:12]


def _asset(name: str, media_type: str) -> Asset:
    body = (PACKAGE_DIR / "static" / name).read_bytes()
    return Asset(body, media_type, f'"{hashlib.sha256(body).hexdigest()}"')


def _template(name: str) -> Template:
    return Template((PACKAGE_DIR / "templates" / name).read_text(encoding="utf-8"))


ASSETS: Final[dict[str, Asset]] = {
    "portal.js": _asset("portal.js", "text/javascript; charset=utf-8"),
    "portal.css": _asset("portal.css", "text/css; charset=utf-8"),
    "favicon.svg": _asset("favicon.svg", "image/svg+xml"),
}

_LAYOUT: Final = _template("layout.html")
_CONTENT: Final[dict[Page, Template]] = {
    "consent": _template("app.html"),
    "consents": _template("app.html"),
    "not_found": _template("not_found.html"),
}
_TITLES: Final[dict[Page, str]] = {
    "consent": "title_consent",
    "consents": "title_consents",
    "not_found": "title_not_found",
}


def _script_json(value: object) -> str:
    # Inside <script> only "</" can end the element early; \u003c keeps the JSON valid.
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def render(page: Page, language: Language, *, consent_id: str = "") -> str:
    """The HTML shell of `page` in `language`."""
    messages = MESSAGES[language]
    other: Language = "en" if language == "zh" else "zh"
    values = {f"m_{key}": html.escape(text) for key, text in messages.items()}
    values["home_href"] = "/portal/" + ("?lang=en" if language == "en" else "")
    content = _CONTENT[page].substitute(values)
    return _LAYOUT.substitute(
        values,
        html_lang=HTML_LANG[language],
        other_lang=other,
        other_html_lang=HTML_LANG[other],
        title=values[f"m_{_TITLES[page]}"],
        page=page,
        consent_id=html.escape(consent_id),
        css_version=ASSETS["portal.css"].version,
        js_version=ASSETS["portal.js"].version,
        icon_version=ASSETS["favicon.svg"].version,
        content=content,
        messages_json=_script_json(messages),
    )
