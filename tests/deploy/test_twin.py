"""The compose topology without containers: nginx (Debian's, unprivileged) rendered from
deploy/nginx.conf in front of two `lendgate serve` replicas on one PostgreSQL, Redis and the
four simulators, each started with its compose service's own command on loopback ports."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from lendgate_sdk import LendgateAPIError, LendgateClient, RegulatorClient, jose
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from gateway.audit.models import AuditEntry
from gateway.audit.verify import verify_bundle
from gateway.core.db import create_engine, create_sessionmaker
from tests.deploy.wiring import COMPOSE, NGINX, PLACEHOLDER, command_of, environment, load
from tests.support.databases import (
    create_postgres_database,
    drop_postgres_database,
    in_ci,
    require_postgres,
)
from tests.support.processes import free_port, lendgate, stop

NGINX_BINARY = "/usr/sbin/nginx"
START_SECONDS = 180.0
BORROWER = {"id_number": "11010519491231002X", "phone": "13800138000", "name": "张三"}
REDIS = ("127.0.0.1", 6379)


def render(template: str, values: dict[str, str]) -> str:
    """`${NAME}` placeholders filled as the nginx image's envsubst does; a missing one fails."""
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


@dataclass
class Twin:
    proxy: str
    replicas: list[str]
    processes: dict[str, subprocess.Popen[bytes]]
    database_url: str
    sms_outbox: Path
    workdir: Path


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} did not come up"
        time.sleep(0.1)


