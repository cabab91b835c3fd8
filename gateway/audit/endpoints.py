"""HTTP: the regulator's view of the audit log. Every read is itself an audit event."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from gateway.audit import repository, service
from gateway.audit.schemas import (
    AuditEntryView,
    AuditPage,
    ComplianceReport,
    ConsistencyProof,
    CosignRequest,
    InclusionProof,
    TreeHeadView,
)
from gateway.auth.dependencies import RegulatorCosigner, RegulatorDep
from gateway.core.db import SessionDep
from gateway.core.errors import InvalidRequest
from gateway.core.openapi import error_responses
from gateway.runtime.context import ContextDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])

_READ_ERRORS = ("InvalidToken", "InsufficientScope", "InvalidRequest", "AuditUnavailable")


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
        Query(ge=0, description="A tree head issued earlier; default: the current one."),
    ] = None,
) -> TreeHeadView:
    """The signed tree head (issued now if the log grew since the last one), with co-signatures."""
    view = await service.tree_head(session, context.keys, tree_size)
    await service.record_read(session, regulator.client_id, f"tree head {view.tree_size}")
    return view


@router.post(
    "/sth/{tree_size}/cosign",
    response_model=TreeHeadView,
    responses=error_responses(*_READ_ERRORS),
)
async def cosign_tree_head(
    witness: RegulatorCosigner,
    session: SessionDep,
    tree_size: Annotated[int, Path(ge=0)],
    body: CosignRequest,
) -> TreeHeadView:
    """Add the regulator's signature over a tree head it verified; shows every co-signature."""
    return await service.cosign(session, witness.client_id, tree_size, body.signature)


@router.get(
    "/proofs/inclusion", response_model=InclusionProof, responses=error_responses(*_READ_ERRORS)
)
async def get_inclusion_proof(
    regulator: RegulatorDep,
    session: SessionDep,
    index: Annotated[int, Query(ge=0, description="The leaf index (`audit.leaf_index`).")],
    tree_size: Annotated[
        int | None, Query(ge=1, description="Default: the log's current size.")
    ] = None,
) -> InclusionProof:
    """RFC 9162 inclusion proof of a leaf in the tree of `tree_size` leaves (hex hashes)."""
    proof = await service.inclusion_proof(session, index, tree_size)
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
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> ConsistencyProof:
    """RFC 9162 consistency proof that the tree of `first` leaves is a prefix of `second`'s."""
    proof = await service.consistency_proof(session, first, second)
    await service.record_read(
        session, regulator.client_id, f"consistency proof {first} to {second}"
    )
    return proof


@router.get(
    "/export",
    response_class=JSONResponse,
    responses={
        200: {
            "description": "A bundle for `lendgate audit verify` (format lendgate-audit-bundle/1)."
        },
        **error_responses(*_READ_ERRORS),
    },
)
async def export(
    regulator: RegulatorDep,
    session: SessionDep,
    context: ContextDep,
    from_: Annotated[
        str | None,
        Query(alias="from", description="First leaf: an index, or an RFC 3339 time."),
    ] = None,
    to: Annotated[
        str | None,
        Query(description="End (exclusive): an index, or an RFC 3339 time. Default: the end."),
    ] = None,
) -> JSONResponse:
    """Leaves, signed tree heads, co-signatures and keys: everything an offline check needs."""
    size = (await repository.head(session)).size
    start = await service.position_of(session, from_, size)
    end = await service.position_of(session, to, size)
    bundle: dict[str, Any] = await service.export_bundle(session, context.keys, start, end)
    await service.record_read(
        session, regulator.client_id, f"export {bundle['from']} to {bundle['to']}"
    )
    filename = f"lendgate-audit-{bundle['from']}-{bundle['to']}.json"
    return JSONResponse(
        bundle, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get(
    "/reports/compliance",
    response_model=ComplianceReport,
    responses=error_responses(*_READ_ERRORS),
)
async def compliance_report(
    regulator: RegulatorDep,
    session: SessionDep,
    context: ContextDep,
    from_: Annotated[AwareDatetime, Query(alias="from")],
    to: AwareDatetime,
    lender_id: str | None = None,
) -> ComplianceReport:
    """Every release in the range against its consent as it stood then; overdue deletions;
    unusual release rates and repeated refusals. Every finding cites leaf indexes."""
    report = await service.compliance_report(session, context, from_, to, lender_id)
    filters = service.describe_filters(since=from_, until=to, lender_id=lender_id)
    await service.record_read(session, regulator.client_id, f"compliance report {filters}")
    return report
