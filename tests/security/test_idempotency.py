"""Safe retries: `Idempotency-Key` on consent requests and releases.

A lender whose answer was lost retries with the same key and gets the first answer: one
consent, one release, one budget spent, one `release.granted`; concurrent duplicates too.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from consent.models import Consent
from gateway.core.clock import ManualClock
from gateway.jobs.scheduler import JOBS
from gateway.security.models import IdempotencyRecord
from tests.support.stack import RegisteredClient, Stack


async def bearer(stack: Stack, registered: RegisteredClient) -> dict[str, str]:
    async with stack.lender_client(registered) as lender:
        return {"Authorization": f"Bearer {await lender.access_token()}"}


def keyed(auth: dict[str, str], key: str) -> dict[str, str]:
    return {**auth, "Idempotency-Key": key}


async def consent_count(stack: Stack, lender_id: str) -> int:
    async with stack.context.sessionmaker() as session:
        query = select(func.count()).select_from(Consent).where(Consent.lender_id == lender_id)
        return int(await session.scalar(query) or 0)


async def active(stack: Stack, auth: dict[str, str], **overrides: Any) -> str:
    """A consent of the lender behind `auth`, approved by its borrower."""
    person = stack.person()
    created = await stack.http.post(
        "/v1/consent-requests", json=stack.consent_body(person, **overrides), headers=auth
    )
    assert created.status_code == 201, created.text
    consent_id: str = created.json()["consent_id"]
    approved = await stack.approve(
        consent_id, person.phone, await stack.borrower_login(person.phone)
    )
    assert approved.status_code == 200, approved.text
    return consent_id


async def test_a_retried_consent_request_answers_the_first_consent(stack: Stack) -> None:
    registered = await stack.register()
    auth = await bearer(stack, registered)
    body, key = stack.consent_body(stack.person()), uuid.uuid4().hex
    first = await stack.http.post("/v1/consent-requests", json=body, headers=keyed(auth, key))
    again = await stack.http.post("/v1/consent-requests", json=body, headers=keyed(auth, key))
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    assert await consent_count(stack, registered.client_id) == 1
    consent_id = first.json()["consent_id"]
    assert (await stack.audit_types(consent_id)).count("consent.requested") == 1

    other = stack.consent_body(stack.person())
    refused = await stack.http.post("/v1/consent-requests", json=other, headers=keyed(auth, key))
    assert (refused.status_code, refused.json()["error"]) == (422, "InvalidRequest")
    assert await consent_count(stack, registered.client_id) == 1
    # Without a key every request is its own.
    plain = await stack.http.post("/v1/consent-requests", json=body, headers=auth)
    assert plain.status_code == 201 and plain.json()["consent_id"] != consent_id


async def test_keys_belong_to_one_client(stack: Stack) -> None:
    first, second = await stack.register(), await stack.register()
    key = uuid.uuid4().hex
    for registered in (first, second):
        auth = await bearer(stack, registered)
        answer = await stack.http.post(
            "/v1/consent-requests",
            json=stack.consent_body(stack.person()),
            headers=keyed(auth, key),
        )
        assert answer.status_code == 201, answer.text
        assert await consent_count(stack, registered.client_id) == 1


async def test_a_retried_release_answers_the_same_payload_and_spends_nothing(
    stack: Stack,
) -> None:
    registered = await stack.register()
    auth = await bearer(stack, registered)
    consent_id = await active(stack, auth)  # ONETIME: one release ever
    key, url = uuid.uuid4().hex, f"/v1/consents/{consent_id}/releases"
    first = await stack.http.post(url, json={}, headers=keyed(auth, key))
    again = await stack.http.post(url, json={}, headers=keyed(auth, key))
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json() == first.json()
    assert await stack.release_count(consent_id) == 1
    assert (await stack.audit_types(consent_id)).count("release.granted") == 1
    consent = await stack.http.get(f"/v1/consents/{consent_id}", headers=auth)
    assert consent.json()["use_count"] == 1

    narrowed = await stack.http.post(
        url, json={"features": ["si_active"]}, headers=keyed(auth, key)
    )
    assert (narrowed.status_code, narrowed.json()["error"]) == (422, "InvalidRequest")
    # A new key is a new release, refused by the spent budget.
    fresh = await stack.http.post(url, json={}, headers=keyed(auth, uuid.uuid4().hex))
    assert (fresh.status_code, fresh.json()["error"]) == (429, "FrequencyExceeded")
    assert await stack.release_count(consent_id) == 1


async def test_concurrent_duplicates_get_the_first_answer(stack: Stack) -> None:
    registered = await stack.register()
    auth = await bearer(stack, registered)
    consent_id = await active(stack, auth)
    key = uuid.uuid4().hex
    answers = await asyncio.gather(
        *(
            stack.http.post(
                f"/v1/consents/{consent_id}/releases", json={}, headers=keyed(auth, key)
            )
            for _ in range(5)
        )
    )
    assert [answer.status_code for answer in answers] == [200] * 5, [a.text for a in answers]
    assert len({answer.json()["release_id"] for answer in answers}) == 1
    assert await stack.release_count(consent_id) == 1
    assert (await stack.audit_types(consent_id)).count("release.granted") == 1


async def test_a_refused_request_gives_its_key_back(stack: Stack) -> None:
    registered = await stack.register()
    auth = await bearer(stack, registered)
    person = stack.person()
    created = await stack.http.post(
        "/v1/consent-requests", json=stack.consent_body(person), headers=auth
    )
    consent_id, key = created.json()["consent_id"], uuid.uuid4().hex
    url = f"/v1/consents/{consent_id}/releases"
    pending = await stack.http.post(url, json={}, headers=keyed(auth, key))
    assert (pending.status_code, pending.json()["error"]) == (403, "ConsentPending")
    await stack.approve(consent_id, person.phone, await stack.borrower_login(person.phone))
    granted = await stack.http.post(url, json={}, headers=keyed(auth, key))
    assert granted.status_code == 200, granted.text
    assert await stack.release_count(consent_id) == 1


async def test_no_release_is_answered_again_after_a_revocation(stack: Stack) -> None:
    registered = await stack.register()
    auth = await bearer(stack, registered)
    consent_id = await active(stack, auth)
    key, url = uuid.uuid4().hex, f"/v1/consents/{consent_id}/releases"
    assert (await stack.http.post(url, json={}, headers=keyed(auth, key))).status_code == 200
    revoked = await stack.http.post(f"/v1/consents/{consent_id}/revoke", headers=auth)
    assert revoked.status_code == 200, revoked.text
    again = await stack.http.post(url, json={}, headers=keyed(auth, key))
    assert (again.status_code, again.json()["error"]) == (403, "ConsentRevoked")
    assert "jwe" not in again.text


@pytest.mark.parametrize("key", ["", "a b", "k" * 256, "ключ", "a\tb"])
async def test_a_malformed_key_is_invalid_request(stack: Stack, key: str) -> None:
    registered = await stack.register()
    auth = await bearer(stack, registered)
    headers = [(name.encode(), value.encode()) for name, value in auth.items()]
    headers.append((b"Idempotency-Key", key.encode()))
    answer = await stack.http.post(
        "/v1/consent-requests",
        json=stack.consent_body(stack.person()),
        headers=httpx.Headers(headers),
    )
    assert (answer.status_code, answer.json()["error"]) == (422, "InvalidRequest")
    assert await consent_count(stack, registered.client_id) == 0


async def test_the_sdk_sends_a_key_and_retries_with_it(stack: Stack) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        consent = await lender.request_consent(stack.consent_body(stack.person()))
        body = stack.consent_body(stack.person())
        first = await lender.request_consent(body, idempotency_key="order-42")
        again = await lender.request_consent(body, idempotency_key="order-42")
    assert again["consent_id"] == first["consent_id"] != consent["consent_id"]
    async with stack.context.sessionmaker() as session:
        keys = (
            await session.scalars(
                select(IdempotencyRecord.key).where(
                    IdempotencyRecord.client_id == registered.client_id
                )
            )
        ).all()
    assert len(keys) == 2 and "order-42" in keys


async def test_the_scheduled_purge_deletes_expired_keys_and_keeps_fresh_ones(
    stack: Stack, clock: ManualClock
) -> None:
    registered = await stack.register()
    auth = await bearer(stack, registered)
    keep = timedelta(hours=stack.context.settings.idempotency_keep_hours)
    (purge,) = [job for job in JOBS if job.name == "security.purge_idempotency_keys"]
    assert purge.interval(stack.context.settings) > 0

    started = clock.at
    expired, fresh = uuid.uuid4().hex, uuid.uuid4().hex
    answers = {}
    for key, at in ((expired, started), (fresh, started + keep - timedelta(hours=1))):
        clock.at = at
        body = stack.consent_body(stack.person())
        answer = await stack.http.post("/v1/consent-requests", json=body, headers=keyed(auth, key))
        assert answer.status_code == 201, answer.text
        answers[key] = (body, answer.json())

    clock.at = started + keep + timedelta(seconds=1)
    purged = await purge.run(stack.context)
    assert isinstance(purged, int) and purged >= 1
    async with stack.context.sessionmaker() as session:
        kept = await session.scalars(
            select(IdempotencyRecord.key).where(IdempotencyRecord.client_id == registered.client_id)
        )
        assert set(kept) == {fresh}
    # The fresh key still answers its first consent; the purged one is free for new work.
    body, first = answers[fresh]
    again = await stack.http.post("/v1/consent-requests", json=body, headers=keyed(auth, fresh))
    assert again.status_code == 201 and again.json() == first
    body, first = answers[expired]
    new = await stack.http.post("/v1/consent-requests", json=body, headers=keyed(auth, expired))
    assert new.status_code == 201 and new.json()["consent_id"] != first["consent_id"]
