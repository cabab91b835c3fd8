"""Crypto-shredding: on revoke, on the borrower's deletion request, and when data life ends.

The stored ciphertexts are read back as raw database rows: after shredding they
are still there, and nothing the gateway holds opens them any more.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from lendgate_sdk import LendgateAPIError
from sqlalchemy import text, update

from consent import keys as consent_keys
from consent.models import Consent
from gateway.crypto.envelope import field_context, open_sealed
from gateway.releases.models import Release
from gateway.retention import service as protection_service
from tests.support.stack import Stack


async def raw_rows(stack: Stack, consent_id: str) -> dict[str, Any]:
    """What the database holds for a consent, read with plain SQL (no ORM, no service)."""
    async with stack.context.engine.connect() as connection:
        identity = (
            await connection.execute(
                text("SELECT identity_sealed FROM consents WHERE id = :id"), {"id": consent_id}
            )
        ).scalar_one()
        key = (
            await connection.execute(
                text("SELECT wrapped_key, shredded_at FROM consent_keys WHERE consent_id = :id"),
                {"id": consent_id},
            )
        ).one()
        releases = (
            await connection.execute(
                text("SELECT id, payload_sealed FROM releases WHERE consent_id = :id"),
                {"id": consent_id},
            )
        ).all()
        live_keys = (
            await connection.execute(
                text(
                    "SELECT consent_id, wrapped_key FROM consent_keys WHERE wrapped_key IS NOT NULL"
                )
            )
        ).all()
    return {
        "identity_sealed": bytes(identity) if identity is not None else None,
        "wrapped_key": bytes(key.wrapped_key) if key.wrapped_key is not None else None,
        "shredded_at": key.shredded_at,
        "releases": {row.id: bytes(row.payload_sealed) for row in releases if row.payload_sealed},
        "live_keys": {row.consent_id: bytes(row.wrapped_key) for row in live_keys},
    }


def open_identity(
    stack: Stack, consent_id: str, wrapped_key: bytes, sealed: bytes
) -> dict[str, Any]:
    """Decrypt a raw identity row the way the gateway would, with a raw wrapped key."""
    data_key = stack.context.keys.kms.unwrap(wrapped_key, consent_id.encode())
    return json.loads(open_sealed(data_key, sealed, field_context(consent_id, "identity")))


async def key_shredded_leaves(stack: Stack, consent_id: str) -> list[dict[str, Any]]:
    """The consent's `key.shredded` audit leaves."""
    return [leaf for leaf in await stack.audit_leaves(consent_id) if leaf["type"] == "key.shredded"]


async def set_times(stack: Stack, consent_id: str, **values: datetime) -> None:
    """Move a consent's (or its releases') clock-driven times, as if time had passed."""
    release_values = {k: v for k, v in values.items() if k == "delete_by"}
    consent_values = {k: v for k, v in values.items() if k != "delete_by"}
    if "delete_by" in values:
        # The consent keeps the latest `delete_by` of its releases beside them.
        consent_values["last_delete_by"] = values["delete_by"]
    async with stack.context.sessionmaker() as session, session.begin():
        if consent_values:
            await session.execute(
                update(Consent).where(Consent.id == consent_id).values(**consent_values)
            )
        if release_values:
            await session.execute(
                update(Release).where(Release.consent_id == consent_id).values(**release_values)
            )


