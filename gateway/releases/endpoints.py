"""HTTP: releases and the lender's deletion attestations."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from consent import lookup
from consent.states import check_replayable
from gateway.auth.dependencies import FeatureReader
from gateway.core.db import SessionDep
from gateway.core.inputs import ConsentId, IdempotencyKey, ReleaseId
from gateway.core.openapi import AUTH_ERRORS, CONSENT_STATE_ERRORS, error_responses
from gateway.releases import service
from gateway.releases.schemas import (
    DeletionAttestation,
    DeletionAttestationRequest,
    ReleaseRequest,
    ReleaseResponse,
)
from gateway.runtime.context import ContextDep
from gateway.security import idempotency

router = APIRouter(tags=["releases"])


@router.post(
    "/v1/consents/{consent_id}/releases",
    response_model=ReleaseResponse,
    responses=error_responses(
        *AUTH_ERRORS,
        *CONSENT_STATE_ERRORS,
        "ConsentNotYetValid",
        "FrequencyExceeded",
        "PurposeViolation",
        "PolicyViolation",
        "EgressBlocked",
        "SourceUnavailable",
        "AuditUnavailable",
        "InvalidRequest",
    ),
)
async def create_release(
    consent_id: ConsentId,
    lender: FeatureReader,
    session: SessionDep,
    context: ContextDep,
    idempotency_key: IdempotencyKey = None,
    body: ReleaseRequest | None = None,
) -> ReleaseResponse | JSONResponse:
    """Release the consented features (or fewer, `features`), encrypted to the lender.

    Retried with the same `Idempotency-Key`, it answers the same release again (spending
    nothing), unless the borrower has since paused or revoked the consent.
    """
    requested = body.features if body else None

    async def release() -> ReleaseResponse:
        return await service.release_features(session, context, lender, consent_id, requested)

    async def still_consented() -> None:
        consent = await lookup.get_for_lender(session, lender.client_id, consent_id)
        check_replayable(consent.status)

    return await idempotency.run_once(
        session,
        client_id=lender.client_id,
        key=idempotency_key,
        operation=f"POST /v1/consents/{consent_id}/releases",
        body={"features": requested},
        now=context.clock.now(),
        keep=timedelta(hours=context.settings.idempotency_keep_hours),
        run=release,
        status_code=200,
        before_replay=still_consented,
    )


@router.post(
    "/v1/releases/{release_id}/deletion-attestation",
    response_model=DeletionAttestation,
    responses=error_responses(
        "InvalidToken", "InsufficientScope", "ConsentNotFound", "InvalidRequest", "AuditUnavailable"
    ),
)
async def attest_deletion(
    release_id: ReleaseId,
    lender: FeatureReader,
    session: SessionDep,
    context: ContextDep,
    body: DeletionAttestationRequest | None = None,
) -> DeletionAttestation:
    """Attest that what this release gave the lender is deleted (due by its `delete_by`)."""
    return await service.attest_deletion(session, context, lender, release_id)
