"""HTTP: the lender's notifications, including those its endpoint never took."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from consent.notifications import service
from consent.notifications.schemas import NotificationPage, StatusFilter
from gateway.auth.dependencies import ConsentWriter
from gateway.core.db import SessionDep
from gateway.core.inputs import ConsentId, Cursor
from gateway.core.openapi import error_responses

router = APIRouter(tags=["notifications (lender)"])


@router.get(
    "/v1/notifications",
    response_model=NotificationPage,
    responses=error_responses("InvalidToken", "InsufficientScope", "InvalidRequest"),
)
async def list_notifications(
    lender: ConsentWriter,
    session: SessionDep,
    status: Annotated[
        StatusFilter | None,
        Query(description="`pending`, `delivered`, or `failed` (kept after the last attempt)."),
    ] = None,
    consent_id: ConsentId | None = None,
    cursor: Cursor | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationPage:
    """The signed consent events sent (or being sent) to this lender, oldest first."""
    return await service.list_for_lender(
        session, lender.client_id, status=status, consent_id=consent_id, cursor=cursor, limit=limit
    )
