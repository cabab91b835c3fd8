"""The borrower's rights over what the gateway holds: every access, and a complete copy.

PIPL Art. 45 gives a person the right to consult and copy their personal
information. The copy is read through the same doors as every other read
(`consent_service.data_key`, `open_identity`): what was deleted stays deleted,
and the copy says when it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from consent import repository
from consent import service as consent_service
from consent.models import Consent
from consent.notifications import repository as notifications_repository
from consent.schemas import (
    AccessLog,
    AccessLogEntry,
    BorrowerExport,
    ExportedAuditEvent,
    ExportedCode,
    ExportedConsent,
    ExportedNotification,
    IdentityCopy,
)
from gateway.audit import repository as audit_repository
from gateway.audit import service as audit_service
from gateway.clients import repository as clients_repository
from gateway.core.db import utcnow
from gateway.core.pagination import decode_cursor, encode_cursor
from gateway.runtime.context import GatewayContext
from gateway.security.principals import BorrowerPrincipal

log = structlog.get_logger()

EXPORTED_EVENT = "borrower.exported"


async def lender_names(session: AsyncSession, lender_ids: Iterable[str]) -> dict[str, str]:
    """Display names of lenders, by id (the id itself for one no longer registered)."""
    names = {}
    for lender_id in set(lender_ids):
        client = await clients_repository.get(session, lender_id)
        names[lender_id] = client.name if client else lender_id
    return names


async def access_log(
    session: AsyncSession,
    context: GatewayContext,
    borrower: BorrowerPrincipal,
    *,
    cursor: str | None,
    limit: int,
) -> AccessLog:
    """Every release of the borrower's data under any of their consents, newest first."""
    before = decode_cursor(cursor) if cursor is not None else None
    rows = await repository.accesses_for_phone(
        session, borrower.phone_index, before=before, limit=limit
    )
    names = await lender_names(session, (consent.lender_id for _, consent in rows))
    catalog = context.catalog
    entries = []
    for release, consent in rows:
        purpose = catalog.purposes.get(consent.purpose)
        entries.append(
            AccessLogEntry(
                release_id=release.id,
                consent_id=consent.id,
                lender={"id": consent.lender_id, "name": names[consent.lender_id]},
                on_behalf_of=consent.on_behalf_of,
                purpose={
                    "code": consent.purpose,
                    "title": purpose.title.as_dict() if purpose else {},
                },
                released_at=release.created_at,
                features=list(release.features),
                sources=sorted({field.split(".", 1)[0] for field in release.source_fields}),
                delete_by=release.delete_by,
                deletion_attested_at=release.deletion_attested_at,
            )
        )
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1][0]
        next_cursor = encode_cursor(last.created_at, last.id)
    return AccessLog(accesses=entries, next_cursor=next_cursor)


async def export(
    session: AsyncSession, context: GatewayContext, borrower: BorrowerPrincipal
) -> BorrowerExport:
    """A complete copy of what the gateway holds about the borrower, and only about them.

    Each consent comes with its terms, decisions, receipts, every access with the
    values still kept, the events its lender was sent and its audit entries. The
    copy itself goes on record (`borrower.exported`, one event per consent).
    """
    now = utcnow()
    consents = await repository.list_for_phone(session, borrower.phone_index)
    names = await lender_names(session, (consent.lender_id for consent in consents))
    exported = [
        await _export_consent(session, context, consent, names[consent.lender_id], now)
        for consent in consents
    ]
    codes = [
        ExportedCode(
            purpose=challenge.purpose,
            consent_id=challenge.consent_id,
            sent_at=challenge.created_at,
            expires_at=challenge.expires_at,
            attempts=challenge.attempts,
            used_at=challenge.consumed_at,
        )
        for challenge in await repository.codes_for_phone(session, borrower.phone_index)
    ]
    for consent in consents:
        await audit_service.append(
            session,
            consent_service.consent_event(
                consent, EXPORTED_EVENT, "borrower", reason="a copy for the borrower (PIPL Art. 45)"
            ),
        )
    log.info("borrower.exported", consents=len(consents))
    return BorrowerExport(generated_at=now, consents=exported, one_time_codes=codes)


async def _export_consent(
    session: AsyncSession,
    context: GatewayContext,
    consent: Consent,
    lender_name: str,
    now: datetime,
) -> ExportedConsent:
    status = await consent_service.settle_for_read(session, context, consent, now)
    identity = await consent_service.open_identity(session, context, consent)
    deleted_at = await consent_service.data_deleted_at(session, consent, now)
    notifications = await notifications_repository.list_for_consents(session, [consent.id])
    entries = await audit_repository.entries_for_consent(session, consent.id)
    return ExportedConsent(
        consent_id=consent.id,
        status=status,
        lender={"id": consent.lender_id, "name": lender_name},
        on_behalf_of=consent.on_behalf_of,
        terms=consent_service.terms_of(consent),
        borrower_ref=consent.borrower_ref,
        identity=IdentityCopy(
            values=identity, masked=dict(consent.borrower_display), deleted_at=deleted_at
        ),
        created_at=consent.created_at,
        request_expires_at=consent.request_expires_at,
        decided_at=consent.decided_at,
        ended_at=consent.ended_at,
        data_deleted_at=deleted_at,
        use_count=consent.release_count,
        artefact=consent.artefact,
        receipts=[
            consent_service.receipt_view(receipt)
            for receipt in await repository.receipts_for(session, consent.id)
        ],
        accesses=await consent_service.accesses(session, context, consent, now),
        notifications=[
            ExportedNotification(
                seq=notification.seq,
                event=notification.event,
                status=notification.status,
                created_at=notification.created_at,
                delivered_at=notification.delivered_at,
            )
            for notification in notifications
        ],
        audit_events=[
            ExportedAuditEvent(
                index=entry.seq, leaf_hash=entry.leaf_hash, leaf=json.loads(entry.leaf)
            )
            for entry in entries
        ],
    )
