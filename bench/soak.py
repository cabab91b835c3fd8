"""A soak: steady mixed traffic for ten minutes; do latency and memory stay flat?

A deployment on loopback (`bench/_stack.py`): PostgreSQL, `lendgate simulators serve`,
`lendgate serve` (one worker by default), a lender and a regulator registered with the
operator's CLI, and a few approved consents to start from. An asyncio driver in this
process starts operations at a steady rate (open loop: a slow answer does not slow the
schedule), picked at random with these weights:

- `onboard`: the lender requests a consent through the SDK, the borrower signs in with a
  one-time code from the development SMS outbox and approves with another (5 requests);
- `release`: a full release (twelve features) under an active consent, decrypted by the SDK;
- `read`: the lender reads one of its consents; `revoke`: the lender revokes one;
- `audit_entries`: the regulator reads a page of the log, all of it or one consent's;
- `proof`: the regulator reads the tree head, then a leaf's inclusion proof in it.

Every request is timed at the HTTP transport (the answer read in full; the SDK's own
decryption is not counted). Each sample window (a minute; a tenth of the run when it is
shorter than ten minutes) records p50 and p99 per kind of request, errors by code (any
non-2xx answer by status and the body's `error`, failed connections, and an operation
that failed otherwise), the gateway's RSS (VmRSS from /proc, summed over its serving
processes) and its CPU use. At the end: the least-squares slope of p50 latency (ms per
minute, per kind) and of RSS (MB per minute), and the error count, printed and written to
`bench/results/soak.json`.

`LENDGATE_BENCH_SOAK_SECONDS` (default 600), `LENDGATE_BENCH_SOAK_RATE` (requests a second,
30), `LENDGATE_BENCH_SOAK_SAMPLE_SECONDS` (default as above), `LENDGATE_BENCH_SOAK_CONSENTS`
(approved before the clock starts, 20) and `LENDGATE_BENCH_WORKERS` (1) change the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from lendgate_sdk import LendgateAPIError, LendgateClient, RegulatorClient

from bench._stack import (
    Deployment,
    Gateway,
    approve_as_borrower,
    approve_consents,
    consent_request,
    deployment,
    register_client,
    register_lender,
    rss_mb,
)

RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"
SEED = 20261203
MAX_IN_FLIGHT = 200
"""Operations running at once beyond which the driver skips a start (and counts it)."""
DRAIN_SECONDS = 60.0

# (method, path) to the kind of request it is, for the per-kind figures.
KINDS = (
    ("POST", re.compile(r"/oauth/token"), "token"),
    ("POST", re.compile(r"/v1/consent-requests"), "consent_request"),
    ("POST", re.compile(r"/v1/borrower/otp"), "borrower_otp"),
    ("POST", re.compile(r"/v1/borrower/session"), "borrower_session"),
    ("POST", re.compile(r"/v1/borrower/consents/[^/]+/approve"), "approve"),
    ("POST", re.compile(r"/v1/consents/[^/]+/releases"), "release"),
    ("POST", re.compile(r"/v1/consents/[^/]+/revoke"), "revoke"),
    ("GET", re.compile(r"/v1/consents/[^/]+"), "consent_read"),
    ("GET", re.compile(r"/v1/audit/entries"), "audit_entries"),
    ("GET", re.compile(r"/v1/audit/sth"), "tree_head"),
    ("GET", re.compile(r"/v1/audit/proofs/inclusion"), "inclusion_proof"),
    ("GET", re.compile(r"/\.well-known/jwks\.json"), "gateway_jwks"),
)
# Operation: (weight, requests it sends).
MIX = {
    "onboard": (1.0, 5),
    "release": (6.0, 1),
    "read": (4.0, 1),
    "revoke": (0.5, 1),
    "audit_entries": (1.5, 1),
    "proof": (1.0, 2),
}


def _setting(name: str, default: str) -> str:
    return os.environ.get(f"LENDGATE_BENCH_{name}", default)


def run() -> None:
    """Drive the soak, print each sample and the slopes, write `bench/results/soak.json`."""
    asyncio.run(_run())


def kind_of(method: str, path: str) -> str:
    """The kind of request `method path` is."""
    for kind_method, pattern, kind in KINDS:
        if method == kind_method and pattern.fullmatch(path):
            return kind
    return f"other {method}"


# --- what the driver saw --------------------------------------------------------------------


@dataclass
class Window:
    """The requests answered in one sample window."""

    started: float
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)


class Recorder:
    """Collects every request's latency and outcome into the current window."""

    def __init__(self) -> None:
        self.window = Window(time.monotonic())

    def record(self, kind: str, latency_ms: float, error: str | None) -> None:
        """One answered (or failed) request."""
        self.window.latencies_ms.setdefault(kind, []).append(latency_ms)
        if error is not None:
            self.window.errors[f"{kind}: {error}"] += 1

    def error(self, what: str) -> None:
        """A failure that is not one request's answer (an operation's own, a skipped start)."""
        self.window.errors[what] += 1

    def take(self) -> Window:
        """The window so far; a new one starts now."""
        window, self.window = self.window, Window(time.monotonic())
        return window


