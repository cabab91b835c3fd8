"""HTTP: releases, the lender's deletion attestations, and the regulator's list of overdue ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.auth.dependencies import FeatureReader, RegulatorDep
from gateway.core.db import SessionDep
from gateway.core.openapi import AUTH_ERRORS, CONSENT_STATE_ERRORS, error_responses
from gateway.releases import service
from gateway.releases.schemas import (
    DeletionAttestation,
    DeletionAttestationRequest,
    OverdueAttestations,
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
    consent_id: str,
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
    release_id: str,
    lender: FeatureReader,
    session: SessionDep,
    body: DeletionAttestationRequest | None = None,
) -> DeletionAttestation:
    """Attest that what this release gave the lender is deleted (due by its `delete_by`)."""
    return await service.attest_deletion(session, lender, release_id)


@router.get(
    "/v1/audit/deletion-attestations/overdue",
    response_model=OverdueAttestations,
    tags=["audit"],
    responses=error_responses(
        "InvalidToken", "InsufficientScope", "InvalidRequest", "AuditUnavailable"
    ),
)
async def overdue_deletion_attestations(
    regulator: RegulatorDep,
    session: SessionDep,
    lender_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> OverdueAttestations:
    """Releases past their `delete_by` whose lender has not attested deletion, oldest first."""
    return await service.overdue_attestations(
        session, regulator, lender_id=lender_id, cursor=cursor, limit=limit
    )
