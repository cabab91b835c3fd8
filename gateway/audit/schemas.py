"""Shapes of the regulator's audit endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_LOG_POSITION = 2**63 - 1
"""The largest leaf index or tree size a request may name: positions are 64-bit integers."""


class AuditEntryView(BaseModel):
    """One leaf with its position and RFC 6962 leaf hash."""

    index: int
    leaf: dict[str, Any]
    leaf_hash: str


class AuditPage(BaseModel):
    """A page of entries; pass `next_cursor` as `cursor` for the next one."""

    entries: list[AuditEntryView]
    next_cursor: str | None


class CosignatureView(BaseModel):
    """A witness's signature over a tree head it checked."""

    witness: str = Field(description="The regulator's client_id.")
    signature: str = Field(description="The witness's compact JWS over the tree head's claims.")
    signed_at: datetime


class TreeHeadView(BaseModel):
    """A signed tree head (STH) and the co-signatures witnesses added to it."""

    tree_size: int
    root_hash: str = Field(
        description="Hex SHA-256 Merkle tree hash (RFC 6962) of the first `tree_size` leaves."
    )
    timestamp: int = Field(description="Milliseconds since the Unix epoch.")
    sth: str = Field(
        description="The gateway's compact JWS (EdDSA) over `{tree_size, root_hash, timestamp}`; "
        "verify it with `/.well-known/jwks.json`."
    )
    cosignatures: list[CosignatureView] = []


class CosignRequest(BaseModel):
    """A witness's co-signature: a compact JWS (`typ` `cosignature+jwt`) by its registered key.

    Its claims repeat the tree head (`tree_size`, `root_hash`, `timestamp`) and add
    `iss` (the witness's client_id) and `iat`.
    """

    model_config = ConfigDict(extra="forbid")

    signature: str = Field(min_length=1, max_length=8192)


class InclusionProof(BaseModel):
    """RFC 9162 inclusion proof of one leaf (hex hashes, leaf to root)."""

    leaf_index: int
    tree_size: int
    leaf_hash: str
    inclusion_path: list[str]
    root_hash: str
    tree_head: TreeHeadView | None = Field(
        None, description="The signed tree head of `tree_size`, when the gateway issued one."
    )


class ConsistencyProof(BaseModel):
    """RFC 9162 consistency proof between two tree sizes (hex hashes)."""

    tree_size_1: int
    tree_size_2: int
    consistency_path: list[str]
    first_root_hash: str
    second_root_hash: str
