"""HTTP: consent requests and decisions, for lenders and for borrowers."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from consent import artefacts, authorization, lookup, transitions, views
from consent.expiry import settle_all
from consent.models import Consent
from consent.schemas import (
    Approval,
    ConsentReceipts,
    ConsentRequestCreate,
    Decision,
    LenderConsentView,
)
from consent.states import ConsentAction
from gateway.auth.dependencies import ConsentWriter, CurrentBorrower
from gateway.core.db import SessionDep
from gateway.core.inputs import ConsentId, IdempotencyKey
from gateway.core.openapi import AUTH_ERRORS, CONSENT_STATE_ERRORS, error_responses
from gateway.runtime.context import ContextDep, GatewayContext
from gateway.security import idempotency

lender_router = APIRouter(tags=["consents (lender)"])
borrower_router = APIRouter(prefix="/v1/borrower", tags=["consents (borrower)"])

STATE_ERRORS = (*CONSENT_STATE_ERRORS, "PolicyViolation")

LetterFormat = Annotated[
    Literal["html", "pdf"],
    Query(alias="format", description="`html` (a page) or `pdf` (Chinese font embedded)."),
]
LetterLanguage = Annotated[Literal["zh", "en"], Query(description="`zh` (default) or `en`.")]
LETTER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The authorization letter, bound to the signed artefact's digest.",
        "content": {"text/html": {}, "application/pdf": {}},
    }
}


async def _letter_response(
    session: AsyncSession,
    context: GatewayContext,
    consent: Consent,
    kind: Literal["html", "pdf"],
    language: Literal["zh", "en"],
) -> Response:
    """The consent's authorization letter as a page or a PDF file."""
    name = await views.lender_name(session, consent.lender_id)
    letter = authorization.letter_of(context, consent, name, language)
    headers = {"Cache-Control": "no-store"}
    if kind == "pdf":
        body = authorization.letter_pdf(letter, context.settings.authorization_font)
        headers["Content-Disposition"] = f'inline; filename="authorization-{consent.id}.pdf"'
        return Response(body, media_type="application/pdf", headers=headers)
    headers["Content-Security-Policy"] = authorization.LETTER_CSP
    return HTMLResponse(authorization.letter_html(letter), headers=headers)


