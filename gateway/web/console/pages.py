"""The console's HTML shells and static files, read once at import.

Laid out like the borrower portal's (`gateway/portal/pages.py`): the shells carry no
audit data — the script fetches it from the audit API with the regulator's token —
and every value put into a template is HTML-escaped here.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path
from string import Template
from typing import Final, Literal
from urllib.parse import urlencode

from gateway.web import rendering as web
from gateway.web.console.messages import EVENT_TYPES, MESSAGES
from gateway.web.portal.messages import HTML_LANG, Language

PACKAGE_DIR: Final = Path(__file__).resolve().parent
PREFIX: Final = "/regulator"

Page = Literal["overview", "entries", "entry", "compliance", "not_found"]


ASSETS: Final = web.load_assets(
    PACKAGE_DIR, "verify.js", "console.js", "console.css", "favicon.svg"
)

_LAYOUT: Final = web.load_template(PACKAGE_DIR, "layout.html")
_CONTENT: Final[dict[Page, Template]] = {
    page: web.load_template(PACKAGE_DIR, f"{page}.html")
    for page in ("overview", "entries", "entry", "compliance", "not_found")
}
_TITLES: Final[dict[Page, str]] = {
    "overview": "title_overview",
    "entries": "title_entries",
    "entry": "title_entry",
    "compliance": "title_compliance",
    "not_found": "title_not_found",
}
# The navigation: which page each link opens, and which pages it stands for.
_NAV: Final[tuple[tuple[str, str, tuple[Page, ...]], ...]] = (
    ("/", "nav_overview", ("overview",)),
    ("/entries", "nav_entries", ("entries", "entry")),
    ("/compliance", "nav_compliance", ("compliance",)),
)


def _href(path: str, language: Language, query: Iterable[tuple[str, str]] = ()) -> str:
    params = [(name, value) for name, value in query if name != "lang"]
    if language == "en":
        params.append(("lang", "en"))
    return PREFIX + path + (f"?{urlencode(params)}" if params else "")


def _nav(page: Page, language: Language) -> str:
    messages = MESSAGES[language]
    links = []
    for path, label, pages in _NAV:
        current = ' aria-current="page"' if page in pages else ""
        links.append(
            f'<a href="{html.escape(_href(path, language))}"{current}>'
            f"{html.escape(messages[label])}</a>"
        )
    return "\n    ".join(links)


def _event_type_options() -> str:
    return "".join(f'<option value="{html.escape(name)}"></option>' for name in EVENT_TYPES)


def render(
    page: Page,
    language: Language,
    *,
    issuer: str,
    query: Iterable[tuple[str, str]] = (),
    entry_index: str = "",
) -> str:
    """The HTML shell of `page` in `language`; `query` is kept by the language switch."""
    messages = MESSAGES[language]
    other: Language = "en" if language == "zh" else "zh"
    values = web.message_values(messages)
    values["home_href"] = html.escape(_href("/", language))
    values["entries_href"] = html.escape(_href("/entries", language))
    values["issuer"] = html.escape(issuer.rstrip("/"))
    values["event_type_options"] = _event_type_options()
    content = _CONTENT[page].substitute(values)
    switch = [(name, value) for name, value in query if name != "lang"] + [("lang", other)]
    return _LAYOUT.substitute(
        values,
        html_lang=HTML_LANG[language],
        other_html_lang=HTML_LANG[other],
        switch_href=html.escape("?" + urlencode(switch)),
        title=values[f"m_{_TITLES[page]}"],
        page=page,
        entry_index=html.escape(entry_index),
        nav=_nav(page, language),
        css_version=ASSETS["console.css"].version,
        verify_version=ASSETS["verify.js"].version,
        js_version=ASSETS["console.js"].version,
        icon_version=ASSETS["favicon.svg"].version,
        content=content,
        messages_json=web.script_json(messages),
    )
