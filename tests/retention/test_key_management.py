"""Key rotation while the gateway serves: KEKs re-wrapped and resumed, signing keys retired.

The operator's commands run as another process would: their own `FileKms` over
the same key directory, their own transactions over the same database.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from lendgate_sdk import jose
from sqlalchemy import select, text

from consent import keys as consent_keys
from consent.models import Consent
from consent.notifications import service as notifications_service
from gateway.crypto.keys import KEK_DIR, ROOT_SECRET_FILE, add_signing_key
from gateway.crypto.kms import FileKms, KekUnavailable, wrapping_kek_id
from gateway.retention import repository
from gateway.retention import service as protection_service
from gateway.retention.models import KekRotation
from tests.support.stack import Stack, gateway_stack

OPERATOR = "operator:test"
TOKEN_LIFETIME = timedelta(minutes=5, seconds=30)


class Interrupted(Exception):
    """The operator's run dies (a crash, a Ctrl-C) between two batches."""


async def wrapped_keys(stack: Stack) -> dict[str, bytes | None]:
    """Every consent's wrapped data key as the database holds it (None once shredded)."""
    async with stack.context.engine.connect() as connection:
        rows = await connection.execute(text("SELECT consent_id, wrapped_key FROM consent_keys"))
        return {row.consent_id: bytes(row.wrapped_key) if row.wrapped_key else None for row in rows}


async def leaves_of_type(stack: Stack, type_: str) -> list[dict[str, Any]]:
    """Audit leaves of one event type."""
    return [leaf for leaf in await stack.audit_leaves() if leaf["type"] == type_]


async def test_kek_rotation_rewraps_every_data_key_online_and_resumes(stack: Stack) -> None:
    operator_kms = FileKms(stack.context.settings.resolved_key_dir / KEK_DIR)
    old_kek = operator_kms.active_kek_id
    rotations_before = len(await leaves_of_type(stack, "key.rotated"))
    async with stack.lender_client(await stack.register()) as lender:
        kept = [await stack.active_consent(lender) for _ in range(3)]
        revoked_id, _, revoked_auth = await stack.active_consent(lender)
        await stack.http.post(f"/v1/borrower/consents/{revoked_id}/revoke", headers=revoked_auth)
        backup = await wrapped_keys(stack)  # a database backup taken before the rotation

        def crash(rewrapped: int) -> None:
            raise Interrupted

        with pytest.raises(Interrupted):
            await protection_service.rotate_kek(
                stack.context.sessionmaker,
                operator_kms,
                actor=OPERATOR,
                batch_size=2,
                on_batch=crash,
            )
        new_kek = operator_kms.active_kek_id
        assert new_kek != old_kek
        async with stack.context.sessionmaker() as session:
            [marker] = (
                await session.scalars(select(KekRotation).where(KekRotation.kek_id == new_kek))
            ).all()
        assert marker.finished_at is None and marker.last_consent_id is not None
        assert marker.rewrapped == 2

        # Half-way through, the gateway serves: old and new wraps open, new keys use the new KEK.
        release = await lender.release(kept[0][0])
        fresh_id, _, _ = await stack.active_consent(lender)
        assert wrapping_kek_id(await_key(await wrapped_keys(stack), fresh_id)) == new_kek

        report = await protection_service.rotate_kek(
            stack.context.sessionmaker, operator_kms, actor=OPERATOR, batch_size=2
        )
    assert report.resumed and report.kek_id == new_kek and report.unreadable == []
    after = await wrapped_keys(stack)
    assert {wrapping_kek_id(key) for key in after.values() if key is not None} == {new_kek}
    assert after[revoked_id] is None  # re-wrapping never revives a shredded key
    auth = kept[0][2]
    view = await stack.http.get(f"/v1/borrower/consents/{kept[0][0]}", headers=auth)
    assert view.json()["accesses"][0]["values"] == release.features

    rotated = await leaves_of_type(stack, "key.rotated")
    assert len(rotated) == rotations_before + 1  # the resumed run started nothing new
    assert new_kek in rotated[-1]["reason"] and old_kek in rotated[-1]["reason"]
    [rewrapped] = [
        leaf for leaf in await leaves_of_type(stack, "key.rewrapped") if new_kek in leaf["reason"]
    ]
    assert rewrapped["actor"] == OPERATOR

    # The replaced KEK is destroyed: the live database still opens, the old backup does not.
    retirement = await protection_service.retire_keks(
        stack.context.sessionmaker, operator_kms, actor=OPERATOR
    )
    assert old_kek in retirement.retired and old_kek not in operator_kms.kek_ids()
    assert any(old_kek in leaf["reason"] for leaf in await leaves_of_type(stack, "key.retired"))
    async with stack.context.sessionmaker() as session:
        for consent_id, _, _ in kept:
            assert await consent_keys.data_key(session, stack.context, consent_id) is not None
    old_wrap = await_key(backup, kept[1][0])
    with pytest.raises(KekUnavailable):
        stack.context.keys.kms.unwrap(old_wrap, kept[1][0].encode())


def await_key(keys: dict[str, bytes | None], consent_id: str) -> bytes:
    """A consent's wrapped key from a snapshot, which must exist."""
    key = keys[consent_id]
    assert key is not None
    return key


