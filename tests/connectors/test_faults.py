"""Fault injection on the simulators, and what the connectors make of each fault."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI

from connectors.base import Month, MonthRange, SourceConnector
from connectors.http import HttpSourceConnector
from connectors.registry import build_connectors, close_all, load_sources
from connectors.simulators.app import ADMIN_KEY_HEADER, SimulatorState, create_simulator_app
from connectors.simulators.faults import UNKNOWN_FIELD, FaultPlan, planted_text
from connectors.simulators.population import Population
from connectors.simulators.server import build_simulator_servers
from gateway.core.errors import SourceUnavailable
from gateway.core.settings import Settings
from gateway.privacy.egress import EgressGuard

TODAY = date(2026, 11, 23)
MONTHS = MonthRange.ending(Month(2026, 10), 24)
ADMIN_KEY = "test-admin-key"
ZHANG_SAN = "11010519491231002X"


@pytest.fixture(scope="module")
def population() -> Population:
    """A seeded population on a fixed day."""
    return Population.generate(11, 100, today=TODAY)


@pytest.fixture
def settings() -> Settings:
    """Short timeouts, no retries: each fault shows on the first try."""
    return load_sources().configure(
        Settings(environment="test", source_timeout_seconds=0.3, source_retries=0)
    )


@pytest.fixture
def simulators(settings: Settings, population: Population) -> dict[str, FastAPI]:
    """One simulator per source, with an admin side."""
    return {
        source: create_simulator_app(
            source,
            credential=settings.source_credentials[source],
            population=population,
            admin_key=ADMIN_KEY,
        )
        for source in settings.source_urls
    }


@pytest.fixture
async def connectors(
    settings: Settings, simulators: dict[str, FastAPI]
) -> AsyncIterator[dict[str, SourceConnector]]:
    """Connectors talking to those simulators in process."""
    transports = {source: httpx.ASGITransport(app=app) for source, app in simulators.items()}
    connectors = build_connectors(settings, transports)
    yield connectors
    await close_all(connectors)


def state(app: Any) -> SimulatorState:
    simulator: SimulatorState = app.state.simulator
    return simulator


async def admin(app: FastAPI, method: str, path: str, json: object = None) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim"
    ) as c:
        return await c.request(method, path, headers={ADMIN_KEY_HEADER: ADMIN_KEY}, json=json)


# -- the admin side ------------------------------------------------------------------------------


async def test_faults_are_set_read_and_cleared_over_http(simulators: dict[str, FastAPI]) -> None:
    app = simulators["housing_fund"]

    put = await admin(app, "PUT", "/admin/faults", json={"error_rate": 1, "error_status": 502})
    got = await admin(app, "GET", "/admin/faults")

    assert put.status_code == got.status_code == 200
    assert got.json()["error_rate"] == 1 and got.json()["error_status"] == 502
    assert state(app).faults.plan == FaultPlan(error_rate=1, error_status=502)

    cleared = await admin(app, "DELETE", "/admin/faults")
    assert cleared.status_code == 200 and state(app).faults.plan.healthy


@pytest.mark.parametrize(
    "plan",
    [{"error_rate": 2}, {"error_status": 404}, {"latency": 5}, {"plant_pii_into": "names"}],
)
async def test_a_bad_fault_plan_is_refused(simulators: dict[str, FastAPI], plan: object) -> None:
    app = simulators["utility"]

    response = await admin(app, "PUT", "/admin/faults", json=plan)

    assert response.status_code == 400 and response.json()["error"] == "BadRequest"
    assert state(app).faults.plan.healthy


async def test_the_admin_side_wants_its_key_and_is_off_without_one(
    simulators: dict[str, FastAPI], population: Population
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=simulators["utility"]), base_url="http://sim"
    ) as client:
        wrong = await client.put(
            "/admin/faults", json={"error_rate": 1}, headers={ADMIN_KEY_HEADER: "nope"}
        )
    statuses = []
    for admin_key in (None, ""):
        closed = create_simulator_app(
            "utility", credential="k", population=population, admin_key=admin_key
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=closed), base_url="http://sim"
        ) as client:
            off = await client.put(
                "/admin/faults", json={"error_rate": 1}, headers={ADMIN_KEY_HEADER: ""}
            )
        statuses.append(off.status_code)
        assert state(closed).faults.plan.healthy

    assert wrong.status_code == 401
    assert state(simulators["utility"]).faults.plan.healthy
    assert statuses == [404, 404]


async def test_the_query_log_names_fields_and_months_never_the_person(
    simulators: dict[str, FastAPI], connectors: dict[str, SourceConnector]
) -> None:
    await connectors["utility"].fetch(ZHANG_SAN, ["arrears_amount"], MONTHS)

    log = await admin(simulators["utility"], "GET", "/admin/queries")

    assert log.json() == {
        "count": 1,
        "queries": [
            {
                "fields": ["arrears_amount"],
                "from_month": "2024-11",
                "to_month": "2026-10",
                "outcome": "answered",
            }
        ],
    }
    assert ZHANG_SAN not in log.text


def test_fault_plans_come_from_the_settings_too(population: Population) -> None:
    settings = Settings(
        environment="test",
        simulator_faults={"credit_bureau": {"latency_ms": 800, "malformed_rate": 0.5}},
    )

    servers = {
        source: server for source, _, server in build_simulator_servers(settings, population)
    }

    app = servers["credit_bureau"].config.app
    assert state(app).faults.plan == FaultPlan(latency_ms=800, malformed_rate=0.5)
    assert state(servers["social_insurance"].config.app).faults.plan.healthy
    with pytest.raises(ValueError, match="tax_bureau"):
        build_simulator_servers(
            Settings(environment="test", simulator_faults={"tax_bureau": {}}), population
        )


# -- each fault, and the connector's answer to it ------------------------------------------------


async def test_latency_slows_every_answer(
    simulators: dict[str, FastAPI], connectors: dict[str, SourceConnector]
) -> None:
    state(simulators["social_insurance"]).set_faults(FaultPlan(latency_ms=120))

    started = time.perf_counter()
    record = await connectors["social_insurance"].fetch(ZHANG_SAN, ["insured_status"], MONTHS)

    assert time.perf_counter() - started >= 0.12
    assert record.fields == {"insured_status": "NORMAL"}


async def test_latency_beyond_the_timeout_is_unavailable(
    simulators: dict[str, FastAPI], connectors: dict[str, SourceConnector]
) -> None:
    state(simulators["social_insurance"]).set_faults(FaultPlan(latency_ms=2000))

    started = time.perf_counter()
    with pytest.raises(SourceUnavailable) as caught:
        await connectors["social_insurance"].fetch(ZHANG_SAN, ["insured_status"], MONTHS)

    assert time.perf_counter() - started < 1.0
    assert caught.value.detail == "Source social_insurance did not answer in time."


@pytest.mark.parametrize(
    ("plan", "detail", "outcome"),
    [
        (
            FaultPlan(timeout_rate=1, hang_seconds=5),
            "Source housing_fund did not answer in time.",
            "timeout",
        ),
        (FaultPlan(error_rate=1), "Source housing_fund answered with HTTP status 503.", "error"),
        (
            FaultPlan(error_rate=1, error_status=500),
            "Source housing_fund answered with HTTP status 500.",
            "error",
        ),
        (
            FaultPlan(malformed_rate=1),
            "Source housing_fund answered with a malformed body.",
            "malformed",
        ),
    ],
)
async def test_failures_become_source_unavailable(
    simulators: dict[str, FastAPI],
    connectors: dict[str, SourceConnector],
    plan: FaultPlan,
    detail: str,
    outcome: str,
) -> None:
    state(simulators["housing_fund"]).set_faults(plan)

    with pytest.raises(SourceUnavailable) as caught:
        await connectors["housing_fund"].fetch(ZHANG_SAN, ["account_status"], MONTHS)

    assert caught.value.body() == {"error": "SourceUnavailable", "detail": detail}
    assert [query.outcome for query in state(simulators["housing_fund"]).queries] == [outcome]


async def test_a_malformed_body_is_cut_off_json(simulators: dict[str, FastAPI]) -> None:
    app = simulators["utility"]
    state(app).set_faults(FaultPlan(malformed_rate=1))
    headers = {"X-Api-Key": "dev-utility-key"}
    body = {"id_number": ZHANG_SAN, "fields": ["arrears_amount"], "from_month": "2026-10"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        response = await c.post("/v1/query", json={**body, "to_month": "2026-10"}, headers=headers)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_oversharing_is_dropped_and_named(
    simulators: dict[str, FastAPI], connectors: dict[str, SourceConnector]
) -> None:
    state(simulators["credit_bureau"]).set_faults(FaultPlan(overshare_rate=1))

    record = await connectors["credit_bureau"].fetch(ZHANG_SAN, ["inquiries.reason"], MONTHS)

    assert set(record.fields) == {"inquiries"}
    assert all(set(item) == {"date", "reason"} for item in record.fields["inquiries"])
    assert {"name", "phone", "loan_accounts", "card_accounts", UNKNOWN_FIELD} <= set(
        record.overshared
    )
    assert "inquiries.querier_type" in record.overshared
    assert "张三" not in json.dumps(record.fields, ensure_ascii=False)


async def test_personal_data_planted_in_remarks_is_dropped_when_not_asked_for(
    simulators: dict[str, FastAPI], connectors: dict[str, SourceConnector]
) -> None:
    state(simulators["social_insurance"]).set_faults(FaultPlan(plant_pii_rate=1))

    record = await connectors["social_insurance"].fetch(ZHANG_SAN, ["insured_status"], MONTHS)

    assert record.fields == {"insured_status": "NORMAL"}
    assert record.overshared == ("remarks",)


async def test_personal_data_planted_in_remarks_is_what_the_source_answers_when_asked(
    simulators: dict[str, FastAPI], connectors: dict[str, SourceConnector], population: Population
) -> None:
    state(simulators["social_insurance"]).set_faults(FaultPlan(plant_pii_rate=1))
    person = population.get(ZHANG_SAN)
    assert person is not None

    record = await connectors["social_insurance"].fetch(ZHANG_SAN, ["remarks"], MONTHS)

    assert record.fields == {"remarks": planted_text(person)}
    findings = {
        finding.entity for finding in EgressGuard().scan({"note": record.fields["remarks"]})
    }
    assert {"CN_MOBILE", "CN_RESIDENT_ID"} <= findings


async def test_personal_data_planted_in_string_fields_breaks_the_answer(
    simulators: dict[str, FastAPI], connectors: dict[str, SourceConnector]
) -> None:
    state(simulators["housing_fund"]).set_faults(
        FaultPlan(plant_pii_rate=1, plant_pii_into="strings")
    )

    with pytest.raises(SourceUnavailable) as caught:
        await connectors["housing_fund"].fetch(ZHANG_SAN, ["deposit_records.paid"], MONTHS)

    # Every month key now holds a phone number: the answer no longer follows the protocol.
    assert caught.value.detail == "Source housing_fund answered with a malformed body."


async def test_personal_data_planted_in_numbers_passes_the_connector_unnoticed(
    simulators: dict[str, FastAPI], connectors: dict[str, SourceConnector], population: Population
) -> None:
    """A mobile number is a well-formed integer: only the egress guard can tell (API tests)."""
    person = population.get(ZHANG_SAN)
    assert person is not None
    state(simulators["credit_bureau"]).set_faults(
        FaultPlan(plant_pii_rate=1, plant_pii_into="numbers")
    )

    record = await connectors["credit_bureau"].fetch(
        ZHANG_SAN, ["card_accounts.repayment_history"], MONTHS
    )

    entries = [
        entry for card in record.fields["card_accounts"] for entry in card["repayment_history"]
    ]
    assert entries and all(entry["overdue_months"] == int(person.phone) for entry in entries)


async def test_fractional_rates_are_repeatable_with_the_seed(
    simulators: dict[str, FastAPI], connectors: dict[str, SourceConnector]
) -> None:
    app = simulators["utility"]

    async def outcomes() -> list[str]:
        state(app).set_faults(FaultPlan(error_rate=0.5, seed=7))
        state(app).queries.clear()
        for _ in range(20):
            with contextlib.suppress(SourceUnavailable):
                await connectors["utility"].fetch(ZHANG_SAN, ["arrears_months"], MONTHS)
            # Keep the breaker out of this test.
            cast(HttpSourceConnector, connectors["utility"]).breaker.record_success()
        return [query.outcome for query in state(app).queries]

    first = await outcomes()
    again = await outcomes()

    assert first == again
    assert 4 <= first.count("error") <= 16 and "answered" in first


async def test_a_hung_query_does_not_hold_the_simulator(
    simulators: dict[str, FastAPI], connectors: dict[str, SourceConnector]
) -> None:
    state(simulators["housing_fund"]).set_faults(FaultPlan(timeout_rate=1, hang_seconds=30))

    results = await asyncio.gather(
        connectors["housing_fund"].fetch(ZHANG_SAN, ["account_status"], MONTHS),
        connectors["social_insurance"].fetch(ZHANG_SAN, ["insured_status"], MONTHS),
        return_exceptions=True,
    )

    assert isinstance(results[0], SourceUnavailable)
    assert not isinstance(results[1], BaseException)
