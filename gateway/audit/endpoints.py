"""HTTP: the regulator's view of the audit log. Every read is itself an audit event."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from gateway.audit import proofs, repository, service, tree_heads
from gateway.audit.schemas import (
    MAX_LOG_POSITION,
    AuditEntryView,
    AuditPage,
    ConsistencyProof,
    InclusionProof,
    TreeHeadView,
)
from gateway.auth.dependencies import RegulatorDep
from gateway.core.db import SessionDep
from gateway.core.errors import InvalidRequest
from gateway.core.openapi import AUTH_ERRORS, error_responses
from gateway.runtime.context import ContextDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])

_READ_ERRORS = (*AUTH_ERRORS, "InvalidRequest", "AuditUnavailable")


@router.get("/entries", response_model=AuditPage, responses=error_responses(*_READ_ERRORS))
async def list_entries(
    regulator: RegulatorDep,
    session: SessionDep,
    lender_id: str | None = None,
    consent_id: str | None = None,
    type: Annotated[str | None, Query(description="Event type, e.g. `release.granted`.")] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Entries in log order, filtered by lender, consent, event type and time."""
    after = None
    if cursor is not None:
        if not cursor.isdigit():
            raise InvalidRequest("cursor is the `next_cursor` of a previous page.")
        after = int(cursor)
    entries = await repository.list_entries(
        session,
        after=after,
        limit=limit,
        lender_id=lender_id,
        consent_id=consent_id,
        event_type=type,
        since=since,
        until=until,
    )
    views = [
        AuditEntryView(index=entry.seq, leaf=json.loads(entry.leaf), leaf_hash=entry.leaf_hash)
        for entry in entries
    ]
    next_cursor = str(entries[-1].seq) if len(entries) == limit else None
    filters = service.describe_filters(
        after=after, lender_id=lender_id, consent_id=consent_id, type=type, since=since, until=until
    )
    await service.record_read(session, regulator.client_id, f"entries {filters}".rstrip())
    return AuditPage(entries=views, next_cursor=next_cursor)


@router.get("/sth", response_model=TreeHeadView, responses=error_responses(*_READ_ERRORS))
async def get_tree_head(
    regulator: RegulatorDep,
    session: SessionDep,
    context: ContextDep,
    tree_size: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_LOG_POSITION,
            description="A tree head issued earlier; default: the current one.",
        ),
    ] = None,
) -> TreeHeadView:
    """The signed tree head (issued now if the log grew since the last one), with co-signatures."""
    view = await tree_heads.tree_head(session, context.keys, tree_size)
    await service.record_read(session, regulator.client_id, f"tree head {view.tree_size}")
    return view


@router.get(
    "/proofs/inclusion", response_model=InclusionProof, responses=error_responses(*_READ_ERRORS)
)
async def get_inclusion_proof(
    regulator: RegulatorDep,
    session: SessionDep,
    index: Annotated[
        int,
        Query(ge=0, le=MAX_LOG_POSITION, description="The leaf index (`audit.leaf_index`)."),
    ],
    tree_size: Annotated[
        int | None,
        Query(ge=1, le=MAX_LOG_POSITION, description="Default: the log's current size."),
    ] = None,
) -> InclusionProof:
    """RFC 9162 inclusion proof of a leaf in the tree of `tree_size` leaves (hex hashes)."""
    proof = await proofs.inclusion_proof(session, index, tree_size)
    await service.record_read(
        session, regulator.client_id, f"inclusion proof {index} in {proof.tree_size}"
    )
    return proof


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyProof,
    responses=error_responses(*_READ_ERRORS),
)
async def get_consistency_proof(
    regulator: RegulatorDep,
    session: SessionDep,
    first: Annotated[int, Query(ge=1, le=MAX_LOG_POSITION)],
    second: Annotated[int, Query(ge=1, le=MAX_LOG_POSITION)],
) -> ConsistencyProof:
    """RFC 9162 consistency proof that the tree of `first` leaves is a prefix of `second`'s."""
    proof = await proofs.consistency_proof(session, first, second)
    await service.record_read(
        session, regulator.client_id, f"consistency proof {first} to {second}"
    )
    return proof
