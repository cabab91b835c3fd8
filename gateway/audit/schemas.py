"""Shapes of the regulator's audit endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_LOG_POSITION = 2**63 - 1
"""The largest leaf index or tree size a request may name: positions are 64-bit integers."""

_ROOT = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a1c3e5b7d9f0a2c4e6b8d0f"
_STH = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImdrLTIwMjYxMSIsInR5cCI6InN0aCtqd3QifQ"
    ".eyJ0cmVlX3NpemUiOjE4fQ.c2lnbmF0dXJl"
)
_DIGEST = "sha256:4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b"
_POLICY = "sha256:5d41402abc4b2a76b9719d911017c592ae4e1d2f6c3b8a7e9f0d1c2b3a4e5f60"
TREE_HEAD_EXAMPLE: dict[str, Any] = {
    "tree_size": 18,
    "root_hash": _ROOT,
    "timestamp": 1796000100000,
    "sth": _STH,
    "cosignatures": [
        {
            "witness": "reg_5e6f7a8b9c0d41e2a3b4c5d6",
            "signature": "eyJhbGciOiJFZERTQSIsInR5cCI6ImNvc2lnbmF0dXJlK2p3dCJ9"
            ".eyJ0cmVlX3NpemUiOjE4fQ.d2l0bmVzcw",
            "signed_at": "2026-11-30T02:20:00Z",
        }
    ],
}
AUDIT_PAGE_EXAMPLE: dict[str, Any] = {
    "entries": [
        {
            "index": 17,
            "leaf": {
                "seq": 17,
                "ts": "2026-11-30T02:15:00.000Z",
                "type": "release.granted",
                "actor": "lnd_0d1e2f3a4b5c4d6e8f7a9b0c",
                "consent_id": "cns_9a8b7c6d5e4f40312a1b2c3d",
                "lender_id": "lnd_0d1e2f3a4b5c4d6e8f7a9b0c",
                "borrower_ref": "b7e1c2d3a4f5061728394a5b6c7d8e9f",
                "purpose": "consumer_installment_underwriting",
                "features": ["hf_status", "income_proxy_band", "si_active"],
                "source_fields": ["housing_fund.status", "social_insurance.monthly_base"],
                "outcome": "ok",
                "payload_digest": _DIGEST,
                "request_id": "req_1a2b3c4d5e6f47a8b9c0d1e2",
                "policy_version": _POLICY,
            },
            "leaf_hash": "3c5e7a9b1d3f5e7a9c0b2d4f6e8a1c3e5b7d9f0a2c4e6b8d0f9f2c4e6a8b0d1f",
        }
    ],
    "next_cursor": "eyJhZnRlciI6MTd9",
}
INCLUSION_PROOF_EXAMPLE: dict[str, Any] = {
    "leaf_index": 17,
    "tree_size": 18,
    "leaf_hash": "3c5e7a9b1d3f5e7a9c0b2d4f6e8a1c3e5b7d9f0a2c4e6b8d0f9f2c4e6a8b0d1f",
    "inclusion_path": ["7d1e3f5a7b9c0d2e4f6a8b1c3d5e7f9a0b2c4d6e8f1a3b5c7d9e0f2a4b6c8d1e"],
    "root_hash": _ROOT,
    "tree_head": TREE_HEAD_EXAMPLE,
}
CONSISTENCY_PROOF_EXAMPLE: dict[str, Any] = {
    "tree_size_1": 12,
    "tree_size_2": 18,
    "consistency_path": [
        "1a3c5e7b9d0f2a4c6e8b1d3f5a7c9e0b2d4f6a8c1e3b5d7f9a0c2e4b6d8f1a3c",
        "6b8d0f2a4c6e8b1d3f5a7c9e0b2d4f6a8c1e3b5d7f9a0c2e4b6d8f1a3c5e7b9d",
    ],
    "first_root_hash": "2e4a6c8e0b2d4f6a8c1e3b5d7f9a0c2e4b6d8f1a3c5e7b9d0f2a4c6e8b1d3f5a",
    "second_root_hash": _ROOT,
}


class AuditEntryView(BaseModel):
    """One leaf with its position and RFC 6962 leaf hash."""

    index: int = Field(description="The leaf's position in the log, from 0.")
    leaf: dict[str, Any] = Field(
        description="The logged event: `seq`, `ts`, `type`, `actor` and the ids, pseudonyms, "
        "feature names and digests it concerns (null where one does not apply, as `reason` "
        "of a granted release); never personal data."
    )
    leaf_hash: str = Field(
        description="Hex SHA-256 of 0x00 and the leaf's canonical JSON (RFC 6962 leaf hash)."
    )


class AuditPage(BaseModel):
    """A page of entries; pass `next_cursor` as `cursor` for the next one."""

    model_config = ConfigDict(json_schema_extra={"examples": [AUDIT_PAGE_EXAMPLE]})

    entries: list[AuditEntryView] = Field(description="Matching entries, oldest first.")
    next_cursor: str | None = Field(
        description="Opaque cursor of the next page; null on the last page."
    )


class CosignatureView(BaseModel):
    """A witness's signature over a tree head it checked."""

    witness: str = Field(description="The regulator's client_id.")
    signature: str = Field(description="The witness's compact JWS over the tree head's claims.")
    signed_at: datetime = Field(description="When the gateway accepted the co-signature.")