class TimedTransport(httpx.AsyncBaseTransport):
    """Times each request to its last byte and records its outcome."""

    def __init__(self, recorder: Recorder) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._recorder = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, read the whole answer, record how long it took and what it was."""
        kind = kind_of(request.method, request.url.path)
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()
        except Exception as error:
            elapsed = (time.perf_counter() - started) * 1000
            self._recorder.record(kind, elapsed, f"connection {type(error).__name__}")
            raise
        elapsed = (time.perf_counter() - started) * 1000
        self._recorder.record(kind, elapsed, None if response.is_success else _code(response))
        return response

    async def aclose(self) -> None:
        """Close the connections."""
        await self._inner.aclose()


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    return f"{response.status_code} {code}" if isinstance(code, str) else str(response.status_code)


# --- the traffic ----------------------------------------------------------------------------


@dataclass
class Traffic:
    """The parties and the consents they act on."""

    stack: Deployment
    lender: LendgateClient
    regulator: RegulatorClient
    borrower: httpx.AsyncClient
    people: Iterator[str]
    rng: random.Random
    active: list[str]
    revoked: list[str] = field(default_factory=list)
    busy: Counter[str] = field(default_factory=Counter)
    """Operations in flight per consent: a consent is revoked only when it has none, so no
    release or read races its revocation (which would be a refusal, not an error)."""

    def pick(self) -> str | None:
        """An active consent, marked busy until `done`."""
        if not self.active:
            return None
        consent_id = self.rng.choice(self.active)
        self.busy[consent_id] += 1
        return consent_id

    def done(self, consent_id: str) -> None:
        """An operation on `consent_id` has ended."""
        self.busy[consent_id] -= 1

    async def onboard(self) -> None:
        """A consent requested by the lender and approved by its borrower."""
        body = consent_request(next(self.people), self.stack.population)
        consent_id = (await self.lender.request_consent(body))["consent_id"]
        await approve_as_borrower(self.stack, self.borrower, consent_id, body["borrower"]["phone"])
        self.active.append(consent_id)

    async def release(self) -> None:
        """A full release, decrypted and verified by the SDK."""
        consent_id = self.pick()
        if consent_id is not None:
            try:
                await self.lender.release(consent_id)
            finally:
                self.done(consent_id)

    async def read(self) -> None:
        """The lender reads one of its consents, revoked ones too."""
        consent_id = self.pick()
        if consent_id is not None:
            try:
                revoked = self.revoked and self.rng.random() < 0.2
                await self.lender.get_consent(
                    self.rng.choice(self.revoked) if revoked else consent_id
                )
            finally:
                self.done(consent_id)

    async def revoke(self) -> None:
        """The lender revokes an active consent no operation is using."""
        idle = [c for c in self.active if not self.busy[c]]
        if len(idle) > 1:
            consent_id = self.rng.choice(idle)
            self.active.remove(consent_id)
            await self.lender.revoke(consent_id)
            self.revoked.append(consent_id)

    async def audit_entries(self) -> None:
        """The regulator reads a page of the log: the latest entries, or one consent's."""
        if self.rng.random() < 0.5 and self.active:
            await self.regulator.audit_entries(consent_id=self.rng.choice(self.active))
        else:
            await self.regulator.audit_entries(limit=50)

    async def proof(self) -> None:
        """The regulator reads the tree head, then one leaf's inclusion proof in it."""
        head = await self.regulator.tree_head()
        size = int(head["tree_size"])
        await self.regulator.inclusion_proof(self.rng.randrange(size), size)

    def operation(self, name: str) -> Callable[[], Awaitable[None]]:
        """The operation called `name`."""
        operation: Callable[[], Awaitable[None]] = getattr(self, name)
        return operation