async def test_kek_retirement_waits_for_an_unfinished_rotation(stack: Stack) -> None:
    operator_kms = FileKms(stack.context.settings.resolved_key_dir / KEK_DIR)
    async with stack.lender_client(await stack.register()) as lender:
        await stack.active_consent(lender)

    def crash(rewrapped: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        await protection_service.rotate_kek(
            stack.context.sessionmaker, operator_kms, actor=OPERATOR, batch_size=1, on_batch=crash
        )
    before = operator_kms.kek_ids()
    with pytest.raises(protection_service.RotationInProgress):
        await protection_service.retire_keks(
            stack.context.sessionmaker, operator_kms, actor=OPERATOR
        )
    assert operator_kms.kek_ids() == before
    report = await protection_service.rotate_kek(
        stack.context.sessionmaker, operator_kms, actor=OPERATOR
    )
    assert report.resumed


async def test_a_key_shredded_while_being_rewrapped_stays_shredded(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, auth = await stack.active_consent(lender)
    kms = stack.context.keys.kms
    read = await_key(await wrapped_keys(stack), consent_id)
    rewrapped = kms.wrap(kms.unwrap(read, consent_id.encode()), consent_id.encode())
    # The borrower revokes between the rotation's read and its write.
    await stack.http.post(f"/v1/borrower/consents/{consent_id}/revoke", headers=auth)
    async with stack.context.sessionmaker() as session, session.begin():
        swapped = await repository.swap_wrapped_key(
            session, consent_id, expected=read, replacement=rewrapped
        )
    assert swapped is False
    assert (await wrapped_keys(stack))[consent_id] is None


def share_keks(source_dir: Path, key_dir: Path) -> None:
    """A key directory with the KEKs and root secret of `source_dir` but no signing key."""
    key_dir.mkdir(mode=0o700)
    (key_dir / KEK_DIR).symlink_to(source_dir / KEK_DIR, target_is_directory=True)
    shutil.copy2(source_dir / ROOT_SECRET_FILE, key_dir / ROOT_SECRET_FILE)


@asynccontextmanager
async def replica(stack: Stack, key_dir: Path) -> AsyncIterator[Stack]:
    """Another gateway over the same database and KEKs, with signing keys of its own."""
    share_keks(stack.context.settings.resolved_key_dir, key_dir)
    settings = stack.context.settings.model_copy(update={"key_dir": key_dir})
    async with gateway_stack(settings, stack.population, simulators=stack.simulators) as gateway:
        yield gateway


async def published_kids(gateway: Stack) -> set[str]:
    """The kids the running gateway publishes in its JWKS."""
    answer = await gateway.http.get("/.well-known/jwks.json")
    return {key["kid"] for key in answer.json()["keys"]}


async def retire(gateway: Stack, now: datetime, *, dry_run: bool = True) -> Any:
    """The retirement decision at `now`."""
    async with gateway.context.sessionmaker() as session, session.begin():
        return await protection_service.retire_signing_keys(
            session,
            gateway.context.keys,
            actor=OPERATOR,
            token_lifetime=TOKEN_LIFETIME,
            now=now,
            dry_run=dry_run,
        )


async def test_old_signing_keys_stay_published_while_anything_they_signed_is_valid(
    stack: Stack, tmp_path: Path
) -> None:
    key_dir = tmp_path / "keys"
    async with replica(stack, key_dir) as gateway:
        old = gateway.context.keys.signing_key.kid
        registered = await gateway.register()
        async with gateway.lender_client(registered) as lender:
            consent_id, _, _ = await gateway.active_consent(lender)
            old_token = await lender.access_token()
            await lender.release(consent_id)

            # The operator rotates from another process; the running gateway follows at once.
            new = add_signing_key(key_dir)
            assert await published_kids(gateway) == {old, new}
            assert gateway.context.keys.signing_key.kid == new
            consent = await lender.get_consent(consent_id)  # still on the token `old` signed
            assert jose.unverified_kid(consent["artefact"]) == old

        now = datetime.now(UTC)
        async with gateway.context.sessionmaker() as session:
            row = await session.get(Consent, consent_id)
            assert row is not None
            valid_until = row.valid_until
        assert (await retire(gateway, now)).kept == {old: "tokens it signed may still be presented"}
        assert (await retire(gateway, now + timedelta(hours=1))).kept == {
            old: "a consent artefact it signed is still valid"
        }
        assert (await retire(gateway, valid_until + timedelta(seconds=1))).kept == {
            old: "a release it may have signed is inside its data life"
        }

        # The lender's notifications it signed wait for their receiver; once delivered, the
        # key is free (consent/notifications).
        later = now + timedelta(days=3650)
        assert (await retire(gateway, later)).kept == {
            old: "a lender notification it signed still awaits delivery"
        }
        gateway.context.notification_transport = httpx.MockTransport(lambda _: httpx.Response(204))
        await notifications_service.dispatch_due(
            gateway.context, now=later, lender_id=registered.client_id
        )

        # Long after everything it signed has expired, the key is retired for real.
        outcome = await retire(gateway, later, dry_run=False)
        assert outcome.retired == [old]
        assert await published_kids(gateway) == {new}
        assert not (key_dir / "signing" / f"{old}.pem").exists()
        archived = gateway.context.keys.retired_jwks()
        assert [key["kid"] for key in archived["keys"]] == [old]
        assert all("d" not in key for key in archived["keys"])
        # Old records still verify against the archive; old tokens are refused.
        claims = jose.verify_jwt(
            consent["artefact"], archived, audience=registered.client_id, issuer="lendgate"
        )
        assert claims["sub"] == consent_id
        refused = await gateway.http.get(
            f"/v1/consents/{consent_id}", headers={"Authorization": f"Bearer {old_token}"}
        )
        assert (refused.status_code, refused.json()["error"]) == (401, "InvalidToken")
    [retired] = [
        leaf for leaf in await leaves_of_type(stack, "key.retired") if old in leaf["reason"]
    ]
    assert retired["actor"] == OPERATOR
