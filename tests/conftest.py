"""Shared fixtures: a whole gateway per database backend, wired to in-process simulators.

Every API test runs on SQLite and on PostgreSQL. PostgreSQL is used when
`LENDGATE_TEST_POSTGRES_URL` is set or a server answers on 127.0.0.1:5432; with
`CI=true` it is required, never skipped. Each run creates its own database and
drops it afterwards.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url

from connectors.simulators.population import Population
from gateway.audit.models import AuditEntry
from gateway.core.clock import ManualClock
from gateway.core.logging import configure_logging
from gateway.core.migrate import upgrade
from gateway.privacy.pii import redact_pii
from tests.protection.leaks import KnownIdentity, find_leaks
from tests.support import LogCapture, Stack, gateway_settings, gateway_stack

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SIMULATOR_SEED = 424242
SIMULATOR_POPULATION = 300
BACKENDS = ("sqlite", "postgresql")


def in_ci() -> bool:
    """Whether this run is CI's, where nothing may be skipped."""
    return os.environ.get("CI", "").lower() == "true"


def postgres_server_url() -> URL:
    """The PostgreSQL server test databases are created on."""
    return make_url(os.environ.get("LENDGATE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))


def _answers(url: URL) -> bool:
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=2):
            return True
    except OSError:
        return False


def require_postgres() -> URL:
    """The server URL, or a skip (a failure under CI) when none answers."""
    url = postgres_server_url()
    if not _answers(url):
        message = f"no PostgreSQL answers at {url.host}:{url.port or 5432}"
        if in_ci():
            pytest.fail(message + " (CI=true: PostgreSQL tests are mandatory)", pytrace=False)
        pytest.skip(message)
    return url


async def _admin_execute(server: URL, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(
        host=server.host,
        port=server.port or 5432,
        user=server.username,
        password=server.password,
        database=server.database,
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def create_postgres_database(
    server: URL, prefix: str = "lendgate_test", template: str | None = None
) -> str:
    """Create a database on `server` (empty, or a copy of `template`) and return its async URL."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    copy = f' TEMPLATE "{template}"' if template else ""
    await _admin_execute(server, f'CREATE DATABASE "{name}"{copy}')
    return server.set(drivername="postgresql+asyncpg", database=name).render_as_string(
        hide_password=False
    )


async def drop_postgres_database(server: URL, url: str) -> None:
    """Drop a database made by `create_postgres_database`."""
    await _admin_execute(server, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


_templates: dict[str, str] = {}
"""Per backend, a database the migrations built once this session; every test database copies it."""


async def _template(backend: str, directory: Path) -> str:
    """The migrated template of `backend` (built on first use): its URL."""
    if backend not in _templates:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{directory / 'template.db'}"
        else:
            url = await create_postgres_database(require_postgres(), "lendgate_template")
        await upgrade(url)
        _templates[backend] = url
    return _templates[backend]


@contextlib.asynccontextmanager
async def migrated_database(
    backend: str, directory: Path, prefix: str = "lendgate_test"
) -> AsyncIterator[str]:
    """A new database built by the migrations, dropped afterwards: its async URL.

    On SQLite a file in `directory`; on PostgreSQL a database named after `prefix` on the
    test server (a skip, or under CI a failure, when none answers). Either is a copy of
    the session's template, which the migrations built once.
    """
    if backend == "sqlite":
        template = make_url(await _template(backend, _template_directory()))
        path = directory / f"{prefix}.db"
        shutil.copyfile(str(template.database), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    server = require_postgres()
    template_name = make_url(await _template(backend, _template_directory())).database
    url = await create_postgres_database(server, prefix, template=template_name)
    try:
        yield url
    finally:
        await drop_postgres_database(server, url)


def _template_directory() -> Path:
    directory = Path(tempfile.gettempdir()) / f"lendgate-test-templates-{os.getpid()}"
    directory.mkdir(exist_ok=True)
    return directory


@pytest.fixture(scope="session", autouse=True)
async def database_templates() -> AsyncIterator[None]:
    """Drop the session's template databases when the run ends."""
    yield
    postgres = _templates.pop("postgresql", None)
    if postgres is not None:
        await drop_postgres_database(postgres_server_url(), postgres)
    _templates.clear()
    shutil.rmtree(_template_directory(), ignore_errors=True)


@pytest.fixture(scope="session")
def captured_logs() -> Iterator[LogCapture]:
    """Route structlog through the production processors (redactor included) into memory."""
    capture = LogCapture(io.StringIO())
    configure_logging("DEBUG", redact=redact_pii, stream=capture.stream)
    yield capture
    structlog.reset_defaults()


@pytest.fixture(scope="session", autouse=True)
def no_personal_data_in_logs_or_audit(captured_logs: LogCapture) -> Iterator[list[str]]:
    """After the whole run: no log line and no audit leaf of any test database holds personal data.

    Leaves are collected as they are written (in whatever database) and read back
    from each `stack` database before it is dropped; the check uses the gateway's
    recognizers and the exact values of every identity of the simulators' population.
    """
    leaves: list[str] = []

    def collect(_mapper: object, _connection: object, entry: AuditEntry) -> None:
        leaves.append(entry.leaf)

    event.listen(AuditEntry, "after_insert", collect)
    yield leaves
    event.remove(AuditEntry, "after_insert", collect)
    population = Population.generate(SIMULATOR_SEED, SIMULATOR_POPULATION)
    known = [
        KnownIdentity(person.name, person.id_number, person.phone)
        for person in map(population.get, population.id_numbers())
        if person is not None
    ]
    leaks = find_leaks(captured_logs.lines(), known, label="log line") + find_leaks(
        list(dict.fromkeys(leaves)), known, label="audit leaf"
    )
    if leaks:
        shown = "\n".join(str(leak) for leak in leaks[:50])
        pytest.fail(f"personal data in {len(leaks)} places:\n{shown}", pytrace=False)


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A fresh database built by the migrations, on each backend in turn."""
    async with migrated_database(request.param, tmp_path_factory.mktemp("sqlite")) as url:
        yield url


@pytest.fixture(scope="session")
def population() -> Population:
    """The simulators' small, seeded population (plus the sandbox identities)."""
    return Population.generate(SIMULATOR_SEED, SIMULATOR_POPULATION)


@pytest.fixture(scope="session")
async def stack(
    database_url: str,
    population: Population,
    tmp_path_factory: pytest.TempPathFactory,
    captured_logs: LogCapture,
    no_personal_data_in_logs_or_audit: list[str],
) -> AsyncIterator[Stack]:
    """A running gateway (in process) over the backend's database and the three simulators."""
    workdir = tmp_path_factory.mktemp("gateway")
    settings = gateway_settings(
        database_url,
        workdir,
        source_timeout_seconds=5.0,
        # Every test shares this gateway, one client address and the sandbox phones: the
        # OTP send limits are set out of reach here and tested with their defaults.
        otp_send_limit_per_phone=100_000,
        otp_send_limit_per_ip=100_000,
    )
    # Every leaf of this database, however it was written, is read before the database is dropped.
    async with gateway_stack(
        settings, population, leaves=no_personal_data_in_logs_or_audit
    ) as running:
        yield running


@pytest.fixture
def clock(stack: Stack) -> Iterator[ManualClock]:
    """The gateway's clock, standing at the time the test began until the test sets it."""
    running = stack.context.clock
    stack.context.clock = ManualClock(running.now())
    yield stack.context.clock
    stack.context.clock = running