async def _operate(name: str, operation: Callable[[], Awaitable[None]], recorder: Recorder) -> None:
    try:
        await operation()
    except (LendgateAPIError, httpx.HTTPError):
        pass  # the request's own answer or failure is recorded by the transport
    except Exception as error:
        recorder.error(f"{name}: {type(error).__name__}")


# --- the run --------------------------------------------------------------------------------


async def _run() -> None:
    seconds = float(_setting("SOAK_SECONDS", "600"))
    rate = float(_setting("SOAK_RATE", "30"))
    sample_seconds = float(_setting("SOAK_SAMPLE_SECONDS", str(min(60.0, seconds / 10))))
    consents = int(_setting("SOAK_CONSENTS", "20"))
    workers = int(_setting("WORKERS", "1"))
    load_before = round(os.getloadavg()[0], 2)
    recorder = Recorder()
    async with deployment("soak", workers=workers) as stack:
        lender = register_lender(stack, TimedTransport(recorder))
        regulator_id, regulator_keys = register_client(stack, "regulator")
        regulator = RegulatorClient(
            stack.gateway.url, regulator_id, regulator_keys, transport=TimedTransport(recorder)
        )
        await approve_consents(stack, consents)
        borrower = httpx.AsyncClient(
            base_url=stack.gateway.url, transport=TimedTransport(recorder), timeout=60
        )
        traffic = Traffic(
            stack=stack,
            lender=lender,
            regulator=regulator,
            borrower=borrower,
            people=iter(stack.population.id_numbers()[consents:]),
            rng=random.Random(SEED),
            active=list(stack.consents),
        )
        print(
            f"   {consents} consents to start from; {workers} worker(s); {seconds:g} s at "
            f"about {rate:g} requests/s, a sample every {sample_seconds:g} s",
            flush=True,
        )
        try:
            samples = await _drive(traffic, recorder, seconds, rate, sample_seconds)
        finally:
            await borrower.aclose()
            await regulator.aclose()
            await lender.aclose()
        consents_at_end = {"active": len(traffic.active), "revoked": len(traffic.revoked)}
    results = _results(samples, seconds, rate, sample_seconds, workers, consents_at_end)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        # Whatever else ran on the machine meanwhile (1-minute load average).
        "load_average_before": load_before,
        "load_average_after": round(os.getloadavg()[0], 2),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    _print_summary(results)
    print(f"   written to {RESULTS}")


async def _drive(
    traffic: Traffic, recorder: Recorder, seconds: float, rate: float, sample_seconds: float
) -> list[dict[str, Any]]:
    """Start operations at the rate for `seconds`, sampling every `sample_seconds`."""
    names = list(MIX)
    weights = [MIX[name][0] for name in names]
    requests_per_operation = sum(w * MIX[n][1] for n, w in zip(names, weights, strict=True)) / sum(
        weights
    )
    interval = requests_per_operation / rate
    gateway = traffic.stack.gateway
    tasks: set[asyncio.Task[None]] = set()
    samples: list[dict[str, Any]] = []
    recorder.take()  # the set-up's requests are not the soak's
    started = time.monotonic()
    end = started + seconds
    cpu_at = (started, gateway.cpu_seconds())
    next_start, next_sample = started, started + sample_seconds
    while (now := time.monotonic()) < end:
        while next_start <= now:
            next_start += interval
            if len(tasks) >= MAX_IN_FLIGHT:
                recorder.error("skipped: too many operations in flight")
                continue
            name = traffic.rng.choices(names, weights)[0]
            task = asyncio.create_task(_operate(name, traffic.operation(name), recorder))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if now >= next_sample and next_sample < end - sample_seconds / 2:
            cpu_at = _sample(samples, recorder, gateway, started, cpu_at)
            next_sample += sample_seconds
        await asyncio.sleep(max(0.0, min(next_start, next_sample, end) - time.monotonic()))
    if tasks:
        _, unfinished = await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
        for task in unfinished:
            task.cancel()
            recorder.error("unfinished after the run")
    _sample(samples, recorder, gateway, started, cpu_at)
    return samples


