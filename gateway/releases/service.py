"""The release pipeline (DESIGN.md, main flow step 3), read top to bottom as its steps."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from lendgate_sdk.claims import ISSUER, ReleaseClaims
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from connectors.base import Month, MonthRange, SourceRecord
from connectors.registry import fetch_all
from consent import expiry, keys, lookup
from consent.budget import (
    CHINA_STANDARD_TIME,
    counts_intervals,
    interval_start,
    releases_allowed,
)
from consent.events import consent_event
from consent.models import Consent, ConsentKey
from consent.schemas import BorrowerIdentity
from consent.states import ConsentStatus, check_releasable
from consent.views import status_now
from gateway.audit import repository as audit_repository
from gateway.audit import service as audit_service
from gateway.audit.events import AuditEvent
from gateway.core.errors import (
    ConsentNotFound,
    ConsentRevoked,
    FrequencyExceeded,
    InvalidToken,
    LendgateError,
)
from gateway.core.ids import new_id
from gateway.core.metrics import RELEASES
from gateway.crypto import jose
from gateway.crypto.envelope import field_context, seal
from gateway.privacy.egress import PersonalDataBlocked
from gateway.releases import repository
from gateway.releases.models import Release
from gateway.releases.schemas import (
    AuditReceipt,
    DeletionAttestation,
    ReleaseResponse,
)
from gateway.runtime.context import GatewayContext
from gateway.security.principals import ClientPrincipal
from policies.evaluation import ReleasePlan, plan_release
from policies.release import derive_features

log = structlog.get_logger()

# Compare-and-swap rounds before a release that keeps losing the race gives up (SQLite).
SPEND_ATTEMPTS = 3


async def release_features(
    session: AsyncSession,
    context: GatewayContext,
    lender: ClientPrincipal,
    consent_id: str,
    requested: Sequence[str] | None,
) -> ReleaseResponse:
    """Run one release; a refusal is on record even though nothing else is kept."""
    now = context.clock.now()
    release_id = new_id("rel")
    trail: list[AuditEvent] = []
    consent: Consent | None = None
    try:
        # 3.1 the consent: this lender's, active, in its window, within its budget
        consent, key_row = await lookup.get_for_lender_with_key(
            session, lender.client_id, consent_id
        )
        status = await expiry.settle(session, context, consent, now)
        check_releasable(status, now, valid_from=consent.valid_from)
        await check_budget(session, consent, now)
        # 3.2 policy: requested ⊆ consent ⊆ purpose, and the minimal source fields
        plan = plan_release(context.catalog, consent.purpose, consent.features, requested)
        # 3.3 fetch exactly those fields, for the consented months only
        months = data_range(consent, now)
        key = consent_data_key(context, consent, key_row, now)
        identity = borrower_identity(consent, key)
        records = await fetch_sources(context, consent, identity, plan, months, trail)
        # 3.4 derive and generalize the features (identity matches compare the claimed identity)
        claimed = identity if plan.compares_identity else None
        features = derive_features(context.catalog, plan.features, records, months, claimed)
        payload = release_payload(context, consent, release_id, features, records, now)
        # 3.5 the egress guard: no personal data leaves that the purpose does not allow
        try:
            context.egress_guard.check(payload, purpose=consent.purpose)
        except PersonalDataBlocked as blocked:
            trail.append(egress_blocked(consent, plan, blocked))
            raise
        # 3.6 sign (JWS, EdDSA) and encrypt to the lender (JWE, ECDH-ES+A256KW / A256GCM)
        jws = jose.sign_jwt(
            payload, context.keys.signing_key.private_key, context.keys.signing_key.kid
        )
        jwe = jose.encrypt_for(jws.encode(), lender_encryption_key(lender))
        # 3.7 the audit entry is committed with the release, before the response leaves
        release, entry = await record_release(
            session, consent, key, release_id, plan, features, jws, trail, now
        )
    except LendgateError as refusal:
        audit_service.append_if_refused(
            session, *trail, denial(context, lender, consent_id, consent, requested, refusal)
        )
        RELEASES.labels(outcome=refusal.code).inc()
        log.info(
            "release.denied", consent_id=consent_id, lender_id=lender.client_id, reason=refusal.code
        )
        raise
    RELEASES.labels(outcome="granted").inc()
    log.info(
        "release.granted",
        consent_id=consent.id,
        release_id=release.id,
        leaf_index=release.leaf_index,
    )
    return ReleaseResponse(
        release_id=release.id,
        consent_id=consent.id,
        jwe=jwe,
        audit=AuditReceipt(leaf_index=entry.seq, leaf_hash=entry.leaf_hash),
        delete_by=release.delete_by,
    )


async def check_budget(session: AsyncSession, consent: Consent, now: datetime) -> None:
    """Refuse once the consent's frequency budget for this calendar interval is spent."""
    total = consent.release_count
    in_interval = 0
    if counts_intervals(consent.fetch_type):
        since = interval_start(now, consent.frequency_unit)
        in_interval = await repository.count_for_consent(session, consent.id, since)
    if not releases_allowed(consent.fetch_type, consent.frequency_value, total, in_interval):
        raise FrequencyExceeded()


