"""The claim sets the gateway signs and its clients verify, defined once for both sides.

They are `TypedDict`s: plain dicts on the wire, so a claim set is serialized with
exactly the keys, in exactly the order, its builder wrote (signatures depend on it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NotRequired, TypedDict, cast

ISSUER: Final = "lendgate"
ARTEFACT_TYPE: Final = "consent+jwt"
RECEIPT_TYPE: Final = "consent-receipt+jwt"
NOTIFICATION_TYPE: Final = "consent-event+jwt"
STH_TYPE: Final = "sth+jwt"
COSIGNATURE_TYPE: Final = "cosignature+jwt"
TREE_HEAD_CLAIMS: Final = ("tree_size", "root_hash", "timestamp")


class SourceStamp(TypedDict):
    """How current one data source was when a release read it."""

    as_of: str


class ReleaseClaims(TypedDict):
    """A release payload (JWS inside the lender's JWE): features for one consent, one lender."""

    release_id: str
    consent_id: str
    purpose: str
    borrower_ref: str
    features: dict[str, Any]
    sources: dict[str, SourceStamp]
    policy_version: str
    iat: int
    iss: str
    aud: str


class ConsentArtefactClaims(TypedDict):
    """The consent artefact (`typ` consent+jwt): the immutable terms the borrower approved."""

    iss: str
    sub: str
    aud: str
    iat: int
    nbf: int
    exp: int
    borrower_ref: str
    terms: dict[str, Any]
    policy_version: str


class ReceiptTimestamps(TypedDict):
    """When a consent was requested, approved and withdrawn (RFC 3339, or None)."""

    requested_at: str | None
    approved_at: str | None
    withdrawn_at: str | None


class ConsentReceiptClaims(TypedDict):
    """A consent or withdrawal receipt (`typ` consent-receipt+jwt) the borrower keeps."""

    iss: str
    sub: str
    jti: str
    iat: int
    version: str
    schemas: list[str]
    receipt_id: str
    kind: str
    record_id: str
    issued_at: str
    jurisdiction: str
    language: str
    collection_method: str
    principal: dict[str, Any]
    controllers: list[dict[str, Any]]
    purpose: dict[str, Any]
    data_categories: list[str]
    personal_data: list[dict[str, Any]]
    sources: list[str]
    processing: dict[str, Any]
    retention_days: int
    retention: dict[str, Any]
    valid_from: str
    valid_until: str
    withdrawal: dict[str, Any]
    timestamps: ReceiptTimestamps
    artefact_digest: str | None
    policy_version: str
    audit_tree_head: dict[str, Any] | None
    consent_timestamp: NotRequired[str | None]
    event: NotRequired[dict[str, Any]]
    refers_to: NotRequired[str | None]
    consequences: NotRequired[dict[str, Any]]


class NotificationClaims(TypedDict):
    """A consent event (`typ` consent-event+jwt) POSTed to a lender's callback."""

    iss: str
    aud: str
    sub: str
    jti: str
    iat: int
    event: str
    seq: int
    consent_id: str
    status: str
    previous_status: str | None
    occurred_at: str
    actor: str


class TreeHeadClaims(TypedDict):
    """A signed tree head (`typ` sth+jwt) of the audit log."""

    tree_size: int
    root_hash: str
    timestamp: int


class CosignatureClaims(TreeHeadClaims):
    """A witness's co-signature (`typ` cosignature+jwt) over a tree head."""

    iss: str
    iat: int


def tree_head_of(claims: Mapping[str, Any]) -> TreeHeadClaims:
    """The tree head a verified tree head or co-signature signs (absent members read as None)."""
    # Unchecked on purpose: the caller compares the result with the head it expects.
    return cast(TreeHeadClaims, {name: claims.get(name) for name in TREE_HEAD_CLAIMS})
