"""The audit log: appends, the Merkle tree, signed tree heads, proofs, co-signing, exports, reports.

Appends run inside the caller's transaction (or one of their own after a
refusal): the leaf, the tree nodes it completes and the head's new frontier
commit together or not at all, serialized by the head row's lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from lendgate_sdk.claims import COSIGNATURE_TYPE, STH_TYPE, TreeHeadClaims, tree_head_of
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import merkle, repository
from gateway.audit.events import AuditEvent
from gateway.audit.merkle import Frontier, NodeId
from gateway.audit.models import AuditCosignature, AuditEntry, AuditTreeHead
from gateway.audit.schemas import (
    ComplianceReport,
    ConsistencyProof,
    CosignatureView,
    Finding,
    InclusionProof,
    ReleaseCheck,
    TreeHeadView,
)
from gateway.audit.verify import BUNDLE_FORMAT
from gateway.compliance import rules as compliance
from gateway.core.db import on_rollback, utcnow
from gateway.core.errors import AuditUnavailable, InvalidRequest, InvalidToken
from gateway.crypto import jose
from gateway.crypto.keys import KeyStore
from gateway.releases.models import Release
from gateway.runtime.context import GatewayContext

log = structlog.get_logger()

MAX_EXPORT_LEAVES = 50_000
READ_EVENT = "audit.read"
COSIGNED_EVENT = "audit.cosigned"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SAFE_VALUE = re.compile(r"[A-Za-z0-9_.:+-]{1,64}")


# --- appending -----------------------------------------------------------------------


async def append(session: AsyncSession, event: AuditEvent) -> AuditEntry:
    """Add `event` to the log in the caller's transaction; it commits or vanishes with it."""
    try:
        reservation = await repository.reserve_seq(session)
        now = utcnow()
        leaf = canonical_leaf(event, reservation.seq, now)
        digest = merkle.leaf_hash(leaf)
        entry = AuditEntry(
            seq=reservation.seq,
            ts=now,
            type=event.type,
            consent_id=event.consent_id,
            lender_id=event.lender_id,
            leaf=leaf.decode(),
            leaf_hash=digest.hex(),
        )
        frontier = reservation.frontier
        await repository.add_leaf(session, entry, frontier, frontier.append(digest))
    except SQLAlchemyError as error:
        log.error("audit.append_failed", event_type=event.type, error=type(error).__name__)
        raise AuditUnavailable() from error
    return entry


def canonical_leaf(event: AuditEvent, seq: int, ts: datetime) -> bytes:
    """The exact bytes leaf `seq` is hashed over."""
    return merkle.canonical_json(event.leaf(seq, ts))


def append_if_refused(session: AsyncSession, *events: AuditEvent) -> None:
    """Record `events` if this request ends in a refusal (its own work is then rolled back)."""

    async def record(fresh: AsyncSession) -> None:
        for event in events:
            await append(fresh, event)

    on_rollback(session, record)


async def record_read(session: AsyncSession, regulator_id: str, what: str) -> None:
    """A regulator's read of the log is itself on the log."""
    await append(
        session, AuditEvent(type=READ_EVENT, actor=f"regulator:{regulator_id}", reason=what)
    )


def describe_filters(**filters: object) -> str:
    """Filters for a read event's `reason`: id-shaped values verbatim, anything else only named."""
    parts = []
    for name, value in filters.items():
        if value is None:
            continue
        text = value.isoformat() if isinstance(value, datetime) else str(value)
        parts.append(f"{name}={text}" if _SAFE_VALUE.fullmatch(text) else f"{name}=(given)")
    return " ".join(parts)


# --- signed tree heads ---------------------------------------------------------------


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


