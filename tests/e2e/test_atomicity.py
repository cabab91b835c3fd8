"""The budget and the state check are one atomic step, raced many times on each backend.

PostgreSQL: a release holds its consent's row (`SELECT … FOR UPDATE`) from the state
check to the commit, so releases, pauses and revocations of one consent take turns.
SQLite has no row locks: releases run side by side and are decided at the
compare-and-swap on the release count, which also requires the consent to be ACTIVE;
a loser is judged again against the consent as it then stands, under SQLite's single
writer. Either way: one release on a one-time consent, and none recorded after a
revocation or a pause.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
from lendgate_sdk import LendgateAPIError, LendgateClient
from sqlalchemy import select

from gateway.releases.models import Release
from tests.support.lifecycle import set_consent, stored
from tests.support.stack import Stack

# Bounded: each race is a handful of releases through the whole pipeline.
ONE_TIME_RACES = 15
STATE_RACES = 12
RACERS = 4


async def later(call: Awaitable[Any], delay: float) -> Any:
    """`call`, started after `delay` seconds (shuffles who gets there first)."""
    await asyncio.sleep(delay)
    return await call


async def releases_of(stack: Stack, consent_id: str) -> list[Release]:
    async with stack.context.sessionmaker() as session:
        query = select(Release).where(Release.consent_id == consent_id)
        return list((await session.scalars(query)).all())


async def test_concurrent_releases_on_a_one_time_consent_give_exactly_one(stack: Stack) -> None:
    started = time.perf_counter()
    async with stack.lender_client(await stack.register()) as lender:
        consents = [(await stack.active_consent(lender))[0] for _ in range(ONE_TIME_RACES)]
        for consent_id in consents:
            outcomes = await asyncio.gather(
                *(
                    later(lender.release(consent_id), random.uniform(0, 0.01))
                    for _ in range(RACERS)
                ),
                return_exceptions=True,
            )
            granted = [o for o in outcomes if not isinstance(o, BaseException)]
            refused = [o for o in outcomes if isinstance(o, LendgateAPIError)]
            assert (len(granted), len(refused)) == (1, RACERS - 1), outcomes
            assert {error.code for error in refused} == {"FrequencyExceeded"}
            [kept] = await releases_of(stack, consent_id)
            assert kept.id == granted[0].release_id
            assert (await stored(stack, consent_id)).release_count == 1
            granted_leaves = [
                leaf
                for leaf in await stack.audit_leaves(consent_id)
                if leaf["type"] == "release.granted"
            ]
            assert [leaf["seq"] for leaf in granted_leaves] == [kept.leaf_index]
    assert time.perf_counter() - started < 60


async def many_times_a_day(stack: Stack, lender: LendgateClient) -> tuple[str, dict[str, str]]:
    """An active consent whose budget never runs out during a race.

    No shipped purpose allows more than one release a month, so the terms are widened
    in the database: the race is about state, not budget.
    """
    consent_id, _, auth = await stack.active_consent(
        lender, purpose="post_loan_monitoring", features=["si_active"], fetch_type="PERIODIC"
    )
    await set_consent(stack, consent_id, frequency_unit="DAY", frequency_value=1000)
    return consent_id, auth


@pytest.mark.parametrize(
    ("action", "event", "code"),
    [
        ("revoke", "consent.revoked", "ConsentRevoked"),
        ("pause", "consent.paused", "ConsentPaused"),
    ],
)
async def test_no_release_is_recorded_after_a_racing_revoke_or_pause(
    stack: Stack, action: str, event: str, code: str
) -> None:
    started = time.perf_counter()
    before_and_after = 0
    async with stack.lender_client(await stack.register()) as lender:
        for _ in range(STATE_RACES):
            consent_id, auth = await many_times_a_day(stack, lender)
            decision = stack.http.post(f"/v1/borrower/consents/{consent_id}/{action}", headers=auth)
            outcomes = await asyncio.gather(
                *(
                    later(lender.release(consent_id), random.uniform(0, 0.05))
                    for _ in range(RACERS)
                ),
                later(decision, random.uniform(0, 0.05)),
                return_exceptions=True,
            )
            answer = outcomes[-1]
            assert isinstance(answer, httpx.Response) and answer.status_code == 200, answer
            granted = [o for o in outcomes[:-1] if not isinstance(o, BaseException)]
            refused = [o for o in outcomes[:-1] if isinstance(o, LendgateAPIError)]
            assert len(granted) + len(refused) == RACERS, outcomes
            assert {error.code for error in refused} <= {code}

            leaves = await stack.audit_leaves(consent_id)
            [decided] = [leaf["seq"] for leaf in leaves if leaf["type"] == event]
            granted_at = [leaf["seq"] for leaf in leaves if leaf["type"] == "release.granted"]
            records = await releases_of(stack, consent_id)
            assert all(seq < decided for seq in granted_at), (granted_at, decided)
            assert all(release.leaf_index < decided for release in records)
            assert sorted(release.leaf_index for release in records) == sorted(granted_at)
            assert len(records) == len(granted) == (await stored(stack, consent_id)).release_count
            before_and_after += bool(granted) and bool(refused)
    # The races really interleave: some releases got in before the decision, some did not.
    assert before_and_after >= 1
    assert time.perf_counter() - started < 60
