"""The borrower's rights over what the gateway holds: their consents with every access,
the access log, and a complete copy.

PIPL Art. 45 gives a person the right to consult and copy their personal
information. Every value is read through the consent's data key (`consent.keys`):
what was deleted stays deleted, and the views say when it was. A borrower's
consents are read in a fixed number of queries however many they have.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from consent import data_life, keys
from consent import repository as consent_repository
from consent.artefacts import receipt_view
from consent.events import consent_event
from consent.expiry import settle_all
from consent.models import Consent, ConsentKey
from consent.notifications import repository as notifications_repository
from consent.notifications.models import ConsentNotification
from consent.views import notice_of, status_now, terms_of
from gateway.audit import repository as audit_repository
from gateway.audit import service as audit_service
from gateway.auth.dependencies import BorrowerPrincipal
from gateway.crypto.envelope import field_context, open_sealed
from gateway.releases.models import Release
from gateway.rights import repository
from gateway.rights.schemas import (
    Access,
    AccessLog,
    AccessLogEntry,
    BorrowerConsentView,
    BorrowerExport,
    ExportedAuditEvent,
    ExportedCode,
    ExportedConsent,
    ExportedNotification,
    IdentityCopy,
)
from gateway.runtime.context import GatewayContext

log = structlog.get_logger()

EXPORTED_EVENT = "borrower.exported"


def accesses(
    context: GatewayContext,
    consent: Consent,
    key: ConsentKey | None,
    releases: Sequence[Release],
    now: datetime,
) -> list[Access]:
    """Every release under the consent, newest first, with the values while they are kept."""
    dek = keys.unwrap(context, consent, key, now)
    consent_deleted_at = keys.deleted_at(consent, key, now)
    found = []
    for release in releases:
        moments = [data_life.copy_deleted_at(release.delete_by, now), consent_deleted_at]
        deleted_at = min((moment for moment in moments if moment is not None), default=None)
        values = None
        if dek is not None and deleted_at is None and release.payload_sealed is not None:
            sealed_for = field_context(consent.id, f"release:{release.id}")
            values = json.loads(open_sealed(dek, release.payload_sealed, sealed_for))
        found.append(
            Access(
                release_id=release.id,
                released_at=release.created_at,
                features=list(release.features),
                delete_by=release.delete_by,
                values=values,
                deleted_at=deleted_at,
                deletion_attested_at=release.deletion_attested_at,
            )
        )
    return found


async def consent_views(
    session: AsyncSession, context: GatewayContext, consents: Sequence[Consent]
) -> list[BorrowerConsentView]:
    """Who, what, from where, why, how long — and every access made, for each consent.

    Expiries come due are recorded first, in the request's own unit of work.
    """
    await settle_all(session, context, consents)
    ids = [consent.id for consent in consents]
    found_keys = await repository.keys_of(session, ids)
    releases = await repository.releases_of(session, ids)
    names = await repository.lender_names(session, {consent.lender_id for consent in consents})
    views = []
    for consent in consents:
        now = context.clock.now()
        key = found_keys.get(consent.id)
        lender_name = names[consent.lender_id]
        views.append(
            BorrowerConsentView(
                consent_id=consent.id,
                status=status_now(consent, now),
                lender={"id": consent.lender_id, "name": lender_name},
                on_behalf_of=consent.on_behalf_of,
                borrower_display=dict(consent.borrower_display),
                notice=notice_of(context, consent, lender_name),
                terms=terms_of(consent),
                created_at=consent.created_at,
                request_expires_at=consent.request_expires_at,
                decided_at=consent.decided_at,
                ended_at=consent.ended_at,
                data_deleted_at=keys.deleted_at(consent, key, now),
                use_count=consent.release_count,
                accesses=accesses(context, consent, key, releases[consent.id], now),
            )
        )
    return views


async def access_log(
    session: AsyncSession,
    context: GatewayContext,
    borrower: BorrowerPrincipal,
    *,
    cursor: str | None,
    limit: int,
) -> AccessLog:
    """Every release of the borrower's data under any of their consents, newest first."""
    page = await repository.accesses_for_phone(
        session, borrower.phone_index, cursor=cursor, limit=limit
    )
    consents = {
        consent.id: consent
        for consent in await consent_repository.list_for_phone(session, borrower.phone_index)
    }
    names = await repository.lender_names(
        session, {consents[release.consent_id].lender_id for release in page.items}
    )
    catalog = context.catalog
    entries = []
    for release in page.items:
        consent = consents[release.consent_id]
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
    return AccessLog(accesses=entries, next_cursor=page.next_cursor)


async def export(
    session: AsyncSession, context: GatewayContext, borrower: BorrowerPrincipal
) -> BorrowerExport:
    """A complete copy of what the gateway holds about the borrower, and only about them.

    Each consent comes with its terms, decisions, receipts, every access with the
    values still kept, the events its lender was sent and its audit entries. The
    copy itself goes on record (`borrower.exported`, one event per consent).
    """
    now = context.clock.now()
    consents = await consent_repository.list_for_phone(session, borrower.phone_index)
    await settle_all(session, context, consents, now)
    ids = [consent.id for consent in consents]
    names = await repository.lender_names(session, {consent.lender_id for consent in consents})
    found_keys = await repository.keys_of(session, ids)
    releases = await repository.releases_of(session, ids)
    notifications: defaultdict[str, list[ConsentNotification]] = defaultdict(list)
    for notification in await notifications_repository.list_for_consents(session, ids):
        notifications[notification.consent_id].append(notification)
    exported = [
        await _export_consent(
            session,
            context,
            consent,
            names[consent.lender_id],
            found_keys.get(consent.id),
            releases[consent.id],
            notifications[consent.id],
            now,
        )
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
            consent_event(
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
    key: ConsentKey | None,
    releases: Sequence[Release],
    notifications: Sequence[ConsentNotification],
    now: datetime,
) -> ExportedConsent:
    identity = keys.open_identity_with(keys.unwrap(context, consent, key, now), consent)
    deleted_at = keys.deleted_at(consent, key, now)
    entries = await audit_repository.entries_for_consent(session, consent.id)
    return ExportedConsent(
        consent_id=consent.id,
        status=status_now(consent, now),
        lender={"id": consent.lender_id, "name": lender_name},
        on_behalf_of=consent.on_behalf_of,
        terms=terms_of(consent),
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
            receipt_view(receipt)
            for receipt in await consent_repository.receipts_for(session, consent.id)
        ],
        accesses=accesses(context, consent, key, releases, now),
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
