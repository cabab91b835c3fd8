"""HTTP: the release endpoint."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.auth import FeatureReader
from gateway.context import ContextDep
from gateway.db import SessionDep
from gateway.openapi import error_responses
from gateway.releases import service
from gateway.releases.schemas import ReleaseRequest, ReleaseResponse

router = APIRouter(tags=["releases"])


@router.post(
    "/v1/consents/{consent_id}/releases",
    response_model=ReleaseResponse,
    responses=error_responses(
        "InvalidToken",
        "InsufficientScope",
        "ConsentNotFound",
        "ConsentPending",
        "ConsentRejected",
        "ConsentPaused",
        "ConsentRevoked",
        "ConsentExpired",
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
