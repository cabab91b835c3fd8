"""The release path under load: releases a second, latency, errors, CPU and memory per worker.

A deployment on loopback (`bench/_stack.py`): PostgreSQL, `lendgate simulators serve`,
`lendgate serve --workers 2`, a lender and approved PERIODIC consents (post-loan
monitoring, allowed daily up to the schema's ceiling through `LENDGATE_POLICY_DIR`, rate
limits lifted). wrk (Debian's `wrk`, with `bench/requests.lua`) drives, at 8, 32, 128 and 512
connections, in turn:

- `GET /healthz` — the gateway's floor;
- the three sources asked directly for the full release's fields, as a lender with no
  gateway would: three wrk processes at once, one per source, each with that many
  connections; a set is one answer from each, so sets/s is the slowest source's rate;
- a one-feature release (`si_active`) and the full release (twelve features from 社保,
  公积金 and 征信), `POST /v1/consents/{id}/releases` round-robin over the consents with a
  bearer token minted through the SDK's client-credentials flow before each run.

Each run reports answers a second, p50/p90/p99 (wrk's distribution), errors by code
(status, the body's `error`, socket errors, and timeouts: answers slower than 5 s), the
requests still in flight when it ended, the gateway's CPU time per release committed
(utime+stime of every gateway process from /proc, read before the run and after the gateway
has gone quiet, over the releases the database gained) and, at the end, each worker's peak
RSS (VmHWM). Everything goes to `bench/results/latest.json`; ratios against the baselines
and the targets are printed.

`LENDGATE_BENCH_RELEASE_SECONDS` (default 6), `LENDGATE_BENCH_RELEASE_CONSENTS` (100),
`LENDGATE_BENCH_WORKERS` (2) and `LENDGATE_BENCH_CONNECTIONS` (`8,32,128,512`) change the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._stack import (
    FULL_FEATURES,
    ONE_FEATURE,
    Deployment,
    LoadResult,
    approve_consents,
    deployment,
    peak_rss_mb,
    register_lender,
    release_count,
    release_lines,
    request_line,
    source_query_lines,
    wrk,
    wrk_result,
)

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
TARGETS = {
    "full_releases_per_s": 250,
    "full_vs_sources": 0.5,
    "p99_ms_at_32": 100,
    "cpu_ms_full": 3.0,
    "cpu_ms_one": 1.5,
    "rss_mb": 250,
}


def _setting(name: str, default: str) -> str:
    return os.environ.get(f"LENDGATE_BENCH_{name}", default)


def run() -> None:
    """Run every load level, write `bench/results/latest.json`, print figures and ratios."""
    asyncio.run(_run())


async def _run() -> None:
    seconds = float(_setting("RELEASE_SECONDS", "6"))
    consents = int(_setting("RELEASE_CONSENTS", "100"))
    workers = int(_setting("WORKERS", "2"))
    levels = [int(n) for n in _setting("CONNECTIONS", "8,32,128,512").split(",")]
    load_before = round(os.getloadavg()[0], 2)
    async with deployment("release", workers=workers) as stack:
        started = time.perf_counter()
        lender = register_lender(stack)
        await approve_consents(stack, consents)
        print(
            f"   {consents} consents approved through the public flow in "
            f"{time.perf_counter() - started:.1f} s; {workers} worker(s), {seconds:g} s a run",
            flush=True,
        )
        runs: dict[str, dict[int, dict[str, Any]]] = {}
        for connections in levels:
            runs.setdefault("healthz", {})[connections] = await _gateway_run(
                stack, [request_line("GET", "/healthz")], connections, seconds, releases=False
            )
            runs.setdefault("sources", {})[connections] = _sources_run(stack, connections, seconds)
            for kind, features in (("one_feature", ONE_FEATURE), ("full", None)):
                lender.forget_token()
                token = await lender.access_token()
                lines = release_lines(stack, token, features)
                runs.setdefault(kind, {})[connections] = await _gateway_run(
                    stack, lines, connections, seconds, releases=True
                )
            _print_level(runs, connections)
        rss = {str(pid): round(peak_rss_mb(pid), 1) for pid in stack.gateway.worker_pids()}
        await lender.aclose()
    results = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # Whatever else ran on the machine meanwhile (1-minute load average).
            "load_average_before": load_before,
            "load_average_after": round(os.getloadavg()[0], 2),
        },
        "command": "make bench BENCH=release",
        "workers": workers,
        "consents": consents,
        "seconds_per_run": seconds,
        "features": {"full": list(FULL_FEATURES), "one_feature": list(ONE_FEATURE)},
        "runs": {kind: {str(c): figures for c, figures in by.items()} for kind, by in runs.items()},
        "worker_peak_rss_mb": rss,
    }
    results["targets"] = _targets(runs, rss)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    _print_summary(results)
    print(f"   written to {RESULTS}")


async def _gateway_run(
    stack: Deployment, lines: list[str], connections: int, seconds: float, *, releases: bool
) -> dict[str, Any]:
    """One wrk run against the gateway, with the gateway's CPU time around it.

    CPU is read before the run and again once the gateway has gone quiet, so work still
    queued when wrk stops is counted; it is divided by the releases the database gained
    (for releases) or by the answers (for `/healthz`).
    """
    gateway = stack.gateway
    before, _ = gateway.settled_cpu_seconds()
    releases_before = await release_count(stack)
    result = wrk_result(
        wrk(gateway.url, lines, connections=connections, seconds=seconds, directory=stack.directory)
    )
    after, drained_in = gateway.settled_cpu_seconds()
    cpu = after - before
    committed = await release_count(stack) - releases_before
    figures = result.as_json()
    figures["gateway_cpu_s"] = round(cpu, 3)
    figures["releases_committed"] = committed
    # How long the gateway kept working after wrk stopped (60 s: still busy then).
    figures["drained_in_s"] = round(drained_in, 1)
    if releases:
        # Releases that reached the database, over the run and its drain: what an overloaded
        # gateway still got done, however late its answers.
        figures["committed_per_s"] = round(committed / (result.seconds + drained_in), 1)
    done = committed if releases else result.requests
    figures["cpu_ms_per_request"] = round(cpu * 1000 / done, 3) if done else None
    return figures


def _sources_run(stack: Deployment, connections: int, seconds: float) -> dict[str, Any]:
    """The three sources at once, each with `connections` connections; a set is one of each."""
    # More signed queries than a run can send: a source accepts each nonce once.
    lines = source_query_lines(stack, max(20_000, len(stack.people)))
    processes = {
        source: wrk(
            stack.simulator_urls[source],
            source_lines,
            connections=connections,
            seconds=seconds,
            directory=stack.directory,
        )
        for source, source_lines in lines.items()
    }
    results: dict[str, LoadResult] = {source: wrk_result(p) for source, p in processes.items()}
    return {
        "per_second": round(min(r.rate for r in results.values()), 1),
        "p50_ms": round(max(r.p50_ms for r in results.values()), 2),
        "p99_ms": round(max(r.p99_ms for r in results.values()), 2),
        "errors": {f"{s}: {code}": n for s, r in results.items() for code, n in r.errors.items()},
        "by_source": {source: result.as_json() for source, result in results.items()},
    }


def _print_level(runs: dict[str, dict[int, dict[str, Any]]], connections: int) -> None:
    for kind in ("healthz", "sources", "one_feature", "full"):
        figures = runs[kind][connections]
        cpu = figures.get("cpu_ms_per_request")
        errors = figures["errors"]
        granted = (
            f"ok {figures['ok_per_second']:.1f}/s  "
            if "ok_per_second" in figures and figures["ok_per_second"] != figures["per_second"]
            else ""
        )
        print(
            f"   {connections:>4} conns  {kind:<12} {figures['per_second']:8.1f}/s  {granted}"
            f"p50 {figures['p50_ms']:8.1f} ms  p99 {figures['p99_ms']:8.1f} ms  "
            + (f"cpu {cpu:6.2f} ms/req  " if cpu is not None else "")
            + (
                f"committed {figures['committed_per_s']}/s  "
                if "committed_per_s" in figures
                else ""
            )
            + (
                f"drained in {figures['drained_in_s']:.0f} s  "
                if figures.get("drained_in_s", 0) >= 1
                else ""
            )
            + (f"errors {errors}" if errors else "no errors"),
            flush=True,
        )


def _targets(
    runs: dict[str, dict[int, dict[str, Any]]], rss: dict[str, float]
) -> list[dict[str, Any]]:
    """Each target of the release path: the figure measured, and whether it is met."""
    full, one, sources = runs["full"], runs["one_feature"], runs["sources"]
    # Releases granted (2xx), not refusals: an `AuditUnavailable` is an answer, not a release.
    best_full = max(f["ok_per_second"] for f in full.values())
    best_sources = max(f["per_second"] for f in sources.values())

    def cpu(kind: dict[int, dict[str, Any]]) -> float | None:
        # The lowest-concurrency run: per-request CPU with the least queueing.
        figure = kind[min(kind)]["cpu_ms_per_request"]
        return float(figure) if figure is not None else None

    checks: list[tuple[str, float | None, str, bool]] = [
        ("full releases/s (best level) ≥ 250", best_full, "/s", best_full >= 250),
        (
            "full releases/s ÷ direct-sources sets/s (best levels) ≥ 0.5",
            best_full / best_sources if best_sources else None,
            "x",
            bool(best_sources) and best_full / best_sources >= 0.5,
        ),
    ]
    if 32 in full:
        p99 = full[32]["p99_ms"] if full[32]["requests"] else None
        checks.append(
            (
                "full release p99 at 32 connections ≤ 100 ms",
                p99,
                "ms",
                p99 is not None and p99 <= 100,
            )
        )
    if 512 in full:
        # Excess load refused with `RateLimited` (429, Retry-After) is what the target allows;
        # anything else — a timeout, a 5xx, a dropped socket — is an error.
        errors = sum(
            count
            for run in (full[512], one[512])
            for code, count in run["errors"].items()
            if code != "RateLimited"
        )
        answered = full[512]["requests"] > 0
        checks.append(
            (
                "errors other than RateLimited at 512 connections (full + one-feature) = 0",
                float(errors),
                "",
                errors == 0 and answered,
            )
        )
    full_cpu, one_cpu = cpu(full), cpu(one)
    checks += [
        (
            "gateway CPU per full release ≤ 3 ms",
            full_cpu,
            "ms",
            full_cpu is not None and full_cpu <= 3,
        ),
        (
            "gateway CPU per one-feature release ≤ 1.5 ms",
            one_cpu,
            "ms",
            one_cpu is not None and one_cpu <= 1.5,
        ),
        (
            "worker peak RSS ≤ 250 MB",
            max(rss.values(), default=None),
            "MB",
            max(rss.values(), default=0) <= 250,
        ),
    ]
    return [
        {
            "target": name,
            "measured": round(value, 2) if value is not None else None,
            "unit": unit,
            "met": met,
        }
        for name, value, unit, met in checks
    ]


def _print_summary(results: dict[str, Any]) -> None:
    runs = results["runs"]
    print("   ratios to the baselines of this run (same connections):")
    for connections in runs["full"]:
        health = runs["healthz"][connections]["per_second"]
        sources = runs["sources"][connections]["per_second"]
        full = runs["full"][connections]["ok_per_second"]
        one = runs["one_feature"][connections]["ok_per_second"]
        print(
            f"   {connections:>4} conns  full ÷ sources {full / sources if sources else 0:5.2f}x  "
            f"one ÷ sources {one / sources if sources else 0:5.2f}x  "
            f"full ÷ healthz {full / health if health else 0:6.3f}x  "
            f"full p50 ÷ sources p50 "
            f"{_ratio(runs['full'][connections]['p50_ms'], runs['sources'][connections]['p50_ms'])}"
        )
    print(f"   worker peak RSS (MB): {results['worker_peak_rss_mb']}")
    machine = results["machine"]
    print(
        f"   machine load average {machine['load_average_before']} before, "
        f"{machine['load_average_after']} after ({machine['cpus']} CPUs)"
    )
    print("   targets:")
    for target in results["targets"]:
        verdict = "pass" if target["met"] else "MISS"
        measured = target["measured"]
        shown = "—" if measured is None else f"{measured:g} {target['unit']}".strip()
        print(f"   {verdict:<4}  {target['target']}: {shown}")


def _ratio(value: float, base: float) -> str:
    return f"{value / base:5.2f}x" if base else "  —"
