"""Signed tree heads: issued on demand and on a schedule, shown with witnesses' co-signatures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from lendgate_sdk.claims import COSIGNATURE_TYPE, STH_TYPE, TreeHeadClaims, tree_head_of
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import repository
from gateway.audit import service as audit_service
from gateway.audit.events import AuditEvent
from gateway.audit.merkle import Frontier
from gateway.audit.models import AuditCosignature, AuditTreeHead
from gateway.audit.schemas import CosignatureView, TreeHeadView
from gateway.core.clock import utcnow
from gateway.core.errors import AuditUnavailable, InvalidRequest, InvalidToken
from gateway.crypto import jose
from gateway.crypto.keys import KeyStore

log = structlog.get_logger()

COSIGNED_EVENT = "audit.cosigned"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def sign_tree_head(keys: KeyStore, frontier: Frontier, at: datetime) -> AuditTreeHead:
    """The gateway's JWS (EdDSA) over `{tree_size, root_hash, timestamp}`."""
    root_hash = frontier.root().hex()
    timestamp = (at - _EPOCH) // timedelta(milliseconds=1)
    claims: TreeHeadClaims = {
        "tree_size": frontier.size,
        "root_hash": root_hash,
        "timestamp": timestamp,
    }
    key = keys.signing_key
    return AuditTreeHead(
        tree_size=frontier.size,
        root_hash=root_hash,
        timestamp=timestamp,
        signature=jose.sign_jwt(claims, key.private_key, key.kid, typ=STH_TYPE),
        kid=key.kid,
        created_at=at,
    )


async def issue_tree_head(session: AsyncSession, keys: KeyStore) -> AuditTreeHead:
    """A signed head of the tree as it stands: the stored one of that size, or a new one."""
    frontier = await repository.head(session)
    existing = await repository.tree_head_at(session, frontier.size)
    if existing is not None:
        return existing
    await repository.add_tree_head(session, sign_tree_head(keys, frontier, utcnow()))
    # Another process may have stored its own head of this size first; theirs stands.
    stored = await repository.tree_head_at(session, frontier.size)
    if stored is None:  # pragma: no cover - the insert either stored ours or found theirs
        raise AuditUnavailable("The tree head could not be stored.")
    log.info("audit.tree_head_issued", tree_size=stored.tree_size)
    return stored


async def tree_head_views(
    session: AsyncSession, heads: Sequence[AuditTreeHead]
) -> list[TreeHeadView]:
    """Tree heads with their co-signatures."""
    by_size: dict[int, list[CosignatureView]] = defaultdict(list)
    for cosignature in await repository.cosignatures_for(session, [h.tree_size for h in heads]):
        by_size[cosignature.tree_size].append(
            CosignatureView(
                witness=cosignature.witness_id,
                signature=cosignature.signature,
                signed_at=cosignature.created_at,
            )
        )
    return [
        TreeHeadView(
            tree_size=head.tree_size,
            root_hash=head.root_hash,
            timestamp=head.timestamp,
            sth=head.signature,
            cosignatures=by_size.get(head.tree_size, []),
        )
        for head in heads
    ]


async def tree_head(
    session: AsyncSession, keys: KeyStore, tree_size: int | None = None
) -> TreeHeadView:
    """The current signed tree head (issued now if the tree grew), or the stored one of a size."""
    if tree_size is None:
        head = await issue_tree_head(session, keys)
    else:
        found = await repository.tree_head_at(session, tree_size)
        if found is None:
            raise InvalidRequest(f"The gateway has issued no tree head of size {tree_size}.")
        head = found
    return (await tree_head_views(session, [head]))[0]


async def latest_cosigned_head(session: AsyncSession) -> dict[str, Any] | None:
    """The largest co-signed tree head, as shown on borrowers' consent receipts."""
    head = await repository.latest_cosigned_tree_head(session)
    if head is None:
        return None
    view = (await tree_head_views(session, [head]))[0]
    return {
        "tree_size": view.tree_size,
        "root_hash": view.root_hash,
        "timestamp": view.timestamp,
        "sth": view.sth,
        "cosigned_by": [cosignature.witness for cosignature in view.cosignatures],
    }


async def cosign(
    session: AsyncSession,
    witness_id: str,
    witness_jwks: Mapping[str, Any],
    tree_size: int,
    signature: str,
) -> TreeHeadView:
    """Store a witness's co-signature after checking it signs exactly this tree head.

    `witness_jwks` are the public keys the witness registered as a client.
    """
    head = await repository.tree_head_at(session, tree_size)
    if head is None:
        raise InvalidRequest(f"The gateway has issued no tree head of size {tree_size}.")
    try:
        claims = jose.verify_jwt(
            signature,
            witness_jwks,
            audience=None,
            issuer=witness_id,
            required=("iat",),
            typ=COSIGNATURE_TYPE,
        )
    except InvalidToken as refusal:
        raise InvalidRequest(f"The co-signature does not verify: {refusal.detail}") from None
    expected: TreeHeadClaims = {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "timestamp": head.timestamp,
    }
    if tree_head_of(claims) != expected:
        raise InvalidRequest("The co-signature is over another tree head than this one.")
    if await repository.cosignature(session, tree_size, witness_id) is None:
        await repository.add_cosignature(
            session,
            AuditCosignature(tree_size=tree_size, witness_id=witness_id, signature=signature),
        )
        await audit_service.append(
            session,
            AuditEvent(
                type=COSIGNED_EVENT,
                actor=f"regulator:{witness_id}",
                reason=f"tree head {tree_size} root {head.root_hash}",
            ),
        )
        log.info("audit.cosigned", tree_size=tree_size, witness=witness_id)
    return (await tree_head_views(session, [head]))[0]


class KeysDoNotMatchLog(Exception):
    """The key directory is not the one that signed this database's audit log."""


async def check_keys_match(session: AsyncSession, keys: KeyStore) -> None:
    """Refuse keys that did not sign the newest tree head: a database restored beside
    another gateway's keys would issue heads no regulator's earlier head agrees with."""
    latest = await repository.latest_tree_head(session)
    if latest is None:
        return
    held = {key.kid for key in keys.signing_keys()}
    if latest.kid not in held:
        raise KeysDoNotMatchLog(
            f"the newest tree head ({latest.tree_size} leaves) is signed by key {latest.kid}, "
            "which this key directory does not hold"
        )
    try:
        claims = jose.verify_jwt(
            latest.signature, keys.jwks(), audience=None, issuer=None, required=(), typ=STH_TYPE
        )
    except InvalidToken as error:
        raise KeysDoNotMatchLog(
            f"the newest tree head ({latest.tree_size} leaves) does not verify with key "
            f"{latest.kid} of this key directory"
        ) from error
    if claims.get("root_hash") != latest.root_hash:
        raise KeysDoNotMatchLog("the newest tree head's signature names another root")
