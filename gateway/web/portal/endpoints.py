"""HTTP: the borrower portal's pages and static files (the script talks to `/v1/borrower`)."""

from __future__ import annotations

import re
from typing import Final

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from gateway.web.languages import Language, language_of
from gateway.web.portal.pages import SITE, Page, render
from gateway.web.rendering import LangQuery, shell_response

router = APIRouter(prefix=SITE.prefix, include_in_schema=False)

# Consent ids are `cns_` plus hex; anything else in the path cannot name a consent.
CONSENT_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _page(page: Page, language: Language, *, consent_id: str = "", status: int = 200) -> Response:
    return shell_response(render(page, language, consent_id=consent_id), language, status=status)


@router.get("/", response_class=HTMLResponse)
async def consents_page(lang: LangQuery = None) -> Response:
    """The borrower's consents, listed once they log in."""
    return _page("consents", language_of(lang))


@router.get("/data", response_class=HTMLResponse)
async def data_page(lang: LangQuery = None) -> Response:
    """Every access across the borrower's consents, and the complete copy to download."""
    return _page("data", language_of(lang))


@router.get("/consents/{consent_id}", response_class=HTMLResponse)
async def consent_page(consent_id: str, lang: LangQuery = None) -> Response:
    """One consent in plain language, with the borrower's choices: where `approval_url` points."""
    language = language_of(lang)
    if not CONSENT_ID.fullmatch(consent_id):
        return _page("not_found", language, status=404)
    return _page("consent", language, consent_id=consent_id)


# The portal's script, style sheet and icon; before the catch-all below.
SITE.add_static_route(router)


@router.get("/{path:path}", response_class=HTMLResponse)
async def page_not_found(path: str, lang: LangQuery = None) -> Response:
    """Any other portal address: a page a borrower can read, with a way back."""
    return _page("not_found", language_of(lang), status=404)
