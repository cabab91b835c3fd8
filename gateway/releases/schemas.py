"""Shapes of the release endpoint."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ReleaseRequest(BaseModel):
    """Optionally narrow the release to some of the consented features."""

    model_config = ConfigDict(extra="forbid")

    features: list[str] | None = Field(None, max_length=64)


class AuditReceipt(BaseModel):
    """Where the release sits in the audit log, to ask for an inclusion proof later."""

    leaf_index: int
    leaf_hash: str


class ReleaseResponse(BaseModel):
    """The encrypted release: a JWE (to the lender's X25519 key) around the gateway's JWS."""

    release_id: str
    consent_id: str
    jwe: str
    audit: AuditReceipt
    delete_by: datetime


class DeletionAttestationRequest(BaseModel):
    """The lender's attestation carries no free text: the act itself is the statement."""

    model_config = ConfigDict(extra="forbid")


class DeletionAttestation(BaseModel):
    """A lender's attestation that it deleted what a release gave it."""

    release_id: str
    consent_id: str
    delete_by: datetime
    attested_at: datetime
    on_time: bool = Field(description="Whether it was attested by the release's `delete_by`.")
    audit: AuditReceipt | None = Field(
        None, description="Where the `deletion.attested` event sits in the audit log."
    )
