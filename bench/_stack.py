"""A whole deployment on loopback for the load benchmarks, each part in a process of its own.

A throwaway PostgreSQL database built by the migrations, `lendgate simulators serve`,
`lendgate serve` (with `--workers`), a lender registered with `lendgate clients add`, and
approved consents made through the public flow (the lender's request through the SDK, the
borrower's one-time codes from the development SMS outbox). Load comes from wrk
(`bench/requests.lua`), never from the gateway's process; the gateway's CPU time and peak
memory are read from `/proc`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

import asyncpg
import httpx
from lendgate_sdk import LendgateClient, generate_client_jwks
from sqlalchemy.engine import URL, make_url

from connectors.base import Month, MonthRange
from connectors.protocol import auth_headers
from connectors.registry import load_sources
from connectors.simulators.population import Population
from consent.budget import CHINA_STANDARD_TIME
from gateway.core.migrate import upgrade
from gateway.core.settings import Settings
from policies.derivations.registry import shipped_derivations
from policies.evaluation import plan_release
from policies.loading import load_catalog
from tests.support.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_server_url,
)
from tests.support.processes import child_processes, free_port, lendgate, stop

SOURCES = ("social_insurance", "housing_fund", "credit_bureau")
PURPOSE = "post_loan_monitoring"
FULL_FEATURES = (
    "si_active",
    "si_continuous_months",
    "hf_status",
    "hf_has_loan",
    "income_proxy_band",
    "debt_service_ratio",
    "cb_overdue_accounts_24m",
    "cb_max_overdue_months_24m",
    "cb_current_overdue_amount_band",
    "cb_hard_inquiries_3m",
    "cb_card_utilization",
    "cb_open_loan_count",
)
"""The full release: twelve features from 社保, 公积金 and 征信."""
ONE_FEATURE = ("si_active",)
DATA_RANGE_MONTHS = 24
SHIPPED_POLICIES = Path(__file__).resolve().parent.parent / "policies"
LUA_SCRIPT = Path(__file__).resolve().with_name("requests.lua")
# Up to this many releases a Beijing day per consent (the schema's ceiling for `frequency`).
DAILY_CEILING = 366


def postgres_server() -> URL | None:
    """The PostgreSQL server bench databases are created on, if one answers."""
    url = postgres_server_url()
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=2):
            return url
    except OSError:
        return None


def bench_policy_dir(directory: Path) -> Path:
    """The shipped catalogs, with post-loan monitoring allowed daily up to the schema's ceiling.

    So that no consent's budget refuses a release during the runs.
    """
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_POLICIES / "features.yaml", directory / "features.yaml")
    purposes = (SHIPPED_POLICIES / "purposes.yaml").read_text("utf-8")
    start = purposes.index(f"code: {PURPOSE}")
    end = purposes.index("max_frequency:", start)
    line_end = purposes.index("\n", end)
    purposes = (
        purposes[:end]
        + f"max_frequency: {{unit: DAY, value: {DAILY_CEILING}}}"
        + purposes[line_end:]
    )
    (directory / "purposes.yaml").write_text(purposes, "utf-8")
    return directory


# --- processes -----------------------------------------------------------------------------


def _ticks_per_second() -> int:
    return int(os.sysconf("SC_CLK_TCK"))


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(child_processes(current))
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU time the processes have used so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / _ticks_per_second()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    return _memory_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """The process's resident memory now (VmRSS), in MB."""
    return _memory_mb(pid, "VmRSS")