def redis_answers() -> bool:
    import socket

    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    if not Path(NGINX_BINARY).exists():
        message = f"{NGINX_BINARY} is missing (apt-get install nginx)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    server = require_postgres()
    workdir = tmp_path_factory.mktemp("twin")
    database_url = asyncio.run(create_postgres_database(server, "lendgate_twin"))
    services = load(COMPOSE)["services"]
    processes: dict[str, subprocess.Popen[bytes]] = {}
    gateway_ports = {"gateway-1": free_port(), "gateway-2": free_port()}
    simulator_ports: dict[str, dict[str, int]] = {}
    for name, service in services.items():
        if command_of(service, [])[:3] == ["lendgate", "simulators", "serve"]:
            sources = json.loads(environment(service)["LENDGATE_SIMULATOR_PORTS"])
            simulator_ports[name] = {source: free_port() for source in sources}
    proxy_port = free_port()
    proxy = f"http://127.0.0.1:{proxy_port}"
    # The compose settings, with loopback addresses for the containers' names.
    source_urls = {
        source: f"http://127.0.0.1:{port}"
        for ports in simulator_ports.values()
        for source, port in ports.items()
    }
    base = {key: value for key, value in os.environ.items() if not key.startswith("LENDGATE_")}
    settings = {
        **base,
        "LENDGATE_ENVIRONMENT": "development",
        "LENDGATE_DATA_DIR": str(workdir),
        "LENDGATE_DATABASE_URL": database_url,
        "LENDGATE_ISSUER": proxy,
        "LENDGATE_SOURCE_URLS": json.dumps(source_urls),
        "LENDGATE_SMS_OUTBOX": str(workdir / "sms" / "outbox.jsonl"),
        "LENDGATE_SIMULATOR_POPULATION": "200",
        # Small pools: the test server's connections are shared with every other test run.
        "LENDGATE_DATABASE_POOL_SIZE": "4",
        "LENDGATE_DATABASE_MAX_OVERFLOW": "4",
    }
    if redis_answers():
        settings["LENDGATE_REDIS_URL"] = f"redis://{REDIS[0]}:{REDIS[1]}/0"
    logs: list[Any] = []

    def start(name: str, words: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (workdir / f"{name}.log").open("wb")
        logs.append(log)
        process = subprocess.Popen(
            [*lendgate(*words[1:])] if words[0] == "lendgate" else words,
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes[name] = process
        return process

    try:
        # The one-shot services, in compose's order: the schema, then the keys.
        for one_shot in ("migrate", "keys"):
            done = start(one_shot, command_of(services[one_shot], []), settings).wait(120)
            assert done == 0, (workdir / f"{one_shot}.log").read_text()
        for name, ports in simulator_ports.items():
            env = {
                **settings,
                **environment(services[name]),
                "LENDGATE_SIMULATOR_HOST": "127.0.0.1",
            }
            env["LENDGATE_SIMULATOR_PORTS"] = json.dumps(ports)
            start(name, command_of(services[name], []), env)
        for name, port in gateway_ports.items():
            env = {**settings, "LENDGATE_HOST": "127.0.0.1", "LENDGATE_PORT": str(port)}
            start(name, command_of(services[name], []), env)
        # Started together, as compose starts what waits for nothing more.
        for name, ports in simulator_ports.items():
            for port in ports.values():
                url = f"http://127.0.0.1:{port}/healthz"
                wait_until_up(url, processes[name], workdir / f"{name}.log")
        for name, port in gateway_ports.items():
            url = f"http://127.0.0.1:{port}/healthz"
            wait_until_up(url, processes[name], workdir / f"{name}.log")
        runtime = workdir / "nginx"
        runtime.mkdir()
        proxy_env = environment(services["proxy"])
        values = {
            **proxy_env,
            "NGINX_LISTEN": f"127.0.0.1:{proxy_port}",
            "NGINX_RUNTIME_DIR": str(runtime),
            "NGINX_GATEWAY_1": f"127.0.0.1:{gateway_ports['gateway-1']}",
            "NGINX_GATEWAY_2": f"127.0.0.1:{gateway_ports['gateway-2']}",
        }
        config = runtime / "nginx.conf"
        config.write_text(render(NGINX.read_text(), values))
        nginx = [NGINX_BINARY, "-p", str(runtime), "-e", "stderr", "-c", str(config)]
        checked = subprocess.run([*nginx, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        start("proxy", [*nginx, "-g", "daemon off;"], base)
        wait_until_up(f"{proxy}/healthz", processes["proxy"], workdir / "proxy.log")
        yield Twin(
            proxy=proxy,
            replicas=[f"http://127.0.0.1:{port}" for port in gateway_ports.values()],
            processes=processes,
            database_url=database_url,
            sms_outbox=workdir / "sms" / "outbox.jsonl",
            workdir=workdir,
        )
    finally:
        stop(reversed(processes.values()), wait_seconds=15)
        for log in logs:
            log.close()
        asyncio.run(drop_postgres_database(server, database_url))
        shutil.rmtree(workdir / "nginx", ignore_errors=True)


def register(twin: Twin, kind: Literal["lender", "regulator"]) -> tuple[str, dict[str, Any]]:
    """The operator's `lendgate clients add`, run against the twin's database."""
    private_jwks, public_jwks = jose.generate_client_jwks(kind)
    jwks_file = twin.workdir / f"{kind}-{time.monotonic_ns()}.json"
    jwks_file.write_text(json.dumps(public_jwks))
    env = {key: value for key, value in os.environ.items() if not key.startswith("LENDGATE_")}
    env.update(
        LENDGATE_DATABASE_URL=twin.database_url,
        LENDGATE_DATA_DIR=str(twin.workdir),
        LENDGATE_ISSUER=twin.proxy,
    )
    added = subprocess.run(
        lendgate("clients", "add", "--name", "示例银行", "--kind", kind, "--jwks", str(jwks_file)),
        env=env,
        cwd=twin.workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    return added.stdout.split()[-1], private_jwks


def last_code(twin: Twin) -> str:
    lines = [json.loads(line) for line in twin.sms_outbox.read_text().splitlines()]
    return [line for line in lines if line["phone"] == BORROWER["phone"]][-1]["code"]


async def approved_consent(twin: Twin, lender: LendgateClient) -> str:
    """A consent requested by the lender and approved by the sandbox borrower through nginx."""
    now = datetime.now(UTC)
    consent = await lender.request_consent(
        {
            "borrower": BORROWER,
            "purpose": "consumer_installment_underwriting",
            "features": ["si_active", "hf_status"],
            "fetch_type": "ONETIME",
            "frequency": {"unit": "MONTH", "value": 1},
            "valid_from": (now - timedelta(minutes=1)).isoformat(),
            "valid_until": (now + timedelta(days=20)).isoformat(),
            "data_range_months": 12,
            "data_life_days": 30,
        }
    )
    async with httpx.AsyncClient(base_url=twin.proxy) as borrower:
        phone = BORROWER["phone"]
        assert (await borrower.post("/v1/borrower/otp", json={"phone": phone})).status_code == 200
        session = await borrower.post(
            "/v1/borrower/session", json={"phone": phone, "code": last_code(twin)}
        )
        auth = {"Authorization": f"Bearer {session.json()['access_token']}"}
        otp = {"phone": phone, "purpose": "approve", "consent_id": consent["consent_id"]}
        assert (await borrower.post("/v1/borrower/otp", json=otp, headers=auth)).status_code == 200
        approved = await borrower.post(
            f"/v1/borrower/consents/{consent['consent_id']}/approve",
            json={"code": last_code(twin)},
            headers=auth,
        )
        assert approved.status_code == 200, approved.text
    return str(consent["consent_id"])


def requests_served(replica: str, route: str) -> float:
    """How many requests of `route` a replica answered, from its own /metrics."""
    text = httpx.get(f"{replica}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "lendgate_http_requests_total" and sample.labels["route"] == route
    )


def logs(twin: Twin, *names: str) -> str:
    """The end of some services' logs, for a failure's message."""
    return "\n".join(
        f"--- {name}\n" + (twin.workdir / f"{name}.log").read_text(errors="replace")[-4000:]
        for name in names
    )


async def test_load_through_nginx_reaches_both_replicas(twin: Twin) -> None:
    before = [requests_served(replica, "/v1/catalog") for replica in twin.replicas]
    async with httpx.AsyncClient(base_url=twin.proxy) as client:
        answers = await asyncio.gather(*(client.get("/v1/catalog") for _ in range(40)))
        metrics = await client.get("/metrics")
    after = [requests_served(replica, "/v1/catalog") for replica in twin.replicas]

    assert {answer.status_code for answer in answers} == {200}
    assert all(later > earlier for earlier, later in zip(before, after, strict=True)), after
    assert sum(after) - sum(before) == 40
    assert metrics.status_code == 404  # metrics are not published through the proxy


async def test_a_consent_revoked_through_one_replica_is_refused_by_the_other(twin: Twin) -> None:
    client_id, private_jwks = register(twin, "lender")
    token_endpoint = f"{twin.proxy}/oauth/token"
    first, second = (
        LendgateClient(replica, client_id, private_jwks, token_endpoint=token_endpoint)
        for replica in twin.replicas
    )
    async with first, second:
        consent_id = await approved_consent(twin, first)
        revoked = await first.revoke(consent_id)
        with pytest.raises(LendgateAPIError) as refused:
            await second.release(consent_id)

    assert revoked["status"] == "REVOKED"
    assert (refused.value.status, refused.value.code) == (403, "ConsentRevoked")


async def test_killing_a_replica_loses_no_retried_request_and_no_audit_leaf(twin: Twin) -> None:
    client_id, private_jwks = register(twin, "regulator")
    regulator = RegulatorClient(twin.proxy, client_id, private_jwks)
    victim = twin.processes["gateway-2"]
    answered = 0
    failures: list[str] = []
    gate = asyncio.Semaphore(8)
    killed = asyncio.Event()

    async def read(number: int) -> None:
        nonlocal answered
        async with gate:
            if number == 20:
                victim.send_signal(signal.SIGKILL)
                killed.set()
            try:
                await regulator.tree_head()  # a GET that appends `audit.read`
            except LendgateAPIError as error:
                failures.append(f"read {number}: {error}")
            else:
                answered += 1

    async with regulator:
        await asyncio.gather(*(read(number) for number in range(80)))
        bundle = await regulator.export()

    engine = create_engine(twin.database_url)
    async with create_sessionmaker(engine)() as session:
        entries = (await session.execute(select(AuditEntry.seq, AuditEntry.type))).all()
    await engine.dispose()

    assert killed.is_set() and victim.wait(10) == -signal.SIGKILL
    # Every read answered: nginx sent those the killed replica dropped to the survivor.
    assert failures == [], logs(twin, "gateway-1", "proxy")
    assert answered == 80
    positions = sorted(seq for seq, _ in entries)
    assert positions == list(range(len(positions)))  # one log, no gap
    assert sum(kind == "audit.read" for _, kind in entries) >= answered
    outcome = verify_bundle(json.loads(json.dumps(bundle)))
    assert outcome.ok, outcome.lines()
    assert bundle["to"] == len(positions) - 1  # the whole log, as one replica exported it
