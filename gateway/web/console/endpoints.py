"""HTTP: the regulator console's pages and static files (the script talks to `/v1/audit`).

The pages are open shells: everything they show comes from the audit API, called by
the script with the regulator's own access token, so a page request reads nothing.
"""

from __future__ import annotations

import re
from typing import Final

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from gateway.runtime.context import ContextDep
from gateway.web.console.pages import SITE, Page, render
from gateway.web.languages import Language, language_of
from gateway.web.rendering import LangQuery, shell_response

router = APIRouter(prefix=SITE.prefix, include_in_schema=False)

# A leaf index is a whole number; anything else in the path cannot name an entry.
LEAF_INDEX: Final = re.compile(r"[0-9]{1,18}")


def _page(
    page: Page,
    language: Language,
    request: Request,
    context: ContextDep,
    *,
    entry_index: str = "",
    status: int = 200,
) -> Response:
    body = render(
        page,
        language,
        issuer=context.settings.issuer,
        query=request.query_params.multi_items(),
        entry_index=entry_index,
    )
    return shell_response(body, language, status=status)


@router.get("/", response_class=HTMLResponse)
async def overview_page(request: Request, context: ContextDep, lang: LangQuery = None) -> Response:
    """The latest signed and co-signed tree heads, and releases per day."""
    return _page("overview", language_of(lang), request, context)


@router.get("/entries", response_class=HTMLResponse)
async def entries_page(request: Request, context: ContextDep, lang: LangQuery = None) -> Response:
    """The audit log, filtered by lender, consent, event type and time, a page at a time."""
    return _page("entries", language_of(lang), request, context)


@router.get("/entries/{index}", response_class=HTMLResponse)
async def entry_page(
    index: str, request: Request, context: ContextDep, lang: LangQuery = None
) -> Response:
    """One entry, with its inclusion proof checked in the browser."""
    language = language_of(lang)
    if not LEAF_INDEX.fullmatch(index):
        return _page("not_found", language, request, context, status=404)
    return _page("entry", language, request, context, entry_index=str(int(index)))


@router.get("/compliance", response_class=HTMLResponse)
async def compliance_page(
    request: Request, context: ContextDep, lang: LangQuery = None
) -> Response:
    """The compliance report for a chosen range, each finding linked to its entries."""
    return _page("compliance", language_of(lang), request, context)


# The console's scripts, style sheet and icon; before the catch-all below.
SITE.add_static_route(router)


@router.get("/{path:path}", response_class=HTMLResponse)
async def page_not_found(
    path: str, request: Request, context: ContextDep, lang: LangQuery = None
) -> Response:
    """Any other console address: a page a regulator can read, with a way back."""
    return _page("not_found", language_of(lang), request, context, status=404)
