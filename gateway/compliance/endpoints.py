"""HTTP: the regulator's oversight: co-signing, export, the compliance report, overdue
deletion attestations, which products each lender had when. Every read is itself an audit
event."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from gateway.audit import export as audit_export
from gateway.audit import repository as audit_repository
from gateway.audit import service as audit_service
from gateway.audit.schemas import CosignRequest, TreeHeadView
from gateway.auth.dependencies import RegulatorCosigner, RegulatorDep
from gateway.compliance import service
from gateway.compliance.schemas import ComplianceReport, OverdueAttestations, ProductHistory
from gateway.core.db import SessionDep
from gateway.core.inputs import ClientId, Cursor, LeafIndex, ProductCode, Rfc3339
from gateway.core.openapi import AUTH_ERRORS, error_responses
from gateway.runtime.context import ContextDep

# Tags per route: the overdue list keeps `releases` as its first tag.
router = APIRouter(prefix="/v1/audit")

_READ_ERRORS = (*AUTH_ERRORS, "InvalidRequest", "AuditUnavailable")


@router.post(
    "/sth/{tree_size}/cosign",
    tags=["audit"],
    response_model=TreeHeadView,
    responses=error_responses(*_READ_ERRORS),
)
async def cosign_tree_head(
    witness: RegulatorCosigner,
    session: SessionDep,
    tree_size: LeafIndex,
    body: CosignRequest,
) -> TreeHeadView:
    """Add the regulator's signature over a tree head it verified; shows every co-signature."""
    return await service.cosign(session, witness.client_id, tree_size, body.signature)


@router.get(
    "/export",
    tags=["audit"],
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
    size = (await audit_repository.head(session)).size
    start = await audit_export.position_of(session, from_, size)
    end = await audit_export.position_of(session, to, size)
    bundle: dict[str, Any] = await service.export_bundle(session, context.keys, start, end)
    await audit_service.record_read(
        session, regulator.client_id, f"export {bundle['from']} to {bundle['to']}"
    )
    filename = f"lendgate-audit-{bundle['from']}-{bundle['to']}.json"
    return JSONResponse(
        bundle, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get(
    "/reports/compliance",
    tags=["audit"],
    response_model=ComplianceReport,
    responses=error_responses(*_READ_ERRORS),
)
async def compliance_report(
    regulator: RegulatorDep,
    session: SessionDep,
    context: ContextDep,
    from_: Annotated[Rfc3339, Query(alias="from")],
    to: Rfc3339,
    lender_id: ClientId | None = None,
    product: Annotated[
        ProductCode | None,
        Query(description="Only consents asked under a lender's product."),
    ] = None,
) -> ComplianceReport:
    """Every release in the range against its consent as it stood then (and its product's
    ceilings then); overdue deletions; unusual release rates and repeated refusals. Every
    finding cites leaf indexes."""
    report = await service.compliance_report(session, context, from_, to, lender_id, product)
    filters = audit_service.describe_filters(
        since=from_, until=to, lender_id=lender_id, product=product
    )
    await audit_service.record_read(session, regulator.client_id, f"compliance report {filters}")
    return report


@router.get(
    "/deletion-attestations/overdue",
    response_model=OverdueAttestations,
    tags=["releases", "audit"],
    responses=error_responses(*_READ_ERRORS),
)
async def overdue_deletion_attestations(
    regulator: RegulatorDep,
    session: SessionDep,
    context: ContextDep,
    lender_id: ClientId | None = None,
    cursor: Cursor | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> OverdueAttestations:
    """Releases past their `delete_by` whose lender has not attested deletion, oldest first."""
    return await service.overdue_attestations(
        session, context, regulator, lender_id=lender_id, cursor=cursor, limit=limit
    )


@router.get(
    "/products",
    tags=["audit"],
    response_model=ProductHistory,
    responses=error_responses(*_READ_ERRORS),
)
async def product_history(
    regulator: RegulatorDep,
    session: SessionDep,
    context: ContextDep,
    lender_id: ClientId | None = None,
) -> ProductHistory:
    """Per lender client, its products: those its policy-folder file declares, and every
    registered version with when it was registered and its `admin.product_set` leaf."""
    history = await service.product_history(session, context, lender_id)
    filters = audit_service.describe_filters(lender_id=lender_id)
    await audit_service.record_read(
        session, regulator.client_id, f"product history {filters}".rstrip()
    )
    return history
