"""HTTP: the borrower's consents with every access, the access log, the copy, the deletion."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from consent import repository as consent_repository
from consent import transitions
from consent.lookup import get_for_borrower
from gateway.auth.dependencies import CurrentBorrower
from gateway.core.db import SessionDep
from gateway.core.inputs import ConsentId, Cursor
from gateway.core.openapi import error_responses
from gateway.rights import service
from gateway.rights.schemas import (
    AccessLog,
    BorrowerConsentList,
    BorrowerConsentView,
    BorrowerExport,
)
from gateway.runtime.context import ContextDep

router = APIRouter(prefix="/v1/borrower", tags=["consents (borrower)"])


@router.get(
    "/consents", response_model=BorrowerConsentList, responses=error_responses("InvalidToken")
)
async def list_my_consents(
    borrower: CurrentBorrower, session: SessionDep, context: ContextDep
) -> BorrowerConsentList:
    """Every consent asked of the borrower, newest first, with its accesses."""
    consents = await consent_repository.list_for_phone(session, borrower.phone_index)
    return BorrowerConsentList(consents=await service.consent_views(session, context, consents))


@router.get(
    "/consents/{consent_id}",
    response_model=BorrowerConsentView,
    responses=error_responses("InvalidToken", "ConsentNotFound"),
)
async def get_my_consent(
    consent_id: ConsentId, borrower: CurrentBorrower, session: SessionDep, context: ContextDep
) -> BorrowerConsentView:
    """The plain-language notice of one consent and every access made under it."""
    consent = await get_for_borrower(session, borrower, consent_id)
    [view] = await service.consent_views(session, context, [consent])
    return view


@router.get(
    "/access-log",
    response_model=AccessLog,
    responses=error_responses("InvalidToken", "InvalidRequest"),
)
async def get_my_access_log(
    borrower: CurrentBorrower,
    session: SessionDep,
    context: ContextDep,
    cursor: Cursor | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AccessLog:
    """Every access to the borrower's data across their consents, newest first."""
    return await service.access_log(session, context, borrower, cursor=cursor, limit=limit)


@router.get(
    "/export",
    response_model=BorrowerExport,
    responses=error_responses("InvalidToken", "AuditUnavailable"),
)
async def export_my_data(
    borrower: CurrentBorrower, session: SessionDep, context: ContextDep, response: Response
) -> BorrowerExport:
    """A complete JSON copy of what the gateway holds about the borrower (PIPL Art. 45)."""
    response.headers["Content-Disposition"] = 'attachment; filename="lendgate-export.json"'
    response.headers["Cache-Control"] = "no-store"
    return await service.export(session, context, borrower)


@router.post(
    "/consents/{consent_id}/delete-data",
    response_model=BorrowerConsentView,
    responses=error_responses("InvalidToken", "ConsentNotFound"),
)
async def delete_my_data(
    consent_id: ConsentId, borrower: CurrentBorrower, session: SessionDep, context: ContextDep
) -> BorrowerConsentView:
    """Delete what the gateway keeps under this consent; a consent in force ends first."""
    consent = await transitions.borrower_requests_deletion(session, context, borrower, consent_id)
    [view] = await service.consent_views(session, context, [consent])
    return view
