"""The regulator's oversight: the compliance report, overdue deletion attestations, and the
log's co-signing and export, where they need the client registry's witnesses."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from consent.models import Consent
from consent.views import stored_terms
from gateway.audit import export as audit_export
from gateway.audit import repository as audit_repository
from gateway.audit import service as audit_service
from gateway.audit import tree_heads as audit_tree_heads
from gateway.audit.models import AuditEntry
from gateway.audit.schemas import TreeHeadView
from gateway.clients import repository as clients_repository
from gateway.compliance import repository, rules
from gateway.compliance.schemas import (
    ComplianceReport,
    FolderProduct,
    LenderProducts,
    OverdueAttestation,
    OverdueAttestations,
    ProductHistory,
    ProductVersion,
    ReleaseCheck,
)
from gateway.core.errors import InvalidRequest, InvalidToken
from gateway.crypto import jose
from gateway.crypto.keys import KeyStore
from gateway.releases.models import Release
from gateway.runtime.context import GatewayContext
from gateway.security.principals import ClientKind, ClientPrincipal
from policies.catalog import Product


async def cosign(
    session: AsyncSession, witness_id: str, tree_size: int, signature: str
) -> TreeHeadView:
    """Store a registered witness's co-signature of a tree head, checked with its keys."""
    witness = await clients_repository.get(session, witness_id)
    if witness is None:
        raise InvalidToken("Unknown client.")
    return await audit_tree_heads.cosign(session, witness.id, witness.jwks, tree_size, signature)


async def export_bundle(
    session: AsyncSession, keys: KeyStore, start: int | None, end: int | None
) -> dict[str, Any]:
    """An export bundle, with the names and public keys of the witnesses who co-signed in it."""
    bundle = await audit_export.export_bundle(session, keys, start, end)
    witnesses = await clients_repository.get_many(session, audit_export.witness_ids(bundle))
    bundle["witnesses"] = {
        client.id: {"name": client.name, "jwks": jose.public_jwks(client.jwks)}
        for client in witnesses
    }
    return bundle


async def compliance_report(
    session: AsyncSession,
    context: GatewayContext,
    since: datetime,
    until: datetime,
    lender_id: str | None = None,
    product: str | None = None,
) -> ComplianceReport:
    """Every release in `[since, until)` against its consent as it stood then, and more.

    With `product`, only what concerns consents asked under a lender's product of that code.
    """
    if until <= since:
        raise InvalidRequest("`to` must be later than `from`.")
    now = context.clock.now()
    covering = (
        await audit_tree_heads.tree_head_views(
            session, [await audit_tree_heads.issue_tree_head(session, context.keys)]
        )
    )[0]
    period = [
        _logged(entry)
        for entry in await audit_repository.entries_of_types_between(
            session, {rules.GRANTED, rules.DENIED}, since, until, lender_id
        )
    ]
    keep = await _product_filter(session, product, lender_id)
    period = [event for event in period if keep(event.consent_id)]
    granted = [event for event in period if event.type == rules.GRANTED]
    denied = [event for event in period if event.type == rules.DENIED]

    consent_ids = {event.consent_id for event in granted if event.consent_id}
    before = max((event.index for event in granted), default=-1) + 1
    history: dict[str, list[rules.LoggedEvent]] = defaultdict(list)
    for entry in await audit_repository.entries_for_consents(session, consent_ids, before):
        history[entry.consent_id or ""].append(_logged(entry))
    terms = {
        consent.id: rules.ConsentRecord(
            consent_id=consent.id,
            lender_id=consent.lender_id,
            terms=stored_terms(consent),
            product_code=consent.product,
            product=_product(consent),
            has_letter=consent.artefact is not None,
        )
        for consent in (await repository.consents(session, consent_ids)).values()
    }

    verdicts = []
    findings: list[rules.Finding] = []
    for event in granted:
        consent = terms.get(event.consent_id or "")
        verdict, found = rules.check_release(
            event, consent, history.get(event.consent_id or "", []), context.catalog
        )
        verdicts.append(verdict)
        findings.extend(found)

    records = [
        _record(release)
        for release in await repository.releases_created_between(session, since, until, lender_id)
        if keep(release.consent_id)
    ]
    at_records = await audit_repository.entries_at(
        session, {record.leaf_index for record in records}
    )
    recorded = {
        release.leaf_index
        for release in await repository.releases_at_leaves(session, {e.index for e in granted})
    }
    findings.extend(
        rules.reconcile_records(
            records, {i: _logged(e) for i, e in at_records.items()}, granted, recorded
        )
    )
    due_until = min(until, now)
    if due_until > since:
        due = await repository.releases_due_between(session, since, due_until, lender_id)
        findings.extend(
            rules.overdue_deletions(
                (_record(release) for release in due if keep(release.consent_id)), due_until
            )
        )
    baseline = await audit_repository.releases_per_lender(session, since - rules.BASELINE, since)
    findings.extend(rules.release_bursts(granted, baseline))
    findings.extend(rules.denial_bursts(denied))
    findings.sort(key=lambda finding: (min(finding.leaf_indexes, default=-1), finding.kind))

    return ComplianceReport(
        from_=since,
        to=until,
        generated_at=now,
        lender_id=lender_id,
        product=product,
        tree_head=covering,
        summary=rules.summary(verdicts, len(denied), findings),
        releases=[
            ReleaseCheck(
                leaf_index=verdict.event.index,
                ts=verdict.event.ts.isoformat(),
                consent_id=verdict.event.consent_id,
                lender_id=verdict.event.lender_id,
                consent_status=verdict.consent_status,
                checks=verdict.checks,
                compliant=verdict.compliant,
            )
            for verdict in verdicts
        ],
        findings=findings,
    )