def _sample(
    samples: list[dict[str, Any]],
    recorder: Recorder,
    gateway: Gateway,
    started: float,
    cpu_at: tuple[float, float],
) -> tuple[float, float]:
    """Close the current window into a sample; the CPU reading it ends at."""
    window = recorder.take()
    now, cpu = time.monotonic(), gateway.cpu_seconds()
    every = [ms for latencies in window.latencies_ms.values() for ms in latencies]
    sample: dict[str, Any] = {
        "minute": round((now - started) / 60, 3),
        "requests": len(every),
        "per_second": round(len(every) / (now - window.started), 1),
        "p50_ms": {k: round(_percentile(v, 50), 2) for k, v in sorted(window.latencies_ms.items())},
        "p99_ms": {k: round(_percentile(v, 99), 2) for k, v in sorted(window.latencies_ms.items())},
        "all_p50_ms": round(_percentile(every, 50), 2) if every else None,
        "all_p99_ms": round(_percentile(every, 99), 2) if every else None,
        "errors": dict(window.errors),
        "gateway_rss_mb": round(sum(rss_mb(pid) for pid in gateway.worker_pids()), 1),
        "gateway_cpu_percent": round(100 * (cpu - cpu_at[1]) / (now - cpu_at[0]), 1),
    }
    samples.append(sample)
    errors = sum(window.errors.values())
    print(
        f"   {sample['minute']:6.2f} min  {sample['per_second']:5.1f} req/s  "
        f"p50 {sample['all_p50_ms'] or 0:7.1f} ms  p99 {sample['all_p99_ms'] or 0:7.1f} ms  "
        f"release p50 {sample['p50_ms'].get('release', 0):7.1f} ms  "
        f"RSS {sample['gateway_rss_mb']:6.1f} MB  CPU {sample['gateway_cpu_percent']:5.1f} %  "
        f"errors {errors}",
        flush=True,
    )
    return now, cpu


def _percentile(values: list[float], percent: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x; None with fewer than two distinct x."""
    if len({x for x, _ in points}) < 2:
        return None
    xs, ys = zip(*points, strict=True)
    return statistics.linear_regression(xs, ys).slope


def _results(
    samples: list[dict[str, Any]],
    seconds: float,
    rate: float,
    sample_seconds: float,
    workers: int,
    consents_at_end: dict[str, int],
) -> dict[str, Any]:
    kinds = sorted({kind for sample in samples for kind in sample["p50_ms"]})
    p50_slopes = {
        kind: _slope([(s["minute"], s["p50_ms"][kind]) for s in samples if kind in s["p50_ms"]])
        for kind in kinds
    }
    all_p50 = [(s["minute"], s["all_p50_ms"]) for s in samples if s["all_p50_ms"] is not None]
    errors: Counter[str] = Counter()
    for sample in samples:
        errors.update(sample["errors"])
    requests = sum(sample["requests"] for sample in samples)
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench BENCH=soak",
        "seconds": seconds,
        "target_requests_per_s": rate,
        "sample_seconds": sample_seconds,
        "workers": workers,
        "mix": {name: weight for name, (weight, _) in MIX.items()},
        "requests": requests,
        "consents_at_end": consents_at_end,
        "errors": sum(errors.values()),
        "errors_by_code": dict(errors),
        "slopes": {
            "p50_ms_per_minute": {
                kind: round(slope, 3) if slope is not None else None
                for kind, slope in {**p50_slopes, "all": _slope(all_p50)}.items()
            },
            "rss_mb_per_minute": _round(
                _slope([(s["minute"], s["gateway_rss_mb"]) for s in samples])
            ),
        },
        "samples": samples,
    }


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _print_summary(results: dict[str, Any]) -> None:
    slopes = results["slopes"]
    samples = results["samples"]
    print(
        f"   {results['requests']} requests in {results['seconds']:g} s; "
        f"RSS {samples[0]['gateway_rss_mb']} → {samples[-1]['gateway_rss_mb']} MB",
        flush=True,
    )
    print("   p50 latency slope (ms per minute), by kind of request:")
    for kind, slope in slopes["p50_ms_per_minute"].items():
        print(f"     {kind:<18} {'n/a' if slope is None else f'{slope:+.3f}'}")
    rss = slopes["rss_mb_per_minute"]
    print(f"   RSS slope: {'n/a' if rss is None else f'{rss:+.3f}'} MB per minute")
    print(f"   errors: {results['errors']} {results['errors_by_code'] or ''}".rstrip())
