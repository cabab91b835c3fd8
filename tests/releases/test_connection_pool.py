"""A burst of releases several times larger than the connection pool is answered in full.

A request holds one connection of the request pool from its first query to its commit.
Nothing it does meanwhile may wait for a second connection of that pool — counting its
rate-limit hit, spending a one-time value — or a burst as large as the pool would have
every request holding one connection and waiting for another, and the gateway would
stall until the pool's timeout. The shared store draws on a pool of its own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lendgate_sdk import Release

from connectors.simulators.population import Population
from tests.support.databases import migrated_database
from tests.support.stack import LogCapture, gateway_settings, gateway_stack

POOL = 2
BURST = 4 * POOL


async def test_a_burst_four_times_the_pool_is_answered_in_full(
    population: Population,
    tmp_path: Path,
    captured_logs: LogCapture,
    no_personal_data_in_logs_or_audit: list[str],
) -> None:
    logged_before = len(captured_logs.lines())
    async with migrated_database("postgresql", tmp_path, "lendgate_pool") as url:
        settings = gateway_settings(
            url,
            tmp_path,
            database_pool_size=POOL,
            database_max_overflow=0,
            otp_send_limit_per_phone=100_000,
            otp_send_limit_per_ip=100_000,
        )
        async with (
            gateway_stack(settings, population, leaves=no_personal_data_in_logs_or_audit) as stack,
            stack.lender_client(await stack.register()) as lender,
        ):
            consents = [(await stack.active_consent(lender))[0] for _ in range(BURST)]
            outcomes = await asyncio.gather(
                *(lender.release(consent_id) for consent_id in consents),
                return_exceptions=True,
            )
    released = [outcome for outcome in outcomes if isinstance(outcome, Release)]
    assert [outcome for outcome in outcomes if not isinstance(outcome, Release)] == []
    assert {release.consent_id for release in released} == set(consents)
    # The rate limit was counted for every request: its store never went missing.
    logged = captured_logs.lines()[logged_before:]
    assert not [line for line in logged if "store_unavailable" in line]
