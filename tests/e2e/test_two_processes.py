"""Two gateway processes on one PostgreSQL append to one log: no gap, no duplicate, one tree.

Real `lendgate serve` processes, sharing a database and the gateway's keys as
replicas behind a load balancer would, each signing tree heads on its own
schedule while a regulator reads through both at once (every read is an append).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from lendgate_sdk import RegulatorClient, jose
from sqlalchemy import func, select

from gateway.audit import repository
from gateway.audit.models import AuditEntry, AuditTreeHead
from gateway.audit.verify import verify_bundle
from gateway.clients import service as clients_service
from gateway.core.db import create_engine, create_sessionmaker
from gateway.crypto.keys import initialise
from tests.support.databases import migrated_database
from tests.support.processes import free_port, gateway_env, stop, wait_until_serving

START_SECONDS = 60.0
WORK_SECONDS = 60.0
READS_PER_PROCESS = 40
IN_FLIGHT = 8


@pytest.fixture
async def replica_database(tmp_path: Path) -> AsyncIterator[str]:
    async with migrated_database("postgresql", tmp_path, "lendgate_replicas") as url:
        yield url


@pytest.fixture
def gateways(replica_database: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two `lendgate serve` processes over the same database and keys; their base URLs."""
    initialise(tmp_path / "keys")
    ports = [free_port(), free_port()]
    issuer = f"http://127.0.0.1:{ports[0]}"
    processes = []
    logs = []
    try:
        for number, port in enumerate(ports):
            log = (tmp_path / f"gateway-{number}.log").open("wb")
            logs.append(log)
            environment = gateway_env(
                tmp_path,
                replica_database,
                port,
                issuer=issuer,
                audit_tree_head_interval_seconds="0.2",
            )
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gateway.cli.main", "serve"],
                    env=environment,
                    cwd=tmp_path,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for number, (url, process) in enumerate(zip(urls, processes, strict=True)):
            wait_until_serving(
                process, url, seconds=START_SECONDS, log=tmp_path / f"gateway-{number}.log"
            )
        yield urls
    finally:
        stop(processes)
        for log in logs:
            log.close()


async def test_two_processes_make_one_gapless_log(
    replica_database: str, gateways: list[str]
) -> None:
    private_jwks, public_jwks = jose.generate_client_jwks("regulator")
    engine = create_engine(replica_database)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session, session.begin():
        regulator = await clients_service.register(
            session, name="监管机构", kind="regulator", jwks=public_jwks, actor="operator:test"
        )
    clients = [
        RegulatorClient(
            url, regulator.id, private_jwks, token_endpoint=f"{gateways[0]}/oauth/token"
        )
        for url in gateways
    ]
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def read(client: RegulatorClient, number: int) -> None:
        async with gate:
            if number % 2:
                await client.tree_head()
            else:
                await client.audit_entries(limit=1)

    try:
        await asyncio.wait_for(
            asyncio.gather(
                *(read(client, number) for number in range(READS_PER_PROCESS) for client in clients)
            ),
            WORK_SECONDS,
        )
        bundle = await clients[1].export()
    finally:
        for client in clients:
            await client.aclose()

    async with sessionmaker() as session:
        positions = (await session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq))).all()
        reads = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.type == "audit.read")
        )
        heads = await session.scalar(select(func.count()).select_from(AuditTreeHead))
        size = (await repository.head(session)).size
    await engine.dispose()

    assert list(positions) == list(range(len(positions)))  # no gap, no duplicate
    assert size == len(positions)
    assert reads == 2 * READS_PER_PROCESS + 1  # every read, plus the export
    assert heads and heads > READS_PER_PROCESS // 2  # signed by both, on demand and on schedule
    outcome = verify_bundle(json.loads(json.dumps(bundle)))
    assert outcome.ok, outcome.lines()
    assert bundle["to"] == size - 1  # everything but the export's own read
