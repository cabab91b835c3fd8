"""Audit fixtures: a gateway over a database of its own (for tests that tamper with the log).

The shared `stack` keeps one database for the whole run; a test that rewrites
the log behind the gateway's back gets a fresh one here, on each backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from connectors.simulators.app import create_simulator_app
from connectors.simulators.population import Population
from gateway.app import create_app
from gateway.context import build_context
from gateway.migrate import upgrade
from gateway.settings import DEVELOPMENT_SOURCE_CREDENTIALS, Settings
from tests.conftest import (
    BACKENDS,
    BASE_URL,
    create_postgres_database,
    drop_postgres_database,
    require_postgres,
)
from tests.support import LogCapture, Stack


@pytest.fixture(params=BACKENDS)
async def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database built by the migrations, for this test alone."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
        await upgrade(url)
        yield url
        return
    server = require_postgres()
    url = await create_postgres_database(server, "lendgate_audit")
    try:
        await upgrade(url)
        yield url
    finally:
        await drop_postgres_database(server, url)


@pytest.fixture
async def fresh_stack(
    fresh_database: str, population: Population, tmp_path: Path, captured_logs: LogCapture
) -> AsyncIterator[Stack]:
    """A gateway with its simulators over `fresh_database`."""
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=fresh_database,
        issuer=BASE_URL,
        sms_outbox=tmp_path / "sms-outbox.jsonl",
        audit_tree_head_interval_seconds=0,
    )
    simulators = {
        source: create_simulator_app(source, credential=credential, population=population)
        for source, credential in DEVELOPMENT_SOURCE_CREDENTIALS.items()
    }
    transports = {source: httpx.ASGITransport(app=app) for source, app in simulators.items()}
    context = build_context(settings, source_transports=transports)
    app = create_app(context)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        yield Stack(
            app=app, context=context, http=http, population=population, simulators=simulators
        )
    await context.aclose()
