"""The portal's HTML shells and static files, read once at import.

The shells carry no personal data: the script fills them in from the borrower API
after login. Every value put into a template is HTML-escaped here.
"""

from __future__ import annotations

import html
from pathlib import Path
from string import Template
from typing import Final, Literal

from gateway.web import rendering as web
from gateway.web.portal.messages import HTML_LANG, MESSAGES, Language

PACKAGE_DIR: Final = Path(__file__).resolve().parent

Page = Literal["consent", "consents", "not_found"]

ASSETS: Final = web.load_assets(PACKAGE_DIR, "portal.js", "portal.css", "favicon.svg")

_LAYOUT: Final = web.load_template(PACKAGE_DIR, "layout.html")
_CONTENT: Final[dict[Page, Template]] = {
    "consent": web.load_template(PACKAGE_DIR, "app.html"),
    "consents": web.load_template(PACKAGE_DIR, "app.html"),
    "not_found": web.load_template(PACKAGE_DIR, "not_found.html"),
}
_TITLES: Final[dict[Page, str]] = {
    "consent": "title_consent",
    "consents": "title_consents",
    "not_found": "title_not_found",
}


def render(page: Page, language: Language, *, consent_id: str = "") -> str:
    """The HTML shell of `page` in `language`."""
    messages = MESSAGES[language]
    other: Language = "en" if language == "zh" else "zh"
    values = web.message_values(messages)
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
        messages_json=web.script_json(messages),
    )
