"""Data life: lenders attest deletion of what a release gave them; regulators see who is late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lendgate_sdk import LendgateAPIError
from sqlalchemy import update

from gateway.releases.models import Release
from tests.support.stack import RegisteredClient, Stack


async def set_delete_by(stack: Stack, release_id: str, delete_by: datetime) -> None:
    async with stack.context.sessionmaker() as session, session.begin():
        await session.execute(
            update(Release).where(Release.id == release_id).values(delete_by=delete_by)
        )


async def overdue(stack: Stack, regulator: RegisteredClient, **params: Any) -> dict[str, Any]:
    async with stack.regulator_client(regulator) as client:
        token = await client.access_token()
    answer = await stack.http.get(
        "/v1/audit/deletion-attestations/overdue",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_lender_attests_deletion_once_and_it_is_on_the_log(stack: Stack) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        consent_id, _, auth = await stack.active_consent(lender)
        release = await lender.release(consent_id)
        attested = await lender.attest_deletion(release.release_id)
        again = await lender.attest_deletion(release.release_id)
    assert attested["release_id"] == release.release_id
    assert attested["consent_id"] == consent_id
    assert attested["on_time"] is True
    assert again == attested
    leaves = await stack.audit_leaves(consent_id)
    [granted] = [leaf for leaf in leaves if leaf["type"] == "release.granted"]
    [event] = [leaf for leaf in leaves if leaf["type"] == "deletion.attested"]
    assert event["seq"] == attested["audit"]["leaf_index"]
    assert event["payload_digest"] == granted["payload_digest"]
    assert (event["actor"], event["outcome"]) == (f"lender:{registered.client_id}", "ok")
    assert release.release_id in event["reason"]
    # The borrower sees the attestation next to the access.
    view = (await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
    assert view["accesses"][0]["deletion_attested_at"] == attested["attested_at"]


async def test_another_lenders_release_is_not_found_and_nothing_is_written(stack: Stack) -> None:
    owner, intruder = await stack.register(), await stack.register(name="另一家机构")
    async with stack.lender_client(owner) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
    before = await stack.audit_types(consent_id)
    async with stack.lender_client(intruder) as other:
        with pytest.raises(LendgateAPIError) as foreign:
            await other.attest_deletion(release.release_id)
        with pytest.raises(LendgateAPIError) as missing:
            await other.attest_deletion("rel_" + "0" * 24)
    assert (foreign.value.status, foreign.value.code) == (404, "ConsentNotFound")
    assert (missing.value.status, missing.value.code, missing.value.detail) == (
        foreign.value.status,
        foreign.value.code,
        foreign.value.detail,
    )
    assert await stack.audit_types(consent_id) == before


async def test_an_attestation_carries_no_free_text(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
        with pytest.raises(LendgateAPIError) as refused:
            await lender.attest_deletion(release.release_id, {"note": "all gone"})
    assert (refused.value.status, refused.value.code) == (422, "InvalidRequest")
    assert "deletion.attested" not in await stack.audit_types(consent_id)


async def test_regulators_see_overdue_attestations_until_they_come_late(stack: Stack) -> None:
    registered, regulator = await stack.register(), await stack.register("regulator", "监管")
    async with stack.lender_client(registered) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
        due = datetime.now(UTC) - timedelta(days=2)
        await set_delete_by(stack, release.release_id, due)

        listed = await overdue(stack, regulator, lender_id=registered.client_id)
        [item] = listed["releases"]
        assert (item["release_id"], item["consent_id"]) == (release.release_id, consent_id)
        assert datetime.fromisoformat(item["delete_by"]) == due
        assert 1.9 < item["overdue_days"] < 2.1
        assert item["leaf_index"] == release.audit["leaf_index"]

        late = await lender.attest_deletion(release.release_id)
    assert late["on_time"] is False
    [event] = [
        leaf for leaf in await stack.audit_leaves(consent_id) if leaf["type"] == "deletion.attested"
    ]
    assert event["outcome"] == "late"
    async with stack.regulator_client(regulator) as client:
        after = await client.overdue_deletion_attestations(lender_id=registered.client_id)
    assert after["releases"] == []
    reads = [
        leaf
        for leaf in await stack.audit_leaves()
        if leaf["type"] == "audit.read" and leaf["actor"] == f"regulator:{regulator.client_id}"
    ]
    assert len(reads) == 2
    assert reads[0]["reason"] == f"deletion-attestations/overdue lender_id={registered.client_id}"


async def test_overdue_pages_follow_the_deadline(stack: Stack) -> None:
    registered, regulator = await stack.register(), await stack.register("regulator", "监管")
    due = datetime.now(UTC) - timedelta(days=1)
    released = []
    async with stack.lender_client(registered) as lender:
        for offset in range(3):
            consent_id, _, _ = await stack.active_consent(lender)
            release = await lender.release(consent_id)
            await set_delete_by(stack, release.release_id, due - timedelta(hours=offset))
            released.append(release.release_id)
    first = await overdue(stack, regulator, lender_id=registered.client_id, limit=2)
    second = await overdue(
        stack, regulator, lender_id=registered.client_id, limit=2, cursor=first["next_cursor"]
    )
    pages = [item["release_id"] for item in first["releases"] + second["releases"]]
    assert pages == list(reversed(released))
    assert second["next_cursor"] is None


async def test_only_regulators_read_the_overdue_list(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        token = await lender.access_token()
    answer = await stack.http.get(
        "/v1/audit/deletion-attestations/overdue", headers={"Authorization": f"Bearer {token}"}
    )
    assert (answer.status_code, answer.json()["error"]) == (403, "InsufficientScope")
