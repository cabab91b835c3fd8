"""HTTP: the regulator's view of the audit log."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from gateway.audit import repository
from gateway.audit.schemas import AuditEntryView, AuditPage
from gateway.auth import RegulatorDep
from gateway.db import SessionDep
from gateway.errors import InvalidRequest
from gateway.openapi import error_responses

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "/entries",
    response_model=AuditPage,
    responses=error_responses("InvalidToken", "InsufficientScope", "InvalidRequest"),
)
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
    return AuditPage(entries=views, next_cursor=next_cursor)