def _memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Gateway:
    """`lendgate serve` running as its own process tree."""

    process: subprocess.Popen[bytes]
    url: str
    workers: int

    def pids(self) -> list[int]:
        """The supervisor and its workers."""
        return descendants(self.process.pid)

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (with one worker: the main process)."""
        if self.workers == 1:
            return [self.process.pid]
        # multiprocessing's resource tracker is a child too, and serves nothing.
        return [
            pid
            for pid, command in child_processes(self.process.pid).items()
            if "resource_tracker" not in command
        ]

    def cpu_seconds(self) -> float:
        """CPU time of the whole tree so far."""
        return cpu_seconds(self.pids())

    def settled_cpu_seconds(self, quiet: float = 0.01, limit: float = 60.0) -> tuple[float, float]:
        """CPU time once the gateway has finished what it still had queued, and how long that
        took (`limit` at most: a gateway still busy then is reported as such)."""
        started = time.monotonic()
        last = self.cpu_seconds()
        while time.monotonic() - started < limit:
            time.sleep(0.25)
            now = self.cpu_seconds()
            if now - last < quiet:
                return now, time.monotonic() - started
            last = now
        return last, time.monotonic() - started


def wait_until_answers(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    """Wait for `GET url` to answer 200 (or fail if the process died or time ran out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


# --- the deployment ---------------------------------------------------------------------------


class RegisteredKeys(NamedTuple):
    """A client the operator registered, and its private keys."""

    client_id: str
    private_jwks: dict[str, Any]


@dataclass
class Deployment:
    """A running deployment and what the benchmarks need to load it."""

    directory: Path
    env: dict[str, str]
    database_url: str
    gateway: Gateway
    simulator_urls: dict[str, str]
    settings: Settings
    population: Population
    lender: LendgateClient | None = None
    consents: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    """The id numbers of the consents' borrowers, in the order of `consents`."""


@contextlib.asynccontextmanager
async def deployment(
    prefix: str, *, workers: int, overrides: Mapping[str, str] | None = None
) -> AsyncIterator[Deployment]:
    """A database, the simulators and the gateway, each its own process; torn down after."""
    server = postgres_server()
    if server is None:
        raise RuntimeError("the release benchmarks need PostgreSQL on 127.0.0.1:5432")
    with tempfile.TemporaryDirectory(prefix=f"lendgate-bench-{prefix}-") as scratch:
        directory = Path(scratch)
        database_url = await create_postgres_database(server, f"lendgate_bench_{prefix}")
        processes: list[subprocess.Popen[bytes]] = []
        try:
            await upgrade(database_url)
            ports = {source: free_port() for source in load_sources()}
            gateway_port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("LENDGATE_")}
            env.update(
                LENDGATE_ENVIRONMENT="development",
                LENDGATE_DATA_DIR=str(directory),
                LENDGATE_DATABASE_URL=database_url,
                LENDGATE_PORT=str(gateway_port),
                LENDGATE_ISSUER=f"http://127.0.0.1:{gateway_port}",
                LENDGATE_SIMULATOR_PORTS=json.dumps(ports),
                LENDGATE_SOURCE_URLS=json.dumps(
                    {source: f"http://127.0.0.1:{port}" for source, port in ports.items()}
                ),
                LENDGATE_POLICY_DIR=str(bench_policy_dir(directory / "policies")),
                LENDGATE_SMS_OUTBOX=str(directory / "sms-outbox.jsonl"),
                # Limits lifted: the benchmark measures the release path, not the limiter's
                # refusals (each request still counts in the shared store).
                LENDGATE_CLIENT_RATE_LIMIT=str(10**9),
                LENDGATE_OTP_SEND_LIMIT_PER_IP=str(10**9),
            )
            env.update(overrides or {})
            settings = load_sources().configure(
                Settings(
                    environment="development",
                    data_dir=directory,
                    policy_dir=Path(env["LENDGATE_POLICY_DIR"]),
                    source_urls=json.loads(env["LENDGATE_SOURCE_URLS"]),
                )
            )
            simulator_urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
            gateway = _start_services(env, directory, simulator_urls, workers, processes)
            population = Population.generate(settings.simulator_seed, settings.simulator_population)
            yield Deployment(
                directory=directory,
                env=env,
                database_url=database_url,
                gateway=gateway,
                simulator_urls=simulator_urls,
                settings=settings,
                population=population,
            )
        finally:
            stop(reversed(processes))
            await drop_postgres_database(server, database_url)


def _start_services(
    env: dict[str, str],
    directory: Path,
    simulator_urls: Mapping[str, str],
    workers: int,
    processes: list[subprocess.Popen[bytes]],
) -> Gateway:
    """Start the simulators, then the gateway, each answering before the next starts."""
    log = (directory / "processes.log").open("ab")
    simulators = subprocess.Popen(lendgate("simulators", "serve"), env=env, stdout=log, stderr=log)
    processes.append(simulators)
    for url in simulator_urls.values():
        wait_until_answers(url + "/healthz", simulators)
    process = subprocess.Popen(
        lendgate("serve", "--workers", str(workers)), env=env, stdout=log, stderr=log
    )
    processes.append(process)
    gateway = Gateway(process, env["LENDGATE_ISSUER"], workers)
    wait_until_answers(gateway.url + "/healthz", process)
    return gateway


