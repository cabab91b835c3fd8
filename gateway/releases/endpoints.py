"""HTTP: releases and the lender's deletion attestations."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.auth.dependencies import FeatureReader
from gateway.core.db import SessionDep
from gateway.core.inputs import ConsentId, ReleaseId
from gateway.core.openapi import AUTH_ERRORS, CONSENT_STATE_ERRORS, error_responses
from gateway.releases import service
from gateway.releases.schemas import (
    DeletionAttestation,
    DeletionAttestationRequest,
    ReleaseRequest,
    ReleaseResponse,
)
from gateway.runtime.context import ContextDep

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
    body: ReleaseRequest | None = None,
) -> ReleaseResponse:
    """Release the consented features (or fewer, `features`), encrypted to the lender."""
    requested = body.features if body else None
    return await service.release_features(session, context, lender, consent_id, requested)


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