async def _product_filter(
    session: AsyncSession, product: str | None, lender_id: str | None
) -> Callable[[str | None], bool]:
    """Whether a consent id is in the report: any, or only those asked under `product`."""
    if product is None:
        return lambda consent_id: True
    chosen = await repository.consent_ids_with_product(session, product, lender_id)
    return lambda consent_id: consent_id in chosen


def _product(consent: Consent) -> Product | None:
    """The product the consent was asked under, as the consent keeps it."""
    kept = consent.product_terms
    if kept is None:
        return None
    try:
        return Product.from_view(kept["client_name"], kept)
    except (KeyError, TypeError, ValueError):
        return None  # a damaged record: the report says so rather than skip the check


def _logged(entry: AuditEntry) -> rules.LoggedEvent:
    return rules.LoggedEvent.parse(entry.seq, entry.ts, entry.type, entry.consent_id, entry.leaf)


def _record(release: Release) -> rules.ReleaseRecord:
    return rules.ReleaseRecord(
        release_id=release.id,
        consent_id=release.consent_id,
        lender_id=release.lender_id,
        leaf_index=release.leaf_index,
        payload_digest=release.payload_digest,
        delete_by=release.delete_by,
        deletion_attested_at=release.deletion_attested_at,
    )


async def overdue_attestations(
    session: AsyncSession,
    context: GatewayContext,
    regulator: ClientPrincipal,
    *,
    lender_id: str | None,
    cursor: str | None,
    limit: int,
) -> OverdueAttestations:
    """Releases whose `delete_by` has passed with no deletion attested, for regulators."""
    now = context.clock.now()
    page = await repository.overdue_attestations(
        session, now, lender_id=lender_id, cursor=cursor, limit=limit
    )
    filters = audit_service.describe_filters(lender_id=lender_id)
    await audit_service.record_read(
        session, regulator.client_id, f"deletion-attestations/overdue {filters}".rstrip()
    )
    return OverdueAttestations(
        generated_at=now,
        releases=[
            OverdueAttestation(
                release_id=release.id,
                consent_id=release.consent_id,
                lender_id=release.lender_id,
                released_at=release.created_at,
                delete_by=release.delete_by,
                overdue_days=round((now - release.delete_by) / timedelta(days=1), 2),
                leaf_index=release.leaf_index,
            )
            for release in page.items
        ],
        next_cursor=page.next_cursor,
    )


async def product_history(
    session: AsyncSession, context: GatewayContext, lender_id: str | None = None
) -> ProductHistory:
    """Per lender client (or only `lender_id`): the products its policy-folder file declares
    and every version of its registered products, each with its `admin.product_set` leaf."""
    lenders = [
        client
        for client in await clients_repository.list_all(session)
        if client.kind is ClientKind.LENDER and lender_id in (None, client.id)
    ]
    # Each registration and its event are written together, in the same order: the n-th
    # event of a version is the n-th registration of it.
    leaves: dict[tuple[str | None, str | None], list[int]] = defaultdict(list)
    for entry in await repository.product_set_entries(session, lender_id):
        version = json.loads(entry.leaf).get("policy_version")
        leaves[(entry.lender_id, version)].append(entry.seq)
    answer = []
    for client in lenders:
        registrations = await clients_repository.product_registrations(session, client.id)
        versions = []
        for number, row in enumerate(registrations, start=1):
            found = leaves.get((client.id, row.version))
            versions.append(
                ProductVersion(
                    version=row.version,
                    registered_at=row.created_at,
                    codes=list(row.codes),
                    in_force=number == len(registrations),
                    leaf_index=found.pop(0) if found else None,
                )
            )
        answer.append(
            LenderProducts(
                lender_id=client.id,
                lender_name=client.name,
                policy_folder=[
                    FolderProduct(
                        code=product.code, title=product.title.as_dict(), version=product.version
                    )
                    for product in context.catalog.client_products(client.name).values()
                ],
                registrations=versions,
            )
        )
    return ProductHistory(
        generated_at=context.clock.now(),
        policy_version=context.catalog.version,
        lenders=answer,
    )
