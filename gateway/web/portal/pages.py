"""The portal's HTML shells and static files, read once at import.

The shells carry no personal data: the script fills them in from the borrower API
after login.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from gateway.web.languages import Language
from gateway.web.portal.messages import MESSAGES
from gateway.web.rendering import Site

Page = Literal["consent", "consents", "data", "not_found"]

SITE: Final = Site(
    Path(__file__).resolve().parent,
    "/portal",
    script="portal.js",
    stylesheet="portal.css",
)

# The consent, the list and the borrower's data share one shell; the script shows the one
# the page names.
_TEMPLATES: Final[dict[Page, str]] = {
    "consent": "consents.html",
    "consents": "consents.html",
    "data": "consents.html",
    "not_found": "not_found.html",
}


def render(page: Page, language: Language, *, consent_id: str = "") -> str:
    """The HTML shell of `page` in `language`."""
    return SITE.render(
        _TEMPLATES[page], language, MESSAGES[language], page=page, consent_id=consent_id
    )
