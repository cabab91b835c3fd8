"""Audit fixtures: a gateway over a database of its own (for tests that tamper with the log).

The shared `stack` keeps one database for the whole run; a test that rewrites
the log behind the gateway's back gets a fresh one here, on each backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.simulators.population import Population
from tests.conftest import BACKENDS, migrated_database
from tests.support import LogCapture, Stack, gateway_settings, gateway_stack


@pytest.fixture(params=BACKENDS)
async def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database built by the migrations, for this test alone."""
    async with migrated_database(request.param, tmp_path, "lendgate_audit") as url:
        yield url


@pytest.fixture
async def fresh_stack(
    fresh_database: str,
    population: Population,
    tmp_path: Path,
    captured_logs: LogCapture,
    no_personal_data_in_logs_or_audit: list[str],
) -> AsyncIterator[Stack]:
    """A gateway with its simulators over `fresh_database`."""
    settings = gateway_settings(fresh_database, tmp_path, audit_tree_head_interval_seconds=0)
    async with gateway_stack(
        settings, population, leaves=no_personal_data_in_logs_or_audit
    ) as fresh:
        yield fresh