class TreeHeadView(BaseModel):
    """A signed tree head (STH) and the co-signatures witnesses added to it."""

    model_config = ConfigDict(json_schema_extra={"examples": [TREE_HEAD_EXAMPLE]})

    tree_size: int = Field(description="How many leaves the head covers.")
    root_hash: str = Field(
        description="Hex SHA-256 Merkle tree hash (RFC 6962) of the first `tree_size` leaves."
    )
    timestamp: int = Field(description="Milliseconds since the Unix epoch.")
    sth: str = Field(
        description="The gateway's compact JWS (EdDSA) over `{tree_size, root_hash, timestamp}`; "
        "verify it with `/.well-known/jwks.json`."
    )
    cosignatures: list[CosignatureView] = Field(
        [], description="Witnesses' co-signatures of this head, oldest first."
    )


class CosignRequest(BaseModel):
    """A witness's co-signature: a compact JWS (`typ` `cosignature+jwt`) by its registered key.

    Its claims repeat the tree head (`tree_size`, `root_hash`, `timestamp`) and add
    `iss` (the witness's client_id) and `iat`.
    """

    model_config = ConfigDict(extra="forbid")

    signature: str = Field(
        min_length=1,
        max_length=8192,
        description="The witness's compact JWS over the tree head's claims, by its registered key.",
    )


class InclusionProof(BaseModel):
    """RFC 9162 inclusion proof of one leaf (hex hashes, leaf to root)."""

    model_config = ConfigDict(json_schema_extra={"examples": [INCLUSION_PROOF_EXAMPLE]})

    leaf_index: int = Field(description="The position of the leaf proved, from 0.")
    tree_size: int = Field(description="The size of the tree the leaf is proved to be in.")
    leaf_hash: str = Field(description="Hex RFC 6962 hash of the leaf.")
    inclusion_path: list[str] = Field(
        description="Hex sibling hashes from the leaf up to the root (RFC 9162 §2.1.3)."
    )
    root_hash: str = Field(description="Hex root hash of the first `tree_size` leaves.")
    tree_head: TreeHeadView | None = Field(
        None, description="The signed tree head of `tree_size`, when the gateway issued one."
    )


class ConsistencyProof(BaseModel):
    """RFC 9162 consistency proof between two tree sizes (hex hashes)."""

    model_config = ConfigDict(json_schema_extra={"examples": [CONSISTENCY_PROOF_EXAMPLE]})

    tree_size_1: int = Field(description="The earlier, smaller tree size.")
    tree_size_2: int = Field(description="The later tree size.")
    consistency_path: list[str] = Field(
        description="Hex hashes proving the first tree is a prefix of the second (RFC 9162 §2.1.4)."
    )
    first_root_hash: str = Field(description="Hex root hash at `tree_size_1`.")
    second_root_hash: str = Field(description="Hex root hash at `tree_size_2`.")