async def issue_tree_heads_periodically(context: GatewayContext, interval: float) -> None:
    """Sign a tree head every `interval` seconds whenever the log has grown (until cancelled)."""
    while True:
        try:
            async with context.sessionmaker() as session, session.begin():
                await issue_tree_head(session, context.keys)
        except Exception as error:
            # The schedule outlives a failed round: the next one signs whatever was missed.
            log.error("audit.tree_head_failed", error=type(error).__name__)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def tree_head_schedule(context: GatewayContext) -> AsyncIterator[None]:
    """Run the tree-head schedule for as long as the app runs (off when the interval is 0)."""
    interval = context.settings.audit_tree_head_interval_seconds
    if interval <= 0:
        yield
        return
    task = asyncio.create_task(issue_tree_heads_periodically(context, interval))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- proofs --------------------------------------------------------------------------


async def inclusion_proof(
    session: AsyncSession, index: int, tree_size: int | None
) -> InclusionProof:
    """RFC 9162 inclusion proof of leaf `index` in the tree of `tree_size` leaves."""
    current = (await repository.head(session)).size
    size = current if tree_size is None else tree_size
    if not 0 < size <= current:
        raise InvalidRequest(f"tree_size must be between 1 and the log's size, {current}.")
    if not 0 <= index < size:
        raise InvalidRequest(f"index must be between 0 and tree_size - 1 ({size - 1}).")
    path = merkle.inclusion_ranges(index, size)
    root = [(0, size)]
    nodes = await _stored_nodes(session, merkle.nodes_for([*path, *root]) | {(0, index)})
    head = await repository.tree_head_at(session, size)
    return InclusionProof(
        leaf_index=index,
        tree_size=size,
        leaf_hash=nodes[(0, index)].hex(),
        inclusion_path=[h.hex() for h in merkle.hashes_for(path, nodes)],
        root_hash=merkle.hashes_for(root, nodes)[0].hex(),
        tree_head=(await tree_head_views(session, [head]))[0] if head else None,
    )


async def consistency_proof(session: AsyncSession, first: int, second: int) -> ConsistencyProof:
    """RFC 9162 consistency proof from the tree of `first` leaves to the tree of `second`."""
    current = (await repository.head(session)).size
    if not 0 < first <= second <= current:
        raise InvalidRequest(f"Need 0 < first ≤ second ≤ the log's size, {current}.")
    path = merkle.consistency_ranges(first, second)
    roots = [(0, first), (0, second)]
    nodes = await _stored_nodes(session, merkle.nodes_for([*path, *roots]))
    first_root, second_root = merkle.hashes_for(roots, nodes)
    return ConsistencyProof(
        tree_size_1=first,
        tree_size_2=second,
        consistency_path=[h.hex() for h in merkle.hashes_for(path, nodes)],
        first_root_hash=first_root.hex(),
        second_root_hash=second_root.hex(),
    )


async def _stored_nodes(session: AsyncSession, wanted: set[NodeId]) -> dict[NodeId, bytes]:
    nodes = await repository.nodes(session, wanted)
    if len(nodes) != len(wanted):
        missing = sorted(wanted - nodes.keys())[:5]
        log.error("audit.tree_incomplete", missing=[f"{level}/{index}" for level, index in missing])
        raise AuditUnavailable("The audit tree is incomplete; the operator has been alerted.")
    return nodes


# --- witnesses -----------------------------------------------------------------------


