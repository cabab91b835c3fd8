"""Every query on the audit tables."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    LargeBinary,
    Select,
    SmallInteger,
    String,
    Table,
    Text,
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit.merkle import Frontier, NodeId
from gateway.audit.models import AuditCosignature, AuditEntry, AuditHead, AuditNode, AuditTreeHead
from gateway.core.db import scalars_in

HEAD_ID = 1
_HEAD = cast(Table, AuditHead.__table__)
_NODES = cast(Table, AuditNode.__table__)
# A proof touches at most a few nodes per level and 64 levels; bulk reads (an export's
# prefix and suffix) stay within the same bound per query.
_LEVELS_PER_QUERY = 64


@dataclass(frozen=True)
class Reservation:
    """The first position the new leaves take, and the tree's right edge just before it."""

    seq: int
    frontier: Frontier


async def reserve_seq(session: AsyncSession, count: int = 1) -> Reservation:
    """Take the next `count` positions, holding the head row's lock until the transaction ends.

    The row lock is what serializes appends across every gateway process; a
    rolled-back transaction gives its positions back, so the log has no gaps. The
    frontier is read under the same lock, so the tree grows from where it stands.
    """
    connection = await session.connection()
    row = (
        await connection.execute(
            _HEAD.update()
            .where(_HEAD.c.id == HEAD_ID)
            .values(size=_HEAD.c.size + count)
            .returning(_HEAD.c.size, _HEAD.c.frontier)
        )
    ).one_or_none()
    if row is None:
        raise RuntimeError("audit head row is missing; run the migrations")
    seq = int(row.size) - count
    return Reservation(seq, Frontier.from_bytes(seq, bytes(row.frontier)))


_ENTRIES = cast(Table, AuditEntry.__table__)


def _unnest(name: str, element: Any) -> Any:
    return func.unnest(bindparam(name, type_=postgresql.ARRAY(element)))


# PostgreSQL: the leaves, the nodes and the head's new frontier in one statement
# (data-modifying CTEs always run to completion), as arrays so that it stays cacheable.
_APPEND_IN_ONE = (
    _HEAD.update()
    .where(_HEAD.c.id == HEAD_ID)
    .values(frontier=bindparam("frontier"))
    .add_cte(
        _ENTRIES.insert()
        .from_select(
            ["seq", "ts", "type", "consent_id", "lender_id", "leaf", "leaf_hash"],
            select(
                _unnest("seqs", BigInteger),
                _unnest("stamps", postgresql.TIMESTAMP(timezone=True)),
                _unnest("types", String),
                _unnest("consent_ids", String),
                _unnest("lender_ids", String),
                _unnest("leaves", Text),
                _unnest("leaf_hashes", String),
            ),
        )
        .cte("entries")
    )
    .add_cte(
        _NODES.insert()
        .from_select(
            ["level", "position", "hash"],
            select(
                _unnest("levels", SmallInteger),
                _unnest("positions", BigInteger),
                _unnest("hashes", LargeBinary),
            ),
        )
        .cte("nodes")
    )
)


async def add_leaves(
    session: AsyncSession,
    entries: Sequence[AuditEntry],
    frontier: Frontier,
    nodes: Sequence[tuple[int, int, bytes]],
) -> None:
    """Store leaves, the tree nodes they completed and the head's new frontier (under the lock).

    Plain statements rather than the unit of work, and one round trip on PostgreSQL:
    an append is on every request's path, and inside the lock.
    """
    connection = await session.connection()
    levels, positions, hashes = zip(*nodes, strict=True)
    if connection.dialect.name == "postgresql":
        await connection.execute(
            _APPEND_IN_ONE,
            {
                "frontier": frontier.to_bytes(),
                "seqs": [entry.seq for entry in entries],
                "stamps": [entry.ts for entry in entries],
                "types": [entry.type for entry in entries],
                "consent_ids": [entry.consent_id for entry in entries],
                "lender_ids": [entry.lender_id for entry in entries],
                "leaves": [entry.leaf for entry in entries],
                "leaf_hashes": [entry.leaf_hash for entry in entries],
                "levels": list(levels),
                "positions": list(positions),
                "hashes": list(hashes),
            },
        )
        return
    await connection.execute(
        _ENTRIES.insert(),
        [
            {
                "seq": entry.seq,
                "ts": entry.ts,
                "type": entry.type,
                "consent_id": entry.consent_id,
                "lender_id": entry.lender_id,
                "leaf": entry.leaf,
                "leaf_hash": entry.leaf_hash,
            }
            for entry in entries
        ],
    )
    await connection.execute(
        _NODES.insert(),
        [{"level": level, "position": index, "hash": digest} for level, index, digest in nodes],
    )
    await connection.execute(
        _HEAD.update().where(_HEAD.c.id == HEAD_ID).values(frontier=frontier.to_bytes())
    )


