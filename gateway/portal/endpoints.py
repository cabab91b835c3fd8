"""HTTP: the borrower portal's pages and static files (the script talks to `/v1/borrower`)."""

from __future__ import annotations

import re
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from gateway.portal.messages import HTML_LANG, Language, language_of
from gateway.portal.pages import ASSETS, Page, render

router = APIRouter(prefix="/portal", include_in_schema=False)

LangQuery = Annotated[str | None, Query(max_length=16, description="`en` for English.")]

# Consent ids are `cns_` plus hex; anything else in the path cannot name a consent.
CONSENT_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _page(page: Page, language: Language, *, consent_id: str = "", status: int = 200) -> Response:
    return HTMLResponse(
        render(page, language, consent_id=consent_id),
        status_code=status,
        # The shell holds no personal data, but must follow the script's version.
        headers={"Cache-Control": "no-cache", "Content-Language": HTML_LANG[language]},
    )


@router.get("/", response_class=HTMLResponse)
async def consents_page(lang: LangQuery = None) -> Response:
    """The borrower's consents, listed once they log in."""
    return _page("consents", language_of(lang))


@router.get("/consents/{consent_id}", response_class=HTMLResponse)
async def consent_page(consent_id: str, lang: LangQuery = None) -> Response:
    """One consent in plain language, with the borrower's choices: where `approval_url` points."""
    language = language_of(lang)
    if not CONSENT_ID.fullmatch(consent_id):
        return _page("not_found", language, status=404)
    return _page("consent", language, consent_id=consent_id)


@router.get("/static/{name}")
async def static_file(name: str, request: Request) -> Response:
    """The portal's script and style sheet."""
    asset = ASSETS.get(name)
    if asset is None:
        raise HTTPException(404, "No such file.")
    headers = {"ETag": asset.etag, "Cache-Control": "public, max-age=3600"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/{path:path}", response_class=HTMLResponse)
async def page_not_found(path: str, lang: LangQuery = None) -> Response:
    """Any other portal address: a page a borrower can read, with a way back."""
    return _page("not_found", language_of(lang), status=404)
