"""The audit log itself: appends, and a regulator's reads of it put on record.

Appends run inside the caller's transaction (or one of their own after a
refusal): the leaf, the tree nodes it completes and the head's new frontier
commit together or not at all, serialized by the head row's lock.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import merkle, repository
from gateway.audit.events import AuditEvent
from gateway.audit.models import AuditEntry
from gateway.core.clock import utcnow
from gateway.core.db import is_outage, on_rollback
from gateway.core.errors import AuditUnavailable
from gateway.core.metrics import AUDIT_APPEND_SECONDS

log = structlog.get_logger()

READ_EVENT = "audit.read"
_SAFE_VALUE = re.compile(r"[A-Za-z0-9_.:+-]{1,64}")


async def append(session: AsyncSession, event: AuditEvent) -> AuditEntry:
    """Add `event` to the log in the caller's transaction; it commits or vanishes with it."""
    (entry,) = await append_all(session, [event])
    return entry


async def append_all(session: AsyncSession, events: Sequence[AuditEvent]) -> list[AuditEntry]:
    """Add `events` to the log in this order, as consecutive leaves, in the caller's transaction.

    One reservation of the positions, one insert of the leaves and one update of the tree
    for all of them: the head row's lock is held for as few round trips as there are for one.
    """
    if not events:
        return []
    started = time.perf_counter()
    try:
        reservation = await repository.reserve_seq(session, len(events))
        now = utcnow()
        frontier = reservation.frontier
        entries: list[AuditEntry] = []
        nodes: list[tuple[int, int, bytes]] = []
        for seq, event in enumerate(events, start=reservation.seq):
            leaf = canonical_leaf(event, seq, now)
            digest = merkle.leaf_hash(leaf)
            entries.append(
                AuditEntry(
                    seq=seq,
                    ts=now,
                    type=event.type,
                    consent_id=event.consent_id,
                    lender_id=event.lender_id,
                    leaf=leaf.decode(),
                    leaf_hash=digest.hex(),
                )
            )
            nodes.extend(frontier.append(digest))
        await repository.add_leaves(session, entries, frontier, nodes)
    except SQLAlchemyError as error:
        if not is_outage(error):  # an outage is logged, rate-limited, where it is answered
            types = ",".join(event.type for event in events)
            log.error("audit.append_failed", event_type=types, error=type(error).__name__)
        raise AuditUnavailable() from error
    AUDIT_APPEND_SECONDS.observe(time.perf_counter() - started)
    return entries


def canonical_leaf(event: AuditEvent, seq: int, ts: datetime) -> bytes:
    """The exact bytes leaf `seq` is hashed over."""
    return merkle.canonical_json(event.leaf(seq, ts))


def append_if_refused(session: AsyncSession, *events: AuditEvent) -> None:
    """Record `events` if this request ends in a refusal (its own work is then rolled back)."""

    async def record(fresh: AsyncSession) -> None:
        await append_all(fresh, events)

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
