"""Test databases: built by the migrations once per backend, copied for each use, dropped after.

Every API test runs on SQLite and on PostgreSQL. PostgreSQL is used when
`LENDGATE_TEST_POSTGRES_URL` is set or a server answers on 127.0.0.1:5432; with
`CI=true` it is required, never skipped. Each run creates its own databases and
drops them afterwards.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from gateway.core.migrate import upgrade

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
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


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A fresh database built by the migrations, on each backend in turn."""
    async with migrated_database(request.param, tmp_path_factory.mktemp("sqlite")) as url:
        yield url


@pytest.fixture(params=BACKENDS)
async def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database built by the migrations, for this test alone."""
    async with migrated_database(request.param, tmp_path, "lendgate_audit") as url:
        yield url