def data_range(consent: Consent, now: datetime) -> MonthRange:
    """The consented months, ending with the last complete month (Beijing time)."""
    last_complete = Month.of(now.astimezone(CHINA_STANDARD_TIME).date()).shift(-1)
    return MonthRange.ending(last_complete, consent.data_range_months)


def consent_data_key(
    context: GatewayContext, consent: Consent, key_row: ConsentKey | None, now: datetime
) -> bytes:
    """The consent's data key, opened once for the whole release."""
    key = keys.unwrap(context, consent, key_row, now)
    if key is None:
        raise ConsentRevoked("The consent's data key was destroyed.")
    return key


def borrower_identity(consent: Consent, key: bytes) -> BorrowerIdentity:
    """The borrower's identity, decrypted for this release only."""
    identity = keys.open_identity_with(key, consent)
    if identity is None:
        raise ConsentRevoked("The consent's data key was destroyed.")
    return identity


async def fetch_sources(
    context: GatewayContext,
    consent: Consent,
    identity: BorrowerIdentity,
    plan: ReleasePlan,
    months: MonthRange,
    trail: list[AuditEvent],
) -> dict[str, SourceRecord]:
    """Ask each needed source, in parallel, for exactly the planned fields."""
    records = await fetch_all(context.connectors, identity.id_number, plan.source_fields, months)
    for source, record in records.items():
        fields = [f"{source}.{name}" for name in plan.source_fields[source]]
        trail.append(
            consent_event(
                consent,
                "source.fetched",
                "gateway",
                source_fields=tuple(fields),
                features=plan.features,
                reason=f"{source} as of {record.as_of}",
                request_id=request_id(),
            )
        )
        if record.overshared:
            trail.append(
                consent_event(
                    consent,
                    "source.overshared",
                    "gateway",
                    outcome="dropped",
                    source_fields=tuple(f"{source}.{name}" for name in record.overshared),
                    reason=f"{source} sent fields that were not asked for; dropped unread",
                    request_id=request_id(),
                )
            )
    return records


def release_payload(
    context: GatewayContext,
    consent: Consent,
    release_id: str,
    features: Mapping[str, Any],
    records: Mapping[str, SourceRecord],
    now: datetime,
) -> ReleaseClaims:
    """The claims the lender receives (DESIGN.md, release payload)."""
    return {
        "release_id": release_id,
        "consent_id": consent.id,
        "purpose": consent.purpose,
        "borrower_ref": consent.borrower_ref,
        "features": dict(features),
        "sources": {source: {"as_of": str(record.as_of)} for source, record in records.items()},
        "policy_version": context.catalog.version,
        "iat": int(now.timestamp()),
        "iss": ISSUER,
        "aud": consent.lender_id,
    }


def lender_encryption_key(lender: ClientPrincipal) -> dict[str, Any]:
    """The lender's registered X25519 key (read with its registration when it authenticated)."""
    key = lender.encryption_key
    if key is None:
        raise InvalidToken("The client has no registered encryption key.")
    return key


async def record_release(
    session: AsyncSession,
    consent: Consent,
    key: bytes,
    release_id: str,
    plan: ReleasePlan,
    features: Mapping[str, Any],
    jws: str,
    trail: list[AuditEvent],
    now: datetime,
) -> tuple[Release, Any]:
    """Spend the budget, keep the borrower's sealed copy, and append the audit entries."""
    delete_by = now + timedelta(days=consent.data_life_days)
    await spend_budget(session, consent, now, delete_by)
    digest = "sha256:" + hashlib.sha256(jws.encode()).hexdigest()
    source_fields = tuple(
        f"{source}.{name}" for source, names in plan.source_fields.items() for name in names
    )
    *_, entry = await audit_service.append_all(
        session,
        [
            *trail,
            consent_event(
                consent,
                "release.granted",
                f"lender:{consent.lender_id}",
                features=plan.features,
                source_fields=source_fields,
                payload_digest=digest,
                request_id=request_id(),
            ),
        ],
    )
    release = Release(
        id=release_id,
        consent_id=consent.id,
        lender_id=consent.lender_id,
        features=list(plan.features),
        source_fields=list(source_fields),
        payload_digest=digest,
        payload_sealed=seal(
            key,
            json.dumps(dict(features)).encode(),
            field_context(consent.id, f"release:{release_id}"),
        ),
        leaf_index=entry.seq,
        delete_by=delete_by,
        created_at=now,
    )
    session.add(release)
    await session.flush()
    return release, entry


