"""Backup and restore as README describes it: `pg_dump` of the database and a copy of the key
directory, restored elsewhere. The restored log verifies against a tree head a regulator
kept from before the backup, and a gateway refuses to start with keys that did not sign it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from connectors.simulators.population import Population
from gateway.audit.verify import verify_bundle
from gateway.crypto.keys import initialise
from tests.support.databases import (
    create_postgres_database,
    drop_postgres_database,
    migrated_database,
    require_postgres,
)
from tests.support.postgres_instance import server_bin_dir
from tests.support.processes import free_port, gateway_env
from tests.support.stack import FEATURES, gateway_settings, gateway_stack

START_SECONDS = 60.0


@pytest.fixture
async def original_database(tmp_path: Path) -> AsyncIterator[str]:
    async with migrated_database("postgresql", tmp_path, "lendgate_backup") as url:
        yield url


@pytest.fixture
async def restore_target() -> AsyncIterator[str]:
    server = require_postgres()
    url = await create_postgres_database(server, "lendgate_restored")
    yield url
    await drop_postgres_database(server, url)


def pg_tool(program: str, *args: str) -> None:
    bin_dir = server_bin_dir()
    path = str(bin_dir / program) if bin_dir else shutil.which(program)
    assert path, f"{program} is not installed"
    subprocess.run([path, *args], check=True, capture_output=True, timeout=120)


def connection_args(url: str) -> list[str]:
    parsed = make_url(url)
    return ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", "postgres"]


@dataclass
class Served:
    """A `lendgate serve` process, its base URL and its log file."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def healthy(self) -> bool:
        """True once it answers /healthz; False if it exits first."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("the gateway neither started nor exited")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def serve(database_url: str, workdir: Path, key_dir: Path) -> Served:
    port = free_port()
    environment = gateway_env(workdir, database_url, port, key_dir=key_dir)
    log = workdir / f"serve-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "serve"],
            env=environment,
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Served(process, f"http://127.0.0.1:{port}", log)


async def test_a_restored_gateway_keeps_its_log_and_refuses_foreign_keys(
    original_database: str, restore_target: str, population: Population, tmp_path: Path
) -> None:
    original = tmp_path / "original"
    original.mkdir()
    async with gateway_stack(gateway_settings(original_database, original), population) as stack:
        lender = await stack.register()
        regulator = await stack.register("regulator")
        async with stack.lender_client(lender) as client:
            consent_id, _, _ = await stack.active_consent(client)
            release = await client.release(consent_id, FEATURES[:2])
        async with stack.regulator_client(regulator) as reader:
            kept_head = await reader.tree_head()  # what the regulator holds before the backup
        key_dir = stack.context.settings.resolved_key_dir

    # The backup: the database and the key directory, taken together.
    dump = tmp_path / "lendgate.dump"
    pg_tool("pg_dump", *connection_args(original_database), "-Fc", "-f", str(dump),
            make_url(original_database).database or "")  # fmt: skip
    shutil.copytree(key_dir, tmp_path / "backup-keys")

    # The restore, elsewhere: a new database and the copied keys.
    restored = tmp_path / "restored"
    restored.mkdir()
    pg_tool("pg_restore", *connection_args(restore_target), "--no-owner", "-d",
            make_url(restore_target).database or "", str(dump))  # fmt: skip
    shutil.copytree(tmp_path / "backup-keys", restored / "keys")
    settings = gateway_settings(restore_target, restored)
    async with (
        gateway_stack(settings, population) as stack,
        stack.regulator_client(regulator) as reader,
    ):
        bundle = await reader.export()
    verdict = verify_bundle(bundle, previous=kept_head)
    assert verdict.ok, verdict.lines()
    granted = [item for item in bundle["leaves"] if item["index"] == release.audit["leaf_index"]]
    assert [(item["leaf"]["type"], item["leaf"]["consent_id"]) for item in granted] == [
        ("release.granted", consent_id)
    ]
    assert granted[0]["leaf_hash"] == release.audit["leaf_hash"]

    # The restored keys start a gateway over the restored data; another key directory does not.
    matching = serve(restore_target, restored, restored / "keys")
    try:
        assert matching.healthy(), matching.log.read_text()
    finally:
        matching.stop()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    initialise(foreign / "keys")
    refused = serve(restore_target, foreign, foreign / "keys")
    try:
        assert not refused.healthy()
        assert refused.process.returncode != 0
        assert "startup.keys_do_not_match_log" in refused.log.read_text()
    finally:
        refused.stop()