async def head(session: AsyncSession) -> Frontier:
    """The tree as last committed (or as this transaction left it), without taking the lock."""
    row = (
        await session.execute(
            select(AuditHead.size, AuditHead.frontier).where(AuditHead.id == HEAD_ID)
        )
    ).one()
    return Frontier.from_bytes(int(row.size), bytes(row.frontier))


async def nodes(session: AsyncSession, wanted: Collection[NodeId]) -> dict[NodeId, bytes]:
    """The stored hashes of `wanted` perfect subtrees: one indexed query for a proof's few dozen.

    Grouped by level (`level = ? AND position IN (...)`, OR-ed): both databases
    answer that from the primary key, where a row-value IN makes SQLite scan.
    """
    by_level: dict[int, list[int]] = {}
    for level, index in sorted(wanted):
        by_level.setdefault(level, []).append(index)
    found: dict[NodeId, bytes] = {}
    groups = list(by_level.items())
    for at in range(0, len(groups), _LEVELS_PER_QUERY):
        query = select(AuditNode.level, AuditNode.position, AuditNode.hash).where(
            or_(
                *(
                    and_(AuditNode.level == level, AuditNode.position.in_(positions))
                    for level, positions in groups[at : at + _LEVELS_PER_QUERY]
                )
            )
        )
        for level, position, digest in (await session.execute(query)).all():
            found[(int(level), int(position))] = bytes(digest)
    return found


async def leaves_between(session: AsyncSession, start: int, end: int) -> Sequence[Any]:
    """Rows `(seq, leaf, tree_hash)` for positions `[start, end)`, as stored, in log order.

    `tree_hash` is the leaf's hash as the tree recorded it (level 0), which is
    what the signed roots are built from.
    """
    query = (
        select(AuditEntry.seq, AuditEntry.leaf, AuditNode.hash)
        .outerjoin(AuditNode, and_(AuditNode.level == 0, AuditNode.position == AuditEntry.seq))
        .where(AuditEntry.seq >= start, AuditEntry.seq < end)
        .order_by(AuditEntry.seq)
    )
    return (await session.execute(query)).all()


async def first_seq_at_or_after(session: AsyncSession, moment: datetime) -> int | None:
    """The first position stamped at or after `moment`."""
    value = await session.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.ts >= moment))
    return None if value is None else int(value)


async def list_entries(
    session: AsyncSession,
    *,
    after: int | None,
    limit: int,
    lender_id: str | None = None,
    consent_id: str | None = None,
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    consent_in: Select[str] | None = None,
) -> Sequence[AuditEntry]:
    """Entries in log order matching the filters, after the cursor.

    `consent_in` is a query of consent ids the caller chose (e.g. those of one product):
    the log keeps to its own table and only filters by it.
    """
    query = select(AuditEntry).order_by(AuditEntry.seq).limit(limit)
    if consent_in is not None:
        query = query.where(AuditEntry.consent_id.in_(consent_in))
    if after is not None:
        query = query.where(AuditEntry.seq > after)
    if lender_id is not None:
        query = query.where(AuditEntry.lender_id == lender_id)
    if consent_id is not None:
        query = query.where(AuditEntry.consent_id == consent_id)
    if event_type is not None:
        query = query.where(AuditEntry.type == event_type)
    if since is not None:
        query = query.where(AuditEntry.ts >= since)
    if until is not None:
        query = query.where(AuditEntry.ts < until)
    return (await session.scalars(query)).all()


async def entries_for_consent(session: AsyncSession, consent_id: str) -> Sequence[AuditEntry]:
    """Every entry about one consent, in log order."""
    query = select(AuditEntry).where(AuditEntry.consent_id == consent_id).order_by(AuditEntry.seq)
    return (await session.scalars(query)).all()


# --- tree heads and co-signatures ----------------------------------------------------


