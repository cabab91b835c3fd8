"""The console's HTML shells and static files, read once at import.

Laid out like the borrower portal's (`gateway/web/portal/pages.py`): the shells carry
no audit data — the script fetches it from the audit API with the regulator's token.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final, Literal

from gateway.web.console.messages import EVENT_TYPES, MESSAGES
from gateway.web.languages import Language
from gateway.web.rendering import Site

Page = Literal["overview", "entries", "entry", "compliance", "not_found"]

SITE: Final = Site(
    Path(__file__).resolve().parent,
    "/regulator",
    script="console.js",
    stylesheet="console.css",
)

# The navigation: which page each link opens, and which pages it stands for.
_NAV: Final[tuple[tuple[str, str, tuple[Page, ...]], ...]] = (
    ("/", "nav_overview", ("overview",)),
    ("/entries", "nav_entries", ("entries", "entry")),
    ("/compliance", "nav_compliance", ("compliance",)),
)


def render(
    page: Page,
    language: Language,
    *,
    issuer: str,
    query: Iterable[tuple[str, str]] = (),
    entry_index: str = "",
) -> str:
    """The HTML shell of `page` in `language`; `query` is kept by the language switch."""
    nav = [
        {"href": SITE.href(path, language), "label": label, "current": page in pages}
        for path, label, pages in _NAV
    ]
    return SITE.render(
        f"{page}.html",
        language,
        MESSAGES[language],
        page=page,
        query=query,
        nav=nav,
        entries_href=SITE.href("/entries", language),
        issuer=issuer.rstrip("/"),
        event_types=EVENT_TYPES,
        entry_index=entry_index,
    )
