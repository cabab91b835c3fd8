"""Shapes of the release endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReleaseRequest(BaseModel):
    """Optionally narrow the release to some of the consented features."""

    model_config = ConfigDict(extra="forbid")

    features: list[str] | None = Field(
        None,
        max_length=64,
        description="Some of the consent's features (names from `GET /v1/catalog`); "
        "left out, all of them.",
    )


class AuditReceipt(BaseModel):
    """Where the release sits in the audit log, to ask for an inclusion proof later."""

    leaf_index: int = Field(description="The `release.granted` leaf's index in the log.")
    leaf_hash: str = Field(description="Its RFC 6962 leaf hash (hex), to check a proof against.")


RELEASE_EXAMPLE: dict[str, Any] = {
    "release_id": "rel_4f1c2a9d0b7e4c18a2d35e6f",
    "consent_id": "cns_9a8b7c6d5e4f40312a1b2c3d",
    "jwe": "eyJhbGciOiJFQ0RILUVTK0EyNTZLVyIsImVuYyI6IkEyNTZHQ00ifQ"
    ".ZW5jcnlwdGVkLWtleQ.aXY.Y2lwaGVydGV4dA.dGFn",
    "audit": {
        "leaf_index": 7,
        "leaf_hash": "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a1c3e5b7d9f0a2c4e6b8d0f",
    },
    "delete_by": "2026-12-30T10:20:00+08:00",
}
"""What a release answer looks like (the JWE shortened)."""


class ReleaseResponse(BaseModel):
    """The encrypted release: a JWE (to the lender's X25519 key) around the gateway's JWS."""

    model_config = ConfigDict(json_schema_extra={"examples": [RELEASE_EXAMPLE]})

    release_id: str = Field(description="This release's id.")
    consent_id: str = Field(description="The consent it was released under.")
    jwe: str = Field(
        description="Compact JWE (`ECDH-ES+A256KW`, `A256GCM`) to the lender's X25519 key; "
        "inside, the gateway's EdDSA JWS whose claims are `ReleasePayload`."
    )
    audit: AuditReceipt = Field(description="Where the release is in the audit log.")
    delete_by: datetime = Field(
        description="When the lender must have deleted the features (the consent's data "
        "life), and then attest it."
    )


class DeletionAttestationRequest(BaseModel):
    """The lender's attestation carries no free text: the act itself is the statement."""

    model_config = ConfigDict(extra="forbid")


class DeletionAttestation(BaseModel):
    """A lender's attestation that it deleted what a release gave it."""

    release_id: str = Field(description="The release whose data was deleted.")
    consent_id: str = Field(description="The consent it was released under.")
    delete_by: datetime = Field(description="The release's deletion deadline.")
    attested_at: datetime = Field(description="When the lender attested (the first time).")
    on_time: bool = Field(description="Whether it was attested by the release's `delete_by`.")
    audit: AuditReceipt | None = Field(
        None, description="Where the `deletion.attested` event sits in the audit log."
    )