async def test_after_revoke_the_ciphertexts_remain_and_cannot_be_decrypted(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        # Another borrower's consent: its live key is the best remaining guess of an attacker.
        await stack.active_consent(lender)
        consent_id, person, auth = await stack.active_consent(lender)
        await lender.release(consent_id)
        before = await raw_rows(stack, consent_id)
        assert before["wrapped_key"] is not None and before["identity_sealed"] is not None
        # The same raw rows open while the key lives: the check below is not vacuous.
        identity = open_identity(
            stack, consent_id, before["wrapped_key"], before["identity_sealed"]
        )
        assert identity["id_number"] == person.id_number

        revoked = await stack.http.post(f"/v1/borrower/consents/{consent_id}/revoke", headers=auth)
        assert revoked.status_code == 200, revoked.text

    after = await raw_rows(stack, consent_id)
    # The ciphertext rows are untouched ...
    assert after["identity_sealed"] == before["identity_sealed"]
    assert after["releases"] == before["releases"] and len(after["releases"]) == 1
    # ... the wrapped key is gone, and no key left in the database opens them.
    assert after["wrapped_key"] is None and after["shredded_at"] is not None
    assert consent_id not in after["live_keys"]
    assert after["live_keys"]
    for other_id, wrapped in after["live_keys"].items():
        data_key = stack.context.keys.kms.unwrap(wrapped, other_id.encode())
        with pytest.raises(InvalidTag):
            open_sealed(data_key, after["identity_sealed"], field_context(consent_id, "identity"))
        for release_id, sealed in after["releases"].items():
            with pytest.raises(InvalidTag):
                open_sealed(data_key, sealed, field_context(consent_id, f"release:{release_id}"))
    async with stack.context.sessionmaker() as session:
        consent = await session.get(Consent, consent_id)
        assert consent is not None
        assert await consent_keys.open_identity(session, stack.context, consent) is None

    [shredded] = await key_shredded_leaves(stack, consent_id)
    assert (shredded["actor"], shredded["reason"]) == ("borrower", "consent revoked")
    types = await stack.audit_types(consent_id)
    assert types.index("consent.revoked") < types.index("key.shredded")


async def test_the_borrower_view_says_the_data_was_deleted_and_when(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, auth = await stack.active_consent(lender)
        release = await lender.release(consent_id)
        view = (await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
        assert view["data_deleted_at"] is None
        assert view["accesses"][0]["values"] == release.features
        await stack.http.post(f"/v1/borrower/consents/{consent_id}/revoke", headers=auth)
    view = (await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
    # Deleted as of the revocation (the key was destroyed in the same transaction).
    assert view["data_deleted_at"] == view["ended_at"] is not None
    assert (await raw_rows(stack, consent_id))["shredded_at"] is not None
    assert [access["values"] for access in view["accesses"]] == [None]
    assert set(view["accesses"][0]["features"]) == set(release.features)


async def test_deletion_request_ends_an_active_consent_and_destroys_its_key(
    stack: Stack,
) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, auth = await stack.active_consent(lender)
        await lender.release(consent_id)
        answer = await stack.http.post(
            f"/v1/borrower/consents/{consent_id}/delete-data", headers=auth
        )
        assert answer.status_code == 200, answer.text
        view = answer.json()
        assert view["status"] == "REVOKED"
        assert view["data_deleted_at"] is not None
        assert [access["values"] for access in view["accesses"]] == [None]
        with pytest.raises(LendgateAPIError) as refused:
            await lender.release(consent_id)
        assert (refused.value.status, refused.value.code) == (403, "ConsentRevoked")

    assert (await raw_rows(stack, consent_id))["wrapped_key"] is None
    [shredded] = await key_shredded_leaves(stack, consent_id)
    assert shredded["reason"] == "deletion requested by the borrower"
    assert shredded["actor"] == "borrower"
    types = await stack.audit_types(consent_id)
    assert types.index("consent.revoked") < types.index("key.shredded")

    # Asking again changes nothing and writes nothing.
    again = await stack.http.post(f"/v1/borrower/consents/{consent_id}/delete-data", headers=auth)
    assert again.status_code == 200
    assert again.json()["data_deleted_at"] == view["data_deleted_at"]
    assert await stack.audit_types(consent_id) == types


async def test_deletion_request_on_a_pending_consent_rejects_it(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        person = stack.person()
        consent = await lender.request_consent(stack.consent_body(person))
    auth = await stack.borrower_login(person.phone)
    consent_id = consent["consent_id"]
    answer = await stack.http.post(f"/v1/borrower/consents/{consent_id}/delete-data", headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "REJECTED"
    assert (await raw_rows(stack, consent_id))["wrapped_key"] is None
    types = await stack.audit_types(consent_id)
    assert types[-2:] == ["consent.rejected", "key.shredded"]


async def test_deletion_request_for_someone_elses_consent_is_not_found(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
    intruder = await stack.borrower_login(stack.person().phone)
    before = await stack.audit_types(consent_id)
    answer = await stack.http.post(
        f"/v1/borrower/consents/{consent_id}/delete-data", headers=intruder
    )
    assert answer.status_code == 404
    assert answer.json()["error"] == "ConsentNotFound"
    assert (await raw_rows(stack, consent_id))["wrapped_key"] is not None
    assert await stack.audit_types(consent_id) == before
    anonymous = await stack.http.post(f"/v1/borrower/consents/{consent_id}/delete-data")
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "InvalidToken")


async def test_a_release_copy_past_its_delete_by_reads_as_deleted_and_the_sweep_erases_it(
    stack: Stack,
) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        # A periodic consent: it needs the borrower's identity for next month's release.
        consent_id, _, auth = await stack.active_consent(
            lender, purpose="post_loan_monitoring", fetch_type="PERIODIC"
        )
        await lender.release(consent_id)
        await set_times(stack, consent_id, delete_by=datetime.now(UTC) - timedelta(minutes=1))

        # No sweep has run: the copy already reads as deleted, the consent lives on.
        view = (await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
        assert [access["values"] for access in view["accesses"]] == [None]
        assert view["status"] == "ACTIVE" and view["data_deleted_at"] is None
        assert len((await raw_rows(stack, consent_id))["releases"]) == 1

        async with stack.context.sessionmaker() as session, session.begin():
            sweep = await protection_service.shred_expired(session, actor="operator:test")
        assert sweep.copies_erased >= 1 and consent_id not in sweep.keys_shredded
        rows = await raw_rows(stack, consent_id)
        assert rows["releases"] == {} and rows["wrapped_key"] is not None
    assert await key_shredded_leaves(stack, consent_id) == []
    # The live consent keeps what its next release needs.
    async with stack.context.sessionmaker() as session:
        consent = await session.get(Consent, consent_id)
        assert consent is not None
        assert await consent_keys.open_identity(session, stack.context, consent) is not None


async def test_after_expiry_the_key_lives_until_the_last_delete_by_then_is_shredded(
    stack: Stack,
) -> None:
    now = datetime.now(UTC)
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, auth = await stack.active_consent(lender)
        release = await lender.release(consent_id)
    # The consent expired an hour ago; the lender may keep the release for a day more.
    expired_at, delete_by = now - timedelta(hours=1), now + timedelta(days=1)
    await set_times(stack, consent_id, valid_until=expired_at, delete_by=delete_by)
    view = (await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
    assert view["status"] == "EXPIRED" and view["data_deleted_at"] is None
    assert view["accesses"][0]["values"] == release.features

    # Then the delete_by passes too: everything reads as deleted at that moment, sweep or not.
    delete_by = now - timedelta(minutes=5)
    await set_times(stack, consent_id, delete_by=delete_by)
    view = (await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
    assert datetime.fromisoformat(view["data_deleted_at"]) == delete_by
    assert view["accesses"][0]["values"] is None
    async with stack.context.sessionmaker() as session:
        assert await consent_keys.data_key(session, stack.context, consent_id) is None
    assert (await raw_rows(stack, consent_id))["wrapped_key"] is not None

    async with stack.context.sessionmaker() as session, session.begin():
        sweep = await protection_service.shred_expired(session, actor="operator:test")
    assert consent_id in sweep.keys_shredded
    assert (await raw_rows(stack, consent_id))["wrapped_key"] is None
    [shredded] = await key_shredded_leaves(stack, consent_id)
    assert (shredded["actor"], shredded["reason"]) == ("operator:test", "data life ended")
    # The borrower's view keeps the same answer after the sweep.
    view = (await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
    assert datetime.fromisoformat(view["data_deleted_at"]) == delete_by

    # A second sweep finds nothing more to do.
    async with stack.context.sessionmaker() as session, session.begin():
        again = await protection_service.shred_expired(session, actor="operator:test")
    assert consent_id not in again.keys_shredded
    assert len(await key_shredded_leaves(stack, consent_id)) == 1


async def test_an_unanswered_request_is_shredded_once_it_expires(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent = await lender.request_consent(stack.consent_body(stack.person()))
    consent_id = consent["consent_id"]
    async with stack.context.sessionmaker() as session, session.begin():
        sweep = await protection_service.shred_expired(session, actor="operator:test")
    assert consent_id not in sweep.keys_shredded
    await set_times(stack, consent_id, request_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    async with stack.context.sessionmaker() as session, session.begin():
        sweep = await protection_service.shred_expired(session, actor="operator:test")
    assert consent_id in sweep.keys_shredded
    assert (await raw_rows(stack, consent_id))["wrapped_key"] is None
