"""SIGKILL a `lendgate serve` process again and again during releases, approvals and revokes;
after each restart nothing acknowledged is lost and nothing was released that should not be.

The gateway is a real process on PostgreSQL; the sources are the simulators on loopback
sockets. After the last restart: the exported log verifies, every release a lender received
has its leaf (and an inclusion proof), no release was granted after its consent's revocation,
and every approval and revocation that was answered is in the database and in the log.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from lendgate_sdk import LendgateClient, RegulatorClient, jose
from sqlalchemy import select

from connectors.simulators.population import Person, Population
from consent.models import Consent
from consent.states import ConsentStatus
from gateway.audit.merkle import verify_inclusion
from gateway.audit.models import AuditEntry
from gateway.audit.verify import verify_bundle
from gateway.clients import service as clients_service
from gateway.core.db import create_engine, create_sessionmaker
from gateway.crypto.keys import initialise
from tests.support.databases import migrated_database
from tests.support.processes import free_port, gateway_env, wait_until_serving
from tests.support.stack import on_socket, simulator_apps

KILLS = 3
CONSENTS_PER_ROUND = 6
START_SECONDS = 60.0


@dataclass
class Outcome:
    """What the parties were told: every answer that arrived before a kill."""

    releases: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    approved: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)


@pytest.fixture
async def crash_database(tmp_path: Path) -> AsyncIterator[str]:
    async with migrated_database("postgresql", tmp_path, "lendgate_crash") as url:
        yield url


@asynccontextmanager
async def simulators(population: Population) -> AsyncIterator[dict[str, str]]:
    """Every source simulator on a loopback socket; their base URLs by source."""
    async with AsyncExitStack() as running:
        yield {
            source: await running.enter_async_context(on_socket(app))
            for source, app in simulator_apps(population).items()
        }


class Gateway:
    """`lendgate serve` as a process, started and SIGKILLed at will."""

    def __init__(self, environment: dict[str, str], workdir: Path, url: str):
        self.environment, self.workdir, self.url = environment, workdir, url
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        log = (self.workdir / f"gateway-{self.starts}.log").open("wb")
        self.starts += 1
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "serve"],
            env=self.environment,
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()
        wait_until_serving(self.process, self.url, seconds=START_SECONDS)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def gateway(crash_database: str, tmp_path: Path) -> Iterator[Gateway]:
    initialise(tmp_path / "keys")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = gateway_env(
        tmp_path,
        crash_database,
        port,
        sms_outbox=str(tmp_path / "sms-outbox.jsonl"),
        otp_send_limit_per_phone="1000",
        otp_send_limit_per_ip="100000",
        client_rate_limit="100000",
    )
    running = Gateway(environment, tmp_path, url)
    yield running
    running.stop()


def last_code(outbox: Path, phone: str) -> str:
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    code: str = [line for line in lines if line["phone"] == phone][-1]["code"]
    return code


async def approve(http: httpx.AsyncClient, outbox: Path, person: Person, consent_id: str) -> None:
    """The borrower logs in and approves with the step-up code (raises if any step fails)."""
    (await http.post("/v1/borrower/otp", json={"phone": person.phone})).raise_for_status()
    session = await http.post(
        "/v1/borrower/session",
        json={"phone": person.phone, "code": last_code(outbox, person.phone)},
    )
    session.raise_for_status()
    auth = {"Authorization": f"Bearer {session.json()['access_token']}"}
    step_up = {"phone": person.phone, "purpose": "approve", "consent_id": consent_id}
    (await http.post("/v1/borrower/otp", json=step_up, headers=auth)).raise_for_status()
    approved = await http.post(
        f"/v1/borrower/consents/{consent_id}/approve",
        json={"code": last_code(outbox, person.phone)},
        headers=auth,
    )
    approved.raise_for_status()


def consent_body(person: Person) -> dict[str, Any]:
    now = time.time()
    return {
        "borrower": {"id_number": person.id_number, "phone": person.phone, "name": person.name},
        "purpose": "consumer_installment_underwriting",
        "features": ["si_active", "hf_status"],
        "fetch_type": "ONETIME",
        "frequency": {"unit": "MONTH", "value": 1},
        "valid_from": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 60)),
        "valid_until": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + 86_400)),
        "data_range_months": 12,
        "data_life_days": 30,
        "on_behalf_of": None,
    }


async def one_round(
    gateway: Gateway, lender: LendgateClient, people: list[Person], outcome: Outcome
) -> None:
    """Consents asked and approved while up; then releases and revokes, killed midway."""
    outbox = Path(gateway.environment["LENDGATE_SMS_OUTBOX"])
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        consents = []
        for person in people:
            consent_id = (await lender.request_consent(consent_body(person)))["consent_id"]
            await approve(http, outbox, person, consent_id)
            outcome.approved.add(consent_id)
            consents.append(consent_id)
        answered = asyncio.Event()

        async def release(consent_id: str) -> None:
            released = await lender.release(consent_id)
            outcome.releases.append((consent_id, released.audit))
            answered.set()

        async def revoke(consent_id: str) -> None:
            await lender.revoke(consent_id)
            outcome.revoked.add(consent_id)

        work = [asyncio.create_task(release(consent_id)) for consent_id in consents]
        # Half the consents are revoked while their release may be under way.
        work += [asyncio.create_task(revoke(consent_id)) for consent_id in consents[::2]]
        await asyncio.wait_for(answered.wait(), START_SECONDS)
        gateway.kill()
        await asyncio.gather(*work, return_exceptions=True)


async def test_sigkill_during_releases_and_revokes_loses_nothing_acknowledged(
    gateway: Gateway, crash_database: str, population: Population
) -> None:
    private_jwks, public_jwks = jose.generate_client_jwks("lender")
    regulator_private, regulator_public = jose.generate_client_jwks("regulator")
    engine = create_engine(crash_database)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session, session.begin():
        lender_row = await clients_service.register(
            session, name="测试银行", kind="lender", jwks=public_jwks, actor="operator:test"
        )
        regulator_row = await clients_service.register(
            session, name="监管机构", kind="regulator", jwks=regulator_public, actor="operator:test"
        )
    people = [
        person
        for number in population.id_numbers()[: KILLS * CONSENTS_PER_ROUND]
        if (person := population.get(number)) is not None
    ]
    outcome = Outcome()
    async with simulators(population) as source_urls:
        gateway.environment["LENDGATE_SOURCE_URLS"] = json.dumps(source_urls)
        for round_number in range(KILLS):
            gateway.start()
            async with LendgateClient(gateway.url, lender_row.id, private_jwks) as lender:
                chosen = people[round_number * CONSENTS_PER_ROUND :][:CONSENTS_PER_ROUND]
                await one_round(gateway, lender, chosen, outcome)
        gateway.start()
        async with RegulatorClient(gateway.url, regulator_row.id, regulator_private) as regulator:
            bundle = await regulator.export()
            head = await regulator.tree_head()
            proofs = [
                await regulator.inclusion_proof(audit["leaf_index"], head["tree_size"])
                for _, audit in outcome.releases
            ]
    assert gateway.starts == KILLS + 1
    assert outcome.releases, "no release was answered before the kills"
    outcome_check = verify_bundle(json.loads(json.dumps(bundle)))
    assert outcome_check.ok, outcome_check.lines()

    async with sessionmaker() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all()
        rows = (await session.execute(select(Consent.id, Consent.status))).all()
    statuses = {row.id: row.status for row in rows}
    await engine.dispose()
    by_seq = {entry.seq: entry for entry in entries}
    for (consent_id, audit), proof in zip(outcome.releases, proofs, strict=True):
        entry = by_seq[audit["leaf_index"]]
        assert (entry.type, entry.consent_id, entry.leaf_hash) == (
            "release.granted",
            consent_id,
            audit["leaf_hash"],
        )
        assert verify_inclusion(
            audit["leaf_index"],
            head["tree_size"],
            bytes.fromhex(audit["leaf_hash"]),
            [bytes.fromhex(node) for node in proof["inclusion_path"]],
            bytes.fromhex(head["root_hash"]),
        )
    revoked_at = {
        entry.consent_id: entry.seq for entry in entries if entry.type == "consent.revoked"
    }
    for entry in entries:
        if entry.type == "release.granted" and entry.consent_id in revoked_at:
            assert entry.seq < revoked_at[entry.consent_id], "a release after its revocation"
    approved_leaves = {entry.consent_id for entry in entries if entry.type == "consent.approved"}
    assert outcome.approved <= approved_leaves
    for consent_id in outcome.revoked:
        assert statuses[consent_id] is ConsentStatus.REVOKED
        assert consent_id in revoked_at
