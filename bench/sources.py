"""Sources: population generation, and connector fetch latency against the simulators.

Every figure is printed next to a baseline measured in the same run:

* generating the default population (10,000 people) against generating 1,000 — the
  ratio shows whether start-up grows linearly;
* building one person's four source records (the work behind every simulated answer)
  against building the 社保 record alone;
* one connector fetch through the HTTP protocol (in-process ASGI transport: credential,
  projection, validation, minimisation) against the simulator's own answer computed in
  process (cached record, projected) — the ratio is the protocol's overhead;
* a fetch from a source whose circuit breaker is open, against a healthy fetch;
* a fetch with 20 ms of injected latency, against a healthy one.

Run with `python -m bench sources` (or `make bench BENCH=sources`).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date

import httpx

from connectors.base import Month, MonthRange
from connectors.http import HttpSourceConnector
from connectors.registry import build_connectors, close_all, load_sources
from connectors.resilience import CircuitOpen
from connectors.simulators.app import SimulatorState, create_simulator_app, project
from connectors.simulators.faults import FaultPlan
from connectors.simulators.population import Population
from gateway.core.settings import Settings

TODAY = date(2026, 11, 23)
MONTHS = MonthRange.ending(Month(2026, 10), 24)
SEED = 20261123
FETCHES = 300
FIELDS = {
    "social_insurance": [
        "insured_status",
        "contribution_records.paid",
        "contribution_records.base",
    ],
    "housing_fund": ["account_status", "deposit_base", "deposit_records.paid"],
    "credit_bureau": ["loan_accounts.repayment_history", "card_accounts.repayment_history"],
    "utility": ["arrears_amount", "bill_records.paid_on_time"],
}


def _seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


async def _latencies(call: Callable[[int], Awaitable[object]], count: int) -> list[float]:
    """Per-call wall times in milliseconds."""
    times = []
    for index in range(count):
        started = time.perf_counter()
        await call(index)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _p(values: list[float], percent: int) -> float:
    return statistics.quantiles(values, n=100)[percent - 1]


def _line(label: str, value: float, unit: str, baseline: float) -> None:
    print(f"   {label:<52} {value:9.3f} {unit:<3} x{value / baseline:7.2f}", flush=True)


def run() -> None:
    """Print population and connector figures with their same-run baselines."""
    settings = load_sources().configure(Settings(environment="test", source_retries=0))
    size = settings.simulator_population
    small = _seconds(lambda: Population.generate(SEED, 1_000, today=TODAY))
    holder: list[Population] = []
    full = _seconds(lambda: holder.append(Population.generate(SEED, size, today=TODAY)))
    population = holder[0]
    print(f"   population: {size} people (baseline: 1000)", flush=True)
    _line(f"generate {size} people", full * 1000, "ms", small * 1000)

    ids = population.id_numbers()[4 : 4 + 500]
    _seconds(lambda: [population.record("social_insurance", i) for i in ids])  # warm up
    alone = Population.generate(SEED, size, today=TODAY)
    one_source = _seconds(lambda: [alone.record("social_insurance", i) for i in ids])
    fresh = Population.generate(SEED, size, today=TODAY)
    all_sources = _seconds(
        lambda: [fresh.record(source, i) for i in ids for source in load_sources()]
    )
    cached = _seconds(lambda: [fresh.record(source, i) for i in ids for source in load_sources()])
    per_person = 1000 / len(ids)
    print("   records (baseline: the 社保 record alone, per person)", flush=True)
    _line(
        "build all 4 source records, per person",
        all_sources * per_person,
        "ms",
        one_source * per_person,
    )
    _line(
        "read all 4 again from the cache, per person",
        cached * per_person,
        "ms",
        one_source * per_person,
    )
    asyncio.run(_fetches(settings, population, ids))


async def _fetches(settings: Settings, population: Population, ids: list[str]) -> None:
    simulators = {
        source: create_simulator_app(
            source, credential=settings.source_credentials[source], population=population
        )
        for source in settings.source_urls
    }
    transports = {source: httpx.ASGITransport(app=app) for source, app in simulators.items()}
    connectors = build_connectors(settings, transports)
    try:
        for id_number in ids:  # every record built once: what follows is the protocol's cost
            for source in FIELDS:
                population.record(source, id_number)
        first, last = str(MONTHS.first), str(MONTHS.last)
        for source, fields in FIELDS.items():

            async def direct(
                index: int, source: str = source, fields: list[str] = fields
            ) -> object:
                record = population.record(source, ids[index % len(ids)])
                return project(record, fields, first, last) if record else None

            async def fetch(index: int, source: str = source, fields: list[str] = fields) -> object:
                return await connectors[source].fetch(ids[index % len(ids)], fields, MONTHS)

            await _latencies(fetch, 20)  # warm up
            baseline = _p(await _latencies(direct, FETCHES), 50)
            fetched = await _latencies(fetch, FETCHES)
            print(
                f"   {source}: fetch p50 {_p(fetched, 50):.3f} ms, p95 {_p(fetched, 95):.3f} ms"
                f" (baseline: the same answer projected in process, p50 {baseline * 1000:.1f} µs)",
                flush=True,
            )
            _line(f"{source} fetch p50 / in-process answer", _p(fetched, 50), "ms", baseline)

        connector = connectors["housing_fund"]
        assert isinstance(connector, HttpSourceConnector)

        async def healthy(index: int) -> object:
            return await connector.fetch(ids[index % len(ids)], FIELDS["housing_fund"], MONTHS)

        healthy_p50 = _p(await _latencies(healthy, FETCHES), 50)

        for _ in range(connector.breaker.failure_threshold):
            connector.breaker.record_failure()

        async def refused(index: int) -> object:
            try:
                return await healthy(index)
            except CircuitOpen:
                return None

        open_p50 = _p(await _latencies(refused, FETCHES), 50)
        connector.breaker.record_success()
        _line("housing_fund fetch, breaker open / healthy", open_p50, "ms", healthy_p50)

        state: SimulatorState = simulators["housing_fund"].state.simulator
        state.set_faults(FaultPlan(latency_ms=20))
        slow_p50 = _p(await _latencies(healthy, 40), 50)
        state.set_faults(FaultPlan())
        _line("housing_fund fetch, +20 ms injected / healthy", slow_p50, "ms", healthy_p50)
    finally:
        await close_all(connectors)