async def cosign(
    session: AsyncSession, witness_id: str, tree_size: int, signature: str
) -> TreeHeadView:
    """Store a witness's co-signature after checking it signs exactly this tree head."""
    head = await repository.tree_head_at(session, tree_size)
    if head is None:
        raise InvalidRequest(f"The gateway has issued no tree head of size {tree_size}.")
    witnesses = await repository.clients(session, [witness_id])
    if not witnesses:
        raise InvalidToken("Unknown client.")
    try:
        claims = jose.verify_jwt(
            signature,
            witnesses[0].jwks,
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
        await append(
            session,
            AuditEvent(
                type=COSIGNED_EVENT,
                actor=f"regulator:{witness_id}",
                reason=f"tree head {tree_size} root {head.root_hash}",
            ),
        )
        log.info("audit.cosigned", tree_size=tree_size, witness=witness_id)
    return (await tree_head_views(session, [head]))[0]


# --- export --------------------------------------------------------------------------


async def position_of(session: AsyncSession, value: str | None, size: int) -> int | None:
    """A leaf position from `from`/`to`: a leaf index, or an RFC 3339 time (first leaf at/after)."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest("`from` and `to` are leaf indexes or RFC 3339 date-times.") from None
    if moment.utcoffset() is None:
        raise InvalidRequest("Date-times in `from` and `to` need a UTC offset.")
    found = await repository.first_seq_at_or_after(session, moment)
    return size if found is None else min(found, size)


async def export_bundle(
    session: AsyncSession, keys: KeyStore, start: int | None, end: int | None
) -> dict[str, Any]:
    """Leaves `[start, end)` with everything needed to check them offline.

    The bundle carries the hashes of the perfect subtrees left of `start` and
    right of `end` (up to the newest signed head), so a verifier recomputes
    every root from the leaves it holds and those few hashes; every tree head
    inside the range; their co-signatures with the witnesses' public keys; and
    the gateway's JWKS.
    """
    closing = await issue_tree_head(session, keys)
    size = closing.tree_size
    start = 0 if start is None else start
    end = size if end is None else end
    if not 0 <= start <= end <= size:
        raise InvalidRequest(f"Need 0 ≤ from ≤ to ≤ the log's size, {size}.")
    if end - start > MAX_EXPORT_LEAVES:
        raise InvalidRequest(
            f"One bundle holds at most {MAX_EXPORT_LEAVES} leaves; export in ranges with from/to."
        )
    prefix, suffix = merkle.range_nodes(0, start), merkle.range_nodes(end, size)
    nodes = await _stored_nodes(session, {*prefix, *suffix})
    heads = list(await repository.tree_heads_between(session, start, end))
    if size > end:
        heads.append(closing)
    views = await tree_head_views(session, heads)
    witness_ids = {c.witness for view in views for c in view.cosignatures}
    witnesses = await repository.clients(session, witness_ids)
    return {
        "format": BUNDLE_FORMAT,
        "generated_at": utcnow().isoformat(),
        "from": start,
        "to": end,
        "prefix": [_node_json(node, nodes[node]) for node in prefix],
        "leaves": [
            {
                "index": int(seq),
                "leaf": _leaf_json(leaf),
                "leaf_hash": bytes(tree_hash).hex() if tree_hash is not None else None,
            }
            for seq, leaf, tree_hash in await repository.leaves_between(session, start, end)
        ],
        "suffix": [_node_json(node, nodes[node]) for node in suffix],
        "tree_heads": [view.model_dump(mode="json") for view in views],
        # Retired keys too: a tree head stays evidence long after its key stopped signing.
        "jwks": {"keys": [*keys.jwks()["keys"], *keys.retired_jwks()["keys"]]},
        "witnesses": {
            client.id: {"name": client.name, "jwks": jose.public_jwks(client.jwks)}
            for client in witnesses
        },
    }


def _node_json(node: NodeId, digest: bytes) -> dict[str, Any]:
    return {"level": node[0], "index": node[1], "hash": digest.hex()}


def _leaf_json(leaf: str) -> Any:
    """The leaf as a JSON object; a stored leaf that is not one is shipped as its raw text."""
    try:
        value = json.loads(leaf)
    except ValueError:
        return leaf
    return value if isinstance(value, dict) else leaf


# --- compliance ----------------------------------------------------------------------


async def compliance_report(
    session: AsyncSession,
    context: GatewayContext,
    since: datetime,
    until: datetime,
    lender_id: str | None = None,
) -> ComplianceReport:
    """Every release in `[since, until)` against its consent as it stood then, and more."""
    if until <= since:
        raise InvalidRequest("`to` must be later than `from`.")
    now = utcnow()
    covering = (await tree_head_views(session, [await issue_tree_head(session, context.keys)]))[0]
    period = [
        _logged(entry)
        for entry in await repository.entries_of_types_between(
            session, {compliance.GRANTED, compliance.DENIED}, since, until, lender_id
        )
    ]
    granted = [event for event in period if event.type == compliance.GRANTED]
    denied = [event for event in period if event.type == compliance.DENIED]

    consent_ids = {event.consent_id for event in granted if event.consent_id}
    before = max((event.index for event in granted), default=-1) + 1
    history: dict[str, list[compliance.LoggedEvent]] = defaultdict(list)
    for entry in await repository.entries_for_consents(session, consent_ids, before):
        history[entry.consent_id or ""].append(_logged(entry))
    terms = {
        consent.id: compliance.ConsentTerms(
            consent_id=consent.id,
            lender_id=consent.lender_id,
            purpose=consent.purpose,
            features=tuple(consent.features),
            fetch_type=consent.fetch_type,
            frequency_unit=consent.frequency_unit,
            frequency_value=consent.frequency_value,
            valid_from=consent.valid_from,
            valid_until=consent.valid_until,
        )
        for consent in (await repository.consents(session, consent_ids)).values()
    }

    verdicts = []
    findings: list[compliance.Finding] = []
    for event in granted:
        consent = terms.get(event.consent_id or "")
        verdict, found = compliance.check_release(
            event, consent, history.get(event.consent_id or "", []), context.catalog
        )
        verdicts.append(verdict)
        findings.extend(found)

    records = [
        _record(release)
        for release in await repository.releases_created_between(session, since, until, lender_id)
    ]
    at_records = await repository.entries_at(session, {record.leaf_index for record in records})
    recorded = {
        release.leaf_index
        for release in await repository.releases_at_leaves(session, {e.index for e in granted})
    }
    findings.extend(
        compliance.reconcile_records(
            records, {i: _logged(e) for i, e in at_records.items()}, granted, recorded
        )
    )
    due_until = min(until, now)
    if due_until > since:
        due = await repository.releases_due_between(session, since, due_until, lender_id)
        findings.extend(compliance.overdue_deletions(map(_record, due), due_until))
    baseline = await repository.releases_per_lender(session, since - compliance.BASELINE, since)
    findings.extend(compliance.release_bursts(granted, baseline))
    findings.extend(compliance.denial_bursts(denied))
    findings.sort(key=lambda finding: (min(finding.leaf_indexes, default=-1), finding.kind))

    return ComplianceReport(
        from_=since,
        to=until,
        generated_at=now,
        lender_id=lender_id,
        tree_head=covering,
        summary=compliance.summary(verdicts, len(denied), findings),
        releases=[
            ReleaseCheck(
                leaf_index=verdict.event.index,
                ts=verdict.event.ts.isoformat(),
                consent_id=verdict.event.consent_id,
                lender_id=verdict.event.lender_id,
                consent_status=verdict.consent_status,
                checks=verdict.checks,
                compliant=verdict.compliant,
            )
            for verdict in verdicts
        ],
        findings=[
            Finding(
                kind=finding.kind,
                severity=finding.severity,
                leaf_indexes=finding.leaf_indexes,
                detail=finding.detail,
                consent_id=finding.consent_id,
                lender_id=finding.lender_id,
            )
            for finding in findings
        ],
    )


def _logged(entry: AuditEntry) -> compliance.LoggedEvent:
    return compliance.LoggedEvent.parse(
        entry.seq, entry.ts, entry.type, entry.consent_id, entry.leaf
    )


def _record(release: Release) -> compliance.ReleaseRecord:
    return compliance.ReleaseRecord(
        release_id=release.id,
        consent_id=release.consent_id,
        lender_id=release.lender_id,
        leaf_index=release.leaf_index,
        payload_digest=release.payload_digest,
        delete_by=release.delete_by,
        deletion_attested_at=release.deletion_attested_at,
    )