async def spend_budget(
    session: AsyncSession, consent: Consent, now: datetime, delete_by: datetime
) -> None:
    """Count this release, atomically with the checks that allowed it.

    The consent's row keeps its own summary of its releases (the count and the
    latest `delete_by`), so that a consent's withdrawal receipt and data life need
    nothing from the release records.

    A compare-and-swap on the release count that also requires the consent to
    be `ACTIVE` and inside its window. No lock is held while the sources answer:
    a concurrent release, pause or revoke may commit meanwhile, and then the swap
    matches nothing; the consent is read again, locked (PostgreSQL; SQLite's single
    writer has the same effect), judged as it now stands, and swapped again, which
    then cannot miss. Until this transaction ends the swap's row lock keeps anyone
    from changing the consent.
    """
    for _ in range(SPEND_ATTEMPTS):
        # The swap matches only the row as read, so its `last_delete_by` is current too.
        last = consent.last_delete_by
        last_delete_by = delete_by if last is None else max(last, delete_by)
        spent = await session.execute(
            update(Consent)
            .where(
                Consent.id == consent.id,
                Consent.release_count == consent.release_count,
                Consent.status == ConsentStatus.ACTIVE,
                Consent.valid_until > now,
            )
            .values(release_count=Consent.release_count + 1, last_delete_by=last_delete_by)
            .execution_options(synchronize_session=False)
        )
        if spent.rowcount == 1:  # type: ignore[attr-defined]
            set_committed_value(consent, "release_count", consent.release_count + 1)
            set_committed_value(consent, "last_delete_by", last_delete_by)
            return
        log.info("release.spend_lost", consent_id=consent.id)
        await session.refresh(consent, with_for_update=True)
        check_releasable(status_now(consent, now), now, valid_from=consent.valid_from)
        await check_budget(session, consent, now)
    raise FrequencyExceeded()


def egress_blocked(consent: Consent, plan: ReleasePlan, blocked: PersonalDataBlocked) -> AuditEvent:
    """The `egress.blocked` event: the entity types the guard found, never the values."""
    return consent_event(
        consent,
        "egress.blocked",
        "gateway",
        outcome="blocked",
        features=plan.features,
        reason="personal data in the payload: " + ", ".join(blocked.entities),
        request_id=request_id(),
    )


def denial(
    context: GatewayContext,
    lender: ClientPrincipal,
    consent_id: str,
    consent: Consent | None,
    requested: Sequence[str] | None,
    refusal: LendgateError,
) -> AuditEvent:
    """The `release.denied` event: who asked, for what, and the refusal code — no values."""
    catalog = context.catalog
    asked = tuple(name for name in (requested or ()) if name in catalog.features)
    if consent is not None:
        return consent_event(
            consent,
            "release.denied",
            f"lender:{lender.client_id}",
            outcome="denied",
            reason=refusal.code,
            features=asked or tuple(consent.features),
            request_id=request_id(),
        )
    return AuditEvent(
        type="release.denied",
        actor=f"lender:{lender.client_id}",
        lender_id=lender.client_id,
        consent_id=consent_id if _looks_like_id(consent_id) else None,
        features=asked,
        outcome="denied",
        reason=refusal.code,
        request_id=request_id(),
        policy_version=catalog.version,
    )


def _looks_like_id(value: str) -> bool:
    """Whether a caller-supplied id is one of ours in form (so it is safe to write down)."""
    return value.startswith("cns_") and len(value) <= 64 and value[4:].isalnum()


def request_id() -> str | None:
    """The current request's id, as bound by the request middleware."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value) if value else None


# --- data life: the lender's deletion attestations -----------------------------------


async def attest_deletion(
    session: AsyncSession, context: GatewayContext, lender: ClientPrincipal, release_id: str
) -> DeletionAttestation:
    """The lender attests it deleted what a release gave it (`deletion.attested`).

    Attesting again changes nothing and answers the first attestation; another
    lender's release is as unknown as a missing one.
    """
    release = await repository.get(session, release_id, for_update=True)
    if release is None or release.lender_id != lender.client_id:
        raise ConsentNotFound("No such release.")
    attested_at = release.deletion_attested_at
    if attested_at is None:
        attested_at = context.clock.now()
        consent = await lookup.get_for_lender(session, lender.client_id, release.consent_id)
        on_time = attested_at <= release.delete_by
        entry = await audit_service.append(
            session,
            consent_event(
                consent,
                "deletion.attested",
                f"lender:{lender.client_id}",
                features=tuple(release.features),
                payload_digest=release.payload_digest,
                outcome="ok" if on_time else "late",
                reason=f"release {release.id}; delete_by {release.delete_by.isoformat()}",
                request_id=request_id(),
            ),
        )
        release.deletion_attested_at = attested_at
        release.deletion_attestation_leaf = entry.seq
        await session.flush()
        log.info("deletion.attested", release_id=release.id, on_time=on_time)
    leaf = release.deletion_attestation_leaf
    entries = await audit_repository.entries_at(session, {leaf}) if leaf is not None else {}
    return DeletionAttestation(
        release_id=release.id,
        consent_id=release.consent_id,
        delete_by=release.delete_by,
        attested_at=attested_at,
        on_time=attested_at <= release.delete_by,
        audit=(
            AuditReceipt(leaf_index=leaf, leaf_hash=entries[leaf].leaf_hash)
            if leaf is not None and leaf in entries
            else None
        ),
    )
