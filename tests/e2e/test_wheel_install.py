"""`pip install ./sdk .` (no editable install) outside the checkout: migrate and serve."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import free_port
from tests.support.venvs import REPO, fresh_venv, installed_modules

pytestmark = pytest.mark.install


@pytest.fixture(scope="module")
def gateway_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_venv(tmp_path_factory.mktemp("wheel") / "venv", str(REPO / "sdk"), str(REPO))


def installed_env(workdir: Path, **settings: str) -> dict[str, str]:
    """An environment naming only this test's data directory and database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LENDGATE_")}
    env.update(
        LENDGATE_DATA_DIR=str(workdir / "data"),
        LENDGATE_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'lendgate.db'}",
        **settings,
    )
    return env


def test_the_code_and_migrations_come_from_the_installed_wheel(
    gateway_bin: Path, tmp_path: Path
) -> None:
    found = installed_modules(gateway_bin, ("gateway", "migrations", "lendgate_sdk"), tmp_path)

    assert all(str(origin).startswith(str(gateway_bin.parent)) for origin in found.values())
    versions = Path(str(found["migrations"])).parent / "versions"
    assert sorted(versions.glob("0001_*.py")), "the wheel lacks migrations/versions"


def test_db_upgrade_then_serve_answers_healthz(gateway_bin: Path, tmp_path: Path) -> None:
    port = free_port()
    env = installed_env(tmp_path, LENDGATE_PORT=str(port))

    upgrade = subprocess.run(
        [str(gateway_bin / "lendgate"), "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    with sqlite3.connect(tmp_path / "lendgate.db") as database:
        assert database.execute("SELECT version_num FROM alembic_version").fetchall()

    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [str(gateway_bin / "lendgate"), "serve"], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
        try:
            assert _healthz(f"http://127.0.0.1:{port}/healthz", server) == {"status": "ok"}
        finally:
            server.terminate()
            server.wait(timeout=30)


def _healthz(url: str, server: subprocess.Popen[bytes]) -> object:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "lendgate serve exited"
        try:
            return httpx.get(url, timeout=2).json()
        except httpx.TransportError:
            time.sleep(0.25)
    raise AssertionError("lendgate serve did not answer /healthz within a minute")