async def add_tree_head(session: AsyncSession, tree_head: AuditTreeHead) -> None:
    """Store a signed tree head unless one of that size exists (another process may have won)."""
    values = {
        "tree_size": tree_head.tree_size,
        "root_hash": tree_head.root_hash,
        "timestamp": tree_head.timestamp,
        "signature": tree_head.signature,
        "kid": tree_head.kid,
        "created_at": tree_head.created_at,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    await session.execute(dialect.insert(AuditTreeHead).values(values).on_conflict_do_nothing())


async def tree_head_at(session: AsyncSession, tree_size: int) -> AuditTreeHead | None:
    """The signed tree head of exactly `tree_size` leaves."""
    return await session.scalar(select(AuditTreeHead).where(AuditTreeHead.tree_size == tree_size))


async def tree_heads_between(session: AsyncSession, low: int, high: int) -> Sequence[AuditTreeHead]:
    """Signed tree heads with `low` ≤ size ≤ `high`, smallest first."""
    query = (
        select(AuditTreeHead)
        .where(AuditTreeHead.tree_size >= low, AuditTreeHead.tree_size <= high)
        .order_by(AuditTreeHead.tree_size)
    )
    return (await session.scalars(query)).all()


async def latest_tree_head(session: AsyncSession) -> AuditTreeHead | None:
    """The largest signed tree head."""
    query = select(AuditTreeHead).order_by(AuditTreeHead.tree_size.desc()).limit(1)
    return await session.scalar(query)


async def latest_cosigned_tree_head(session: AsyncSession) -> AuditTreeHead | None:
    """The largest tree head that at least one witness co-signed."""
    size = await session.scalar(select(func.max(AuditCosignature.tree_size)))
    return None if size is None else await tree_head_at(session, int(size))


async def add_cosignature(session: AsyncSession, cosignature: AuditCosignature) -> None:
    """Store a witness's co-signature (one per witness and tree head)."""
    session.add(cosignature)
    await session.flush()


async def cosignature(
    session: AsyncSession, tree_size: int, witness_id: str
) -> AuditCosignature | None:
    """One witness's co-signature of one tree head."""
    return await session.get(AuditCosignature, (tree_size, witness_id))


async def cosignatures_for(
    session: AsyncSession, tree_sizes: Collection[int]
) -> Sequence[AuditCosignature]:
    """The co-signatures of the given tree heads, by size then time."""
    query = select(AuditCosignature).order_by(
        AuditCosignature.tree_size, AuditCosignature.created_at
    )
    return await scalars_in(session, query, AuditCosignature.tree_size, tree_sizes)


# --- reads for the compliance report ------------------------------------------------


async def entries_of_types_between(
    session: AsyncSession,
    types: Collection[str],
    since: datetime,
    until: datetime,
    lender_id: str | None = None,
) -> Sequence[AuditEntry]:
    """Entries of the given types stamped in `[since, until)`, in log order."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.type.in_(sorted(types)), AuditEntry.ts >= since, AuditEntry.ts < until)
        .order_by(AuditEntry.seq)
    )
    if lender_id is not None:
        query = query.where(AuditEntry.lender_id == lender_id)
    return (await session.scalars(query)).all()


async def entries_for_consents(
    session: AsyncSession, consent_ids: Collection[str], before: int
) -> Sequence[AuditEntry]:
    """Every entry about the given consents at positions below `before`, in log order."""
    query = select(AuditEntry).where(AuditEntry.seq < before)
    found = await scalars_in(session, query, AuditEntry.consent_id, consent_ids)
    return sorted(found, key=lambda entry: entry.seq)


async def releases_per_lender(
    session: AsyncSession, since: datetime, until: datetime
) -> dict[str, int]:
    """How many `release.granted` entries each lender has in `[since, until)`."""
    query = (
        select(AuditEntry.lender_id, func.count())
        .where(
            AuditEntry.type == "release.granted",
            AuditEntry.ts >= since,
            AuditEntry.ts < until,
        )
        .group_by(AuditEntry.lender_id)
    )
    return {str(lender): int(count) for lender, count in (await session.execute(query)).all()}


async def entries_at(session: AsyncSession, positions: Collection[int]) -> dict[int, AuditEntry]:
    """Entries by position."""
    found = await scalars_in(session, select(AuditEntry), AuditEntry.seq, positions)
    return {entry.seq: entry for entry in found}