def register_client(deployment: Deployment, kind: Literal["lender", "regulator"]) -> RegisteredKeys:
    """Register a client with the operator's CLI; its id and private JWKS."""
    private_jwks, public_jwks = generate_client_jwks(kind)
    jwks_file = deployment.directory / f"{kind}-jwks.json"
    jwks_file.write_text(json.dumps(public_jwks))
    name = "基准银行" if kind == "lender" else "基准监管"
    done = subprocess.run(
        lendgate("clients", "add", "--name", name, "--kind", kind, "--jwks", str(jwks_file)),
        env=deployment.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return RegisteredKeys(done.stdout.split()[-1], private_jwks)


def register_lender(
    deployment: Deployment, transport: httpx.AsyncBaseTransport | None = None
) -> LendgateClient:
    """Register a lender with the operator's CLI; its SDK client."""
    client_id, private_jwks = register_client(deployment, "lender")
    # A generous timeout: after a heavy run the gateway may still be draining its queue.
    deployment.lender = LendgateClient(
        deployment.gateway.url, client_id, private_jwks, timeout=120, transport=transport
    )
    return deployment.lender


def consent_request(id_number: str, population: Population) -> dict[str, Any]:
    """The body of a full-release consent request for one of the simulators' people."""
    person = population.get(id_number)
    if person is None:
        raise RuntimeError(f"the simulators hold no person {id_number[:4]}…")
    now = datetime.now(UTC)
    return {
        "borrower": {"id_number": person.id_number, "phone": person.phone, "name": person.name},
        "purpose": PURPOSE,
        "features": list(FULL_FEATURES),
        "fetch_type": "PERIODIC",
        "frequency": {"unit": "DAY", "value": DAILY_CEILING},
        "valid_from": (now - timedelta(minutes=1)).isoformat(),
        "valid_until": (now + timedelta(days=30)).isoformat(),
        "data_range_months": DATA_RANGE_MONTHS,
        "data_life_days": 90,
    }


def sms_code(deployment: Deployment, phone: str) -> str:
    """The last one-time code the development SMS outbox holds for `phone`."""
    outbox = Path(deployment.env["LENDGATE_SMS_OUTBOX"])
    lines = [json.loads(line) for line in outbox.read_text("utf-8").splitlines()]
    return str([line for line in lines if line["phone"] == phone][-1]["code"])


async def approve_as_borrower(
    deployment: Deployment, borrower: httpx.AsyncClient, consent_id: str, phone: str
) -> None:
    """The borrower signs in with a one-time code and approves the consent with another."""
    sent = await borrower.post("/v1/borrower/otp", json={"phone": phone})
    sent.raise_for_status()
    session = await borrower.post(
        "/v1/borrower/session", json={"phone": phone, "code": sms_code(deployment, phone)}
    )
    session.raise_for_status()
    auth = {"Authorization": f"Bearer {session.json()['access_token']}"}
    step_up = {"phone": phone, "purpose": "approve", "consent_id": consent_id}
    (await borrower.post("/v1/borrower/otp", json=step_up, headers=auth)).raise_for_status()
    approved = await borrower.post(
        f"/v1/borrower/consents/{consent_id}/approve",
        json={"code": sms_code(deployment, phone)},
        headers=auth,
    )
    approved.raise_for_status()


async def approve_consents(deployment: Deployment, count: int, concurrency: int = 8) -> None:
    """`count` consents, each requested by the lender and approved by its borrower (public API)."""
    lender = deployment.lender or register_lender(deployment)
    ids = deployment.population.id_numbers()[:count]
    if len(ids) < count:
        raise RuntimeError(f"the simulators' population holds only {len(ids)} people")
    semaphore = asyncio.Semaphore(concurrency)
    results: dict[str, str] = {}

    async def one(borrower: httpx.AsyncClient, id_number: str) -> None:
        async with semaphore:
            body = consent_request(id_number, deployment.population)
            consent_id = (await lender.request_consent(body))["consent_id"]
            await approve_as_borrower(deployment, borrower, consent_id, body["borrower"]["phone"])
            results[id_number] = consent_id

    async with httpx.AsyncClient(base_url=deployment.gateway.url, timeout=60) as borrower:
        await asyncio.gather(*(one(borrower, id_number) for id_number in ids))
    deployment.people = ids
    deployment.consents = [results[id_number] for id_number in ids]


# --- load -------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What one wrk run saw."""

    requests: int
    in_flight: int
    """Requests still unanswered when the run ended (and not yet timed out)."""
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    codes: dict[str, int]
    socket_errors: dict[str, int]

    @property
    def rate(self) -> float:
        """Answers a second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def succeeded(self) -> int:
        """Answers with a 2xx status."""
        return sum(n for status, n in self.statuses.items() if status.startswith("2"))

    @property
    def errors(self) -> dict[str, int]:
        """Everything that was not a 2xx answer: error codes, other statuses, socket errors."""
        found = dict(self.codes)
        for status, count in self.statuses.items():
            if not status.startswith(("2", "4", "5")):
                found[f"HTTP {status}"] = count
        found.update({f"socket {kind}": n for kind, n in self.socket_errors.items() if n})
        return found

    def as_json(self) -> dict[str, Any]:
        """The figures, JSON-ready."""
        return {
            "requests": self.requests,
            "in_flight_at_end": self.in_flight,
            "seconds": round(self.seconds, 2),
            "per_second": round(self.rate, 1),
            "ok_per_second": round(self.succeeded / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(self.p50_ms, 2),
            "p90_ms": round(self.p90_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "statuses": self.statuses,
            "errors": self.errors,
        }


def wrk(
    url: str,
    requests: Sequence[str],
    *,
    connections: int,
    seconds: float,
    directory: Path,
    timeout_seconds: float = 5,
) -> subprocess.Popen[str]:
    """Start wrk against `url` sending `requests` (lines of `requests.lua`'s format).

    An answer slower than `timeout_seconds` counts as a timeout error: a lender calling the
    gateway inside its loan decision would have given up.
    """
    path = directory / f"requests-{time.monotonic_ns()}.tsv"
    path.write_text("\n".join(requests) + "\n", "utf-8")
    threads = max(1, min(2, connections))
    env = {
        **os.environ,
        "LENDGATE_BENCH_REQUESTS": str(path),
        "LENDGATE_BENCH_THREADS": str(threads),
    }
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={max(1, round(timeout_seconds))}s",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wrk_result(process: subprocess.Popen[str]) -> LoadResult:
    """Wait for a wrk run and read what its script printed."""
    output, _ = process.communicate()
    for line in output.splitlines():
        if line.startswith("LENDGATE_BENCH "):
            figures = json.loads(line.removeprefix("LENDGATE_BENCH "))
            timeouts = figures["socket_errors"]["timeout"]
            return LoadResult(
                requests=figures["requests"],
                in_flight=max(0, figures["sent"] - figures["requests"] - timeouts),
                seconds=figures["duration_us"] / 1e6,
                p50_ms=figures["p50_us"] / 1000,
                p90_ms=figures["p90_us"] / 1000,
                p99_ms=figures["p99_us"] / 1000,
                max_ms=figures["max_us"] / 1000,
                statuses=figures["statuses"],
                codes=figures["codes"],
                socket_errors=figures["socket_errors"],
            )
    raise RuntimeError(f"wrk printed no result:\n{output}")


async def release_count(deployment: Deployment) -> int:
    """How many releases the database holds."""
    url = make_url(deployment.database_url)
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, database=url.database
    )
    try:
        return int(await connection.fetchval("SELECT count(*) FROM releases"))
    finally:
        await connection.close()


def request_line(
    method: str, path: str, body: str = "", headers: Mapping[str, str] | None = None
) -> str:
    """One line of `requests.lua`'s request file."""
    fields = [method, path, body, *(f"{name}: {value}" for name, value in (headers or {}).items())]
    if any("\t" in value or "\n" in value for value in fields):
        raise ValueError("request fields may hold no tab or newline")
    return "\t".join(fields)


def release_lines(deployment: Deployment, token: str, features: Sequence[str] | None) -> list[str]:
    """A release request for every consent, with `token`; all consented features if None."""
    body = json.dumps({"features": list(features)} if features else {}, separators=(",", ":"))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return [
        request_line("POST", f"/v1/consents/{consent_id}/releases", body, headers)
        for consent_id in deployment.consents
    ]


def consented_months(now: datetime) -> MonthRange:
    """The months a release made now covers (as the release pipeline computes them)."""
    last_complete = Month.of(now.astimezone(CHINA_STANDARD_TIME).date()).shift(-1)
    return MonthRange.ending(last_complete, DATA_RANGE_MONTHS)


def source_query_lines(deployment: Deployment, count: int) -> dict[str, list[str]]:
    """Per source, `count` queries for the full release's fields, as the gateway sends them.

    Signed sources get a fresh nonce on every line, and a source remembers a bounded number
    of nonces, so lines are never reused within a run as long as `count` exceeds the run.
    """
    catalog = load_catalog(deployment.settings.policy_dir, shipped_derivations())
    plan = plan_release(catalog, PURPOSE, FULL_FEATURES, None)
    months = consented_months(datetime.now(UTC))
    sources = load_sources()
    lines: dict[str, list[str]] = {}
    for source, fields in plan.source_fields.items():
        scheme = sources[source].connector.auth_scheme
        credential = deployment.settings.source_credentials[source]
        lines[source] = []
        for n in range(count):
            body = json.dumps(
                {
                    "id_number": deployment.people[n % len(deployment.people)],
                    "fields": sorted(fields),
                    "from_month": str(months.first),
                    "to_month": str(months.last),
                },
                separators=(",", ":"),
            ).encode()
            headers = {
                "Content-Type": "application/json",
                **auth_headers(scheme, credential, "POST", "/v1/query", body),
            }
            lines[source].append(request_line("POST", "/v1/query", body.decode(), headers))
    return lines