@lender_router.post(
    "/v1/consent-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=LenderConsentView,
    responses=error_responses(*AUTH_ERRORS, "PurposeViolation", "InvalidRequest"),
)
async def create_consent_request(
    body: ConsentRequestCreate,
    lender: ConsentWriter,
    session: SessionDep,
    context: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> LenderConsentView | JSONResponse:
    """Ask a borrower for consent; the answer carries the `approval_url` to send them to.

    Retried with the same `Idempotency-Key`, it answers the consent the first request created.
    """

    async def request() -> LenderConsentView:
        consent = await transitions.request_consent(session, context, lender, body)
        return views.lender_view(context, consent)

    return await idempotency.run_once(
        session,
        client_id=lender.client_id,
        key=idempotency_key,
        operation="POST /v1/consent-requests",
        body=body.model_dump(mode="json"),
        now=context.clock.now(),
        keep=timedelta(hours=context.settings.idempotency_keep_hours),
        run=request,
        status_code=status.HTTP_201_CREATED,
    )


@lender_router.get(
    "/v1/consents/{consent_id}",
    response_model=LenderConsentView,
    responses=error_responses(*AUTH_ERRORS, "ConsentNotFound"),
)
async def get_consent(
    consent_id: ConsentId, lender: ConsentWriter, session: SessionDep, context: ContextDep
) -> LenderConsentView:
    """Status, terms, signed artefact and use count of one of the lender's consents."""
    consent = await lookup.get_for_lender(session, lender.client_id, consent_id)
    await settle_all(session, context, [consent])
    return views.lender_view(context, consent)


@lender_router.get(
    "/v1/consents/{consent_id}/authorization",
    response_class=Response,
    responses={**LETTER_RESPONSES, **error_responses(*AUTH_ERRORS, "ConsentNotFound")},
)
async def get_authorization(
    consent_id: ConsentId,
    lender: ConsentWriter,
    session: SessionDep,
    context: ContextDep,
    kind: LetterFormat = "html",
    lang: LetterLanguage = "zh",
) -> Response:
    """The authorization letter (个人信息授权书 / 征信查询授权书) of one of the lender's
    consents, carrying the signed artefact's digest and the approval time."""
    consent = await lookup.get_for_lender(session, lender.client_id, consent_id)
    return await _letter_response(session, context, consent, kind, lang)


@lender_router.post(
    "/v1/consents/{consent_id}/revoke",
    response_model=Decision,
    responses=error_responses(*AUTH_ERRORS, *STATE_ERRORS),
)
async def lender_revoke(
    consent_id: ConsentId, lender: ConsentWriter, session: SessionDep, context: ContextDep
) -> Decision:
    """The lender ends its consent; its data key is destroyed. Repeating it changes nothing."""
    return await transitions.lender_revokes(session, context, lender, consent_id)


@borrower_router.get(
    "/consents/{consent_id}/receipt",
    response_model=ConsentReceipts,
    responses=error_responses(
        "InvalidToken", "ConsentNotFound", "ConsentPending", "ConsentRejected", "ConsentExpired"
    ),
)
async def get_my_receipts(
    consent_id: ConsentId, borrower: CurrentBorrower, session: SessionDep, context: ContextDep
) -> ConsentReceipts:
    """The signed consent receipt, and the withdrawal receipt once the consent was revoked."""
    return await artefacts.receipts_of(session, context, borrower, consent_id)


@borrower_router.get(
    "/consents/{consent_id}/authorization",
    response_class=Response,
    responses={**LETTER_RESPONSES, **error_responses("InvalidToken", "ConsentNotFound")},
)
async def get_my_authorization(
    consent_id: ConsentId,
    borrower: CurrentBorrower,
    session: SessionDep,
    context: ContextDep,
    kind: LetterFormat = "html",
    lang: LetterLanguage = "zh",
) -> Response:
    """The authorization letter of the consent: before approval what the borrower is asked
    to sign, after it with the signed artefact's digest and the approval time."""
    consent = await lookup.get_for_borrower(session, borrower, consent_id)
    return await _letter_response(session, context, consent, kind, lang)


@borrower_router.post(
    "/consents/{consent_id}/approve",
    response_model=Decision,
    responses=error_responses("InvalidToken", "RateLimited", "InvalidRequest", *STATE_ERRORS),
)
async def approve(
    consent_id: ConsentId,
    body: Approval,
    borrower: CurrentBorrower,
    session: SessionDep,
    context: ContextDep,
) -> Decision:
    """Approve with the step-up code texted for this consent; returns artefact and receipt.

    Approving a consent already active changes nothing and answers its current state.
    """
    return await transitions.borrower_decides(
        session, context, borrower, consent_id, ConsentAction.APPROVE, body.code
    )


def _decision_endpoint(action: ConsentAction, summary: str) -> None:
    async def decide(
        consent_id: ConsentId, borrower: CurrentBorrower, session: SessionDep, context: ContextDep
    ) -> Decision:
        return await transitions.borrower_decides(session, context, borrower, consent_id, action)

    decide.__doc__ = summary
    borrower_router.add_api_route(
        f"/consents/{{consent_id}}/{action.value}",
        decide,
        methods=["POST"],
        response_model=Decision,
        responses=error_responses("InvalidToken", *STATE_ERRORS),
        name=f"{action.value}_consent",
        summary=summary,
    )


_decision_endpoint(ConsentAction.REJECT, "Reject a pending consent request.")
_decision_endpoint(ConsentAction.PAUSE, "Pause an active consent; releases stop until resumed.")
_decision_endpoint(ConsentAction.RESUME, "Resume a paused consent.")
_decision_endpoint(
    ConsentAction.REVOKE,
    "Revoke a consent at once: its data key is destroyed, a withdrawal receipt issued.",
)
