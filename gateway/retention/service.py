"""Key management: KEK rotation (online, resumable), retiring keys, the data-life sweep.

Every operator action here is an audit event, written before the change it
records takes effect: a key that could not be put on record is never made
active or destroyed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from cryptography.exceptions import InvalidTag
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from consent import keys as consent_keys
from consent.notifications import repository as notifications_repository
from gateway.audit import service as audit_service
from gateway.audit.events import AuditEvent
from gateway.core.clock import utcnow
from gateway.core.db import unit_of_work
from gateway.core.ids import new_id
from gateway.crypto import jose
from gateway.crypto.keys import KeyStore, retire_signing_key, superseded_times
from gateway.crypto.kms import KekUnavailable, Kms
from gateway.retention import repository
from gateway.retention.models import KekRotation

log = structlog.get_logger()

DEFAULT_BATCH_SIZE = 500
# A request that read the active signing key just before a rotation may sign a
# moment after it; releases made this long after a key was superseded still count.
SIGNING_GRACE = timedelta(minutes=1)


class RotationInProgress(RuntimeError):
    """A KEK rotation has not finished; KEKs cannot be retired until it has."""


@dataclass
class KekRotationReport:
    """What one run of a KEK rotation did."""

    kek_id: str
    resumed: bool
    rewrapped: int
    unreadable: list[str] = field(default_factory=list)


async def rotate_kek(
    sessionmaker: async_sessionmaker[AsyncSession],
    kms: Kms,
    *,
    actor: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> KekRotationReport:
    """Make a new KEK active and re-wrap every data key under it, in committed batches.

    Safe while gateways serve: each key is swapped only if it is unchanged since
    it was read (a key shredded meanwhile stays shredded), and gateways open keys
    under either KEK. An interrupted run is resumed by the next one, from its
    progress marker, towards the same KEK. `on_batch` gets the running count.
    """
    async with unit_of_work(sessionmaker) as session:
        rotation = await repository.unfinished_rotation(session)
        resumed = rotation is not None
        if rotation is None:
            previous = kms.active_kek_id
            kek_id = kms.create_kek()
            rotation = KekRotation(id=new_id("rot"), kek_id=kek_id, actor=actor, rewrapped=0)
            session.add(rotation)
            await audit_service.append(
                session,
                AuditEvent(
                    type="key.rotated",
                    actor=actor,
                    reason=f"key-encryption key {kek_id} replaces {previous}; "
                    "re-wrapping every data key",
                ),
            )
        kek_id, rotation_id = rotation.kek_id, rotation.id
    # Active only once the rotation is on record (and again on resume, if the run
    # stopped between the two).
    if kms.active_kek_id != kek_id:
        kms.activate_kek(kek_id)
    log.info("key.kek_rotation", rotation_id=rotation_id, kek_id=kek_id, resumed=resumed)

    unreadable: list[str] = []
    # First pass from the progress marker; then one from the start for keys that
    # gateways wrapped under the old KEK while they had not yet seen the switch.
    while step := await _rewrap_batch(sessionmaker, kms, batch_size, unreadable, from_marker=True):
        if on_batch is not None:
            on_batch(step.rewrapped)
    after: str | None = None
    while step := await _rewrap_batch(sessionmaker, kms, batch_size, unreadable, after=after):
        after = step.last_consent_id

    async with unit_of_work(sessionmaker) as session:
        rotation = await repository.unfinished_rotation(session)
        rewrapped = rotation.rewrapped if rotation else 0
        if rotation is not None:
            rotation.finished_at = utcnow()
            await audit_service.append(
                session,
                AuditEvent(
                    type="key.rewrapped",
                    actor=actor,
                    reason=f"{rewrapped} data keys re-wrapped under {kek_id}"
                    + (f"; {len(unreadable)} could not be opened" if unreadable else ""),
                ),
            )
    log.info("key.kek_rotated", kek_id=kek_id, rewrapped=rewrapped, unreadable=len(unreadable))
    return KekRotationReport(kek_id, resumed, rewrapped, sorted(set(unreadable)))


@dataclass(frozen=True)
class _Step:
    last_consent_id: str
    rewrapped: int


async def _rewrap_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    kms: Kms,
    batch_size: int,
    unreadable: list[str],
    *,
    from_marker: bool = False,
    after: str | None = None,
) -> _Step | None:
    """Re-wrap one batch in one transaction with the progress marker; None when none is left."""
    async with unit_of_work(sessionmaker) as session:
        rotation = await repository.unfinished_rotation(session)
        if rotation is None:
            return None
        batch = await repository.keys_not_wrapped_by(
            session,
            rotation.kek_id,
            after=rotation.last_consent_id if from_marker else after,
            limit=batch_size,
        )
        if not batch:
            return None
        rotation.rewrapped += await _rewrap(session, kms, batch, unreadable)
        if from_marker:
            rotation.last_consent_id = batch[-1][0]
        return _Step(batch[-1][0], rotation.rewrapped)


async def _rewrap(
    session: AsyncSession, kms: Kms, batch: Sequence[tuple[str, bytes]], unreadable: list[str]
) -> int:
    """Re-wrap each key of `batch` under the active KEK; how many were swapped."""
    swapped = 0
    for consent_id, wrapped in batch:
        context = consent_id.encode()
        try:
            replacement = kms.wrap(kms.unwrap(wrapped, context), context)
        except (KekUnavailable, InvalidTag, ValueError):
            unreadable.append(consent_id)
            log.warning("key.rewrap_failed", consent_id=consent_id)
            continue
        swapped += await repository.swap_wrapped_key(
            session, consent_id, expected=wrapped, replacement=replacement
        )
    return swapped


@dataclass
class Retirement:
    """Keys retired by one run, and those kept with the reason."""

    retired: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)


async def retire_signing_keys(
    session: AsyncSession,
    keys: KeyStore,
    *,
    actor: str,
    token_lifetime: timedelta,
    now: datetime | None = None,
    dry_run: bool = False,
) -> Retirement:
    """Stop publishing superseded signing keys once nothing they signed is still valid.

    A key is kept while a token it signed may still be presented (`token_lifetime`
    after it was superseded), while a consent artefact it signed is still within
    its `valid_until`, while a release made before it was superseded may still
    be kept by its lender (`delete_by`), and while a lender notification it signed
    is still to be delivered (its receiver verifies it against the JWKS).
    """
    now = now or utcnow()
    outcome = Retirement()
    active = keys.signing_key.kid
    artefact_kids = {
        jose.unverified_kid(artefact)
        for artefact in await repository.artefacts_valid_after(session, now)
    }
    for kid, superseded_at in superseded_times(keys.signing_keys(), active).items():
        if superseded_at + token_lifetime > now:
            outcome.kept[kid] = "tokens it signed may still be presented"
        elif kid in artefact_kids:
            outcome.kept[kid] = "a consent artefact it signed is still valid"
        elif await repository.releases_kept(
            session, signed_by=superseded_at + SIGNING_GRACE, now=now
        ):
            outcome.kept[kid] = "a release it may have signed is inside its data life"
        elif kid in await notifications_repository.kids_awaiting_delivery(session):
            outcome.kept[kid] = "a lender notification it signed still awaits delivery"
        else:
            outcome.retired.append(kid)
    if dry_run:
        return outcome
    for kid in outcome.retired:
        await audit_service.append(
            session,
            AuditEvent(
                type="key.retired",
                actor=actor,
                reason=f"signing key {kid}: nothing it signed is still valid",
            ),
        )
        retire_signing_key(keys.directory, kid)
        log.info("key.retired", kid=kid)
    return outcome


async def retire_keks(
    sessionmaker: async_sessionmaker[AsyncSession],
    kms: Kms,
    *,
    actor: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
) -> Retirement:
    """Destroy the KEKs no data key needs: after a finished rotation, the replaced ones.

    Keys still wrapped by an old KEK (written by a gateway during the switch) are
    first re-wrapped under the active one. Database backups made before then are
    unreadable once their KEK is gone, which bounds how long a backup can reveal
    a shredded consent.
    """
    outcome = Retirement()
    async with sessionmaker() as session:
        if await repository.unfinished_rotation(session) is not None:
            raise RotationInProgress("finish it first with `lendgate keys rotate --kek`")
    active = kms.active_kek_id
    for kek_id in sorted(kms.kek_ids() - {active}):
        async with unit_of_work(sessionmaker) as session:
            if not dry_run:
                await _move_off(session, kms, batch_size)
            remaining = await repository.count_wrapped_by(session, kek_id)
            if remaining:
                outcome.kept[kek_id] = f"still wraps {remaining} data keys"
                continue
            outcome.retired.append(kek_id)
            if dry_run:
                continue
            await audit_service.append(
                session,
                AuditEvent(
                    type="key.retired",
                    actor=actor,
                    reason=f"key-encryption key {kek_id}: wraps no data key",
                ),
            )
            await session.flush()
            kms.destroy_kek(kek_id)
            log.info("key.retired", kek_id=kek_id)
    return outcome


async def _move_off(session: AsyncSession, kms: Kms, batch_size: int) -> None:
    """Re-wrap under the active KEK every data key another KEK still wraps."""
    after: str | None = None
    while batch := await repository.keys_not_wrapped_by(
        session, kms.active_kek_id, after=after, limit=batch_size
    ):
        await _rewrap(session, kms, batch, [])
        after = batch[-1][0]


@dataclass
class Sweep:
    """What one data-life sweep destroyed."""

    keys_shredded: list[str] = field(default_factory=list)
    copies_erased: int = 0


async def shred_expired(session: AsyncSession, *, actor: str, now: datetime | None = None) -> Sweep:
    """Make deletions whose time has come physical: shred ended consents' keys, erase copies.

    Reads already treat this data as deleted (see `consent.data_life`);
    the sweep removes what is left in the database.
    """
    now = now or utcnow()
    sweep = Sweep()
    for consent in await repository.consents_with_keys_past(session, now):
        if await consent_keys.data_deleted_at(session, consent, now) is None:
            continue
        await consent_keys.shred(session, consent, actor=actor, reason="data life ended", now=now)
        sweep.keys_shredded.append(consent.id)
    sweep.copies_erased = await repository.erase_overdue_copies(session, now)
    log.info("key.sweep", keys_shredded=len(sweep.keys_shredded), copies_erased=sweep.copies_erased)
    return sweep
