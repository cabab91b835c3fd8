"""A process at its database capacity answers at once: queued briefly, then `RateLimited`."""

from __future__ import annotations

import asyncio

import pytest

from gateway.core.db import Admission
from gateway.core.errors import RateLimited
from tests.support.stack import Stack


async def test_a_request_past_capacity_waits_its_turn_then_is_refused() -> None:
    admission = Admission(limit=2, wait_seconds=0.05)
    async with admission.slot(), admission.slot():
        with pytest.raises(RateLimited) as refused:
            async with admission.slot():
                pass
        assert refused.value.headers == {"Retry-After": "1"}
    # A waiter is admitted as soon as a slot frees, within its wait.
    queue = Admission(limit=1, wait_seconds=30)
    holding, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with queue.slot():
            holding.set()
            await release.wait()

    async def waiter() -> str:
        async with queue.slot():
            return "admitted"

    held = asyncio.create_task(holder())
    await holding.wait()
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    assert not waiting.done()
    release.set()
    assert await waiting == "admitted"
    await held


async def test_a_full_gateway_answers_rate_limited_and_writes_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    lender = stack.lender_client(await stack.register())
    consent_id, _, _ = await stack.active_consent(lender)
    token = await lender.access_token()
    entries_before = len(await stack.audit_leaves())
    full = Admission(limit=1, wait_seconds=0.01)
    monkeypatch.setattr(stack.context, "admission", full)
    async with full.slot():
        answer = await stack.http.post(
            f"/v1/consents/{consent_id}/releases",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert (answer.status_code, answer.json()["error"]) == (429, "RateLimited")
    assert answer.headers["retry-after"] == "1"
    assert await stack.release_count(consent_id) == 0
    assert len(await stack.audit_leaves()) == entries_before
    # Once a slot is free the same release goes through.
    released = await lender.release(consent_id)
    assert released.audit["leaf_index"] >= entries_before
    await lender.aclose()
