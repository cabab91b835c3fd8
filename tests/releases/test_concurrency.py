"""Concurrent releases on one consent: the budget check and the spend are one atomic step."""

from __future__ import annotations

import asyncio

from lendgate_sdk import LendgateAPIError

from tests.support.stack import Stack


async def test_concurrent_releases_on_a_one_time_consent_give_exactly_one(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        for _ in range(3):
            consent_id, _, _ = await stack.active_consent(lender)
            outcomes = await asyncio.gather(
                *(lender.release(consent_id) for _ in range(4)), return_exceptions=True
            )
            granted = [o for o in outcomes if not isinstance(o, BaseException)]
            refused = [o for o in outcomes if isinstance(o, LendgateAPIError)]
            assert len(granted) == 1, outcomes
            assert len(refused) == 3, outcomes
            # PostgreSQL's row lock makes the losers wait and then see the spent budget;
            # on SQLite the compare-and-swap on the release count turns them away.
            assert {error.code for error in refused} == {"FrequencyExceeded"}
            assert await stack.release_count(consent_id) == 1
            granted_events = [
                leaf
                for leaf in await stack.audit_leaves(consent_id)
                if leaf["type"] == "release.granted"
            ]
            assert len(granted_events) == 1
