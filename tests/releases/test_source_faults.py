"""Sources that fail, overshare or plant personal data: what the lender gets, what the log says.

These tests run their own gateway, with its own keys and database (on each backend), over
their own simulators, so that the faults they inject and the circuit breakers they trip
touch no other test.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import pytest
from lendgate_sdk import LendgateAPIError, LendgateClient

from connectors.http import HttpSourceConnector
from connectors.registry import load_sources
from connectors.simulators.app import SimulatorState
from connectors.simulators.faults import FaultPlan
from connectors.simulators.population import Population
from gateway.privacy.egress import EgressGuard
from gateway.releases import service as releases_service
from tests.support.databases import BACKENDS, migrated_database
from tests.support.stack import LogCapture, Stack, gateway_settings, gateway_stack

TIMEOUT_SECONDS = 0.5
BREAKER_FAILURES = 3
BREAKER_RESET_SECONDS = 30.0
LI_SI = "440304199001010011"
ZHAO_LIU = "510107199203080030"


class Clock:
    """The breakers' monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module", params=BACKENDS)
async def own_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A database of this module's own, built by the migrations."""
    directory = tmp_path_factory.mktemp("faulty-sqlite")
    async with migrated_database(request.param, directory, "lendgate_faults") as url:
        yield url


@pytest.fixture(scope="module")
async def faulty(
    own_database_url: str,
    population: Population,
    tmp_path_factory: pytest.TempPathFactory,
    captured_logs: LogCapture,
    no_personal_data_in_logs_or_audit: list[str],
) -> AsyncIterator[Stack]:
    """A gateway of its own, with short timeouts, one retry and a quick breaker."""
    settings = gateway_settings(
        own_database_url,
        tmp_path_factory.mktemp("faulty-gateway"),
        source_timeout_seconds=TIMEOUT_SECONDS,
        source_retries=1,
        source_retry_backoff_seconds=0.001,
        source_breaker_failures=BREAKER_FAILURES,
        source_breaker_reset_seconds=BREAKER_RESET_SECONDS,
    )
    async with gateway_stack(
        settings, population, leaves=no_personal_data_in_logs_or_audit
    ) as gateway:
        yield gateway


@pytest.fixture
def clock(faulty: Stack) -> Iterator[Clock]:
    """Healthy simulators and closed breakers on a hand-moved clock, before and after each test."""
    clock = Clock()
    for source in faulty.simulators:
        simulator(faulty, source).set_faults(FaultPlan())
        breaker = connector(faulty, source).breaker
        breaker.record_success()
        breaker.clock = clock
    yield clock
    for source in faulty.simulators:
        simulator(faulty, source).set_faults(FaultPlan())
        connector(faulty, source).breaker.record_success()


def simulator(stack: Stack, source: str) -> SimulatorState:
    state: SimulatorState = stack.simulators[source].state.simulator
    return state


def connector(stack: Stack, source: str) -> HttpSourceConnector:
    return cast(HttpSourceConnector, stack.context.connectors[source])


def queries(stack: Stack) -> dict[str, int]:
    """How many queries each simulator has received so far."""
    return {source: simulator(stack, source).query_count for source in stack.simulators}


def asked_since(stack: Stack, before: dict[str, int]) -> dict[str, int]:
    """Queries each simulator received since `before`, for those that received any."""
    now = queries(stack)
    return {source: now[source] - before[source] for source in now if now[source] > before[source]}


async def refused_release(
    lender: LendgateClient, consent_id: str, features: list[str] | None = None
) -> LendgateAPIError:
    with pytest.raises(LendgateAPIError) as caught:
        await lender.release(consent_id, features)
    return caught.value


async def assert_denied_and_nothing_released(
    stack: Stack, consent_id: str, code: str, detail: str
) -> list[dict[str, Any]]:
    """The refusal is on record with its code; no release row; the leaves carry no values."""
    leaves = await stack.audit_leaves(consent_id)
    denied = leaves[-1]
    assert (denied["type"], denied["outcome"], denied["reason"]) == (
        "release.denied",
        "denied",
        code,
    )
    assert "release.granted" not in [leaf["type"] for leaf in leaves]
    assert await stack.release_count(consent_id) == 0
    assert detail  # the lender was told why, in words without values
    return leaves


# -- failures: SourceUnavailable, nothing released -----------------------------------------------


async def test_a_source_slower_than_its_timeout_is_unavailable(faulty: Stack, clock: Clock) -> None:
    simulator(faulty, "housing_fund").set_faults(FaultPlan(latency_ms=3000))
    async with faulty.lender_client(await faulty.register()) as lender:
        consent_id, _, _ = await faulty.active_consent(lender)
        started = time.perf_counter()
        error = await refused_release(lender, consent_id)
        elapsed = time.perf_counter() - started

    assert (error.status, error.code) == (503, "SourceUnavailable")
    assert error.detail == "Source housing_fund did not answer in time."
    # One attempt, bounded by the timeout: a timed-out read is not retried.
    assert TIMEOUT_SECONDS <= elapsed < TIMEOUT_SECONDS + 1.5
    leaves = await assert_denied_and_nothing_released(
        faulty, consent_id, "SourceUnavailable", error.detail
    )
    assert "source.fetched" not in [leaf["type"] for leaf in leaves]


async def test_a_source_answering_5xx_is_retried_then_unavailable(
    faulty: Stack, clock: Clock
) -> None:
    simulator(faulty, "credit_bureau").set_faults(FaultPlan(error_rate=1, error_status=502))
    async with faulty.lender_client(await faulty.register()) as lender:
        consent_id, _, _ = await faulty.active_consent(lender)
        before = queries(faulty)
        error = await refused_release(lender, consent_id)

    assert (error.status, error.code) == (503, "SourceUnavailable")
    assert error.detail == "Source credit_bureau answered with HTTP status 502."
    assert asked_since(faulty, before)["credit_bureau"] == 2  # the query and one retry
    await assert_denied_and_nothing_released(faulty, consent_id, "SourceUnavailable", error.detail)


async def test_a_source_answering_malformed_json_is_unavailable(
    faulty: Stack, clock: Clock
) -> None:
    simulator(faulty, "social_insurance").set_faults(FaultPlan(malformed_rate=1))
    async with faulty.lender_client(await faulty.register()) as lender:
        consent_id, _, _ = await faulty.active_consent(lender)
        before = queries(faulty)
        error = await refused_release(lender, consent_id)

    assert (error.status, error.code) == (503, "SourceUnavailable")
    assert error.detail == "Source social_insurance answered with a malformed body."
    assert asked_since(faulty, before)["social_insurance"] == 1  # not retried
    await assert_denied_and_nothing_released(faulty, consent_id, "SourceUnavailable", error.detail)


async def test_personal_data_planted_in_string_fields_is_unavailable(
    faulty: Stack, clock: Clock
) -> None:
    simulator(faulty, "housing_fund").set_faults(
        FaultPlan(plant_pii_rate=1, plant_pii_into="strings")
    )
    async with faulty.lender_client(await faulty.register()) as lender:
        consent_id, person, _ = await faulty.active_consent(lender)
        error = await refused_release(lender, consent_id, ["hf_status"])

    assert (error.status, error.code) == (503, "SourceUnavailable")
    assert person.phone not in error.detail and person.name not in error.detail
    await assert_denied_and_nothing_released(faulty, consent_id, "SourceUnavailable", error.detail)


# -- oversharing: dropped, on record, the release goes on ----------------------------------------


async def test_fields_sent_unasked_are_dropped_and_recorded_as_overshared(
    faulty: Stack, clock: Clock
) -> None:
    simulator(faulty, "housing_fund").set_faults(FaultPlan(overshare_rate=1))
    async with faulty.lender_client(await faulty.register()) as lender:
        consent_id, person, _ = await faulty.active_consent(lender)
        release = await lender.release(consent_id)

    leaves = await faulty.audit_leaves(consent_id)
    overshared = [leaf for leaf in leaves if leaf["type"] == "source.overshared"]
    assert len(overshared) == 1
    (event,) = overshared
    assert event["outcome"] == "dropped"
    assert {
        "housing_fund.name",
        "housing_fund.balance",
        "housing_fund.deposit_records",
        "housing_fund.internal_operator_note",
    } <= set(event["source_fields"])
    assert all(field.startswith("housing_fund.") for field in event["source_fields"])
    assert [leaf["type"] for leaf in leaves][-1] == "release.granted"
    assert release.features["hf_status"] in {"NORMAL", "SEALED", "CLOSED", "NONE"}
    payload = json.dumps(release.payload, ensure_ascii=False)
    assert person.name not in payload and person.phone not in payload
    assert person.name not in json.dumps(leaves, ensure_ascii=False)


async def test_personal_data_planted_in_remarks_never_reaches_the_lender(
    faulty: Stack, clock: Clock
) -> None:
    for source in ("social_insurance", "housing_fund", "credit_bureau"):
        simulator(faulty, source).set_faults(FaultPlan(plant_pii_rate=1))
    async with faulty.lender_client(await faulty.register()) as lender:
        consent_id, person, _ = await faulty.active_consent(lender)
        release = await lender.release(consent_id)

    assert EgressGuard().scan(release.payload) == []
    assert person.phone not in json.dumps(release.payload)
    overshared = [
        leaf
        for leaf in await faulty.audit_leaves(consent_id)
        if leaf["type"] == "source.overshared"
    ]
    assert sorted(field for leaf in overshared for field in leaf["source_fields"]) == [
        "credit_bureau.remarks",
        "housing_fund.remarks",
        "social_insurance.remarks",
    ]


async def test_personal_data_planted_in_a_number_is_blocked_at_egress(
    faulty: Stack, clock: Clock
) -> None:
    """A mobile number planted as an overdue count passes every shape check; the guard stops it."""
    simulator(faulty, "credit_bureau").set_faults(
        FaultPlan(plant_pii_rate=1, plant_pii_into="numbers")
    )
    zhao_liu = faulty.population.get(ZHAO_LIU)  # a sandbox identity with three card accounts
    assert zhao_liu is not None
    async with faulty.lender_client(await faulty.register()) as lender:
        consent_id, _, _ = await faulty.active_consent(
            lender,
            zhao_liu,
            purpose="credit_line_assessment",
            features=["cb_max_overdue_months_24m"],
        )
        error = await refused_release(lender, consent_id)

    assert (error.status, error.code) == (502, "EgressBlocked")
    assert "CN_MOBILE at features.cb_max_overdue_months_24m" in error.detail
    assert zhao_liu.phone not in error.detail
    leaves = await assert_denied_and_nothing_released(
        faulty, consent_id, "EgressBlocked", error.detail
    )
    # The source was asked (and that is on record), but nothing left the gateway.
    (fetched,) = [leaf for leaf in leaves if leaf["type"] == "source.fetched"]
    assert set(fetched["source_fields"]) == {
        "credit_bureau.card_accounts.repayment_history",
        "credit_bureau.loan_accounts.repayment_history",
    }
    assert zhao_liu.phone not in json.dumps(leaves)


# -- the circuit breaker -------------------------------------------------------------------------


async def readyz_sources(stack: Stack) -> dict[str, dict[str, Any]]:
    sources: dict[str, dict[str, Any]] = (await stack.http.get("/readyz")).json()["sources"]
    return sources


async def test_the_breaker_opens_fails_fast_and_closes_again(faulty: Stack, clock: Clock) -> None:
    simulator(faulty, "housing_fund").set_faults(FaultPlan(error_rate=1))
    async with faulty.lender_client(await faulty.register()) as lender:
        consent_id, _, _ = await faulty.active_consent(lender, features=["hf_status"])
        before = queries(faulty)
        for _ in range(BREAKER_FAILURES):
            error = await refused_release(lender, consent_id)
            assert error.detail == "Source housing_fund answered with HTTP status 503."
        assert asked_since(faulty, before) == {"housing_fund": 2 * BREAKER_FAILURES}
        assert (await readyz_sources(faulty))["housing_fund"]["circuit"] == "open"

        # Open: the release fails at once and the source is not even asked.
        token = await lender.access_token()
        response = await faulty.http.post(
            f"/v1/consents/{consent_id}/releases",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 503
        assert response.json() == {
            "error": "SourceUnavailable",
            "detail": "Source housing_fund is failing; it was not asked (circuit open).",
        }
        assert response.headers["Retry-After"] == str(int(BREAKER_RESET_SECONDS))
        assert asked_since(faulty, before) == {"housing_fund": 2 * BREAKER_FAILURES}

        # The source recovers; after the reset time one trial goes through and closes it.
        simulator(faulty, "housing_fund").set_faults(FaultPlan())
        clock.now += BREAKER_RESET_SECONDS
        assert (await readyz_sources(faulty))["housing_fund"]["circuit"] == "half_open"
        release = await lender.release(consent_id)

    assert release.features["hf_status"] in {"NORMAL", "SEALED", "CLOSED", "NONE"}
    assert (await readyz_sources(faulty))["housing_fund"]["circuit"] == "closed"
    leaves = await faulty.audit_leaves(consent_id)
    assert [leaf["reason"] for leaf in leaves if leaf["type"] == "release.denied"] == [
        "SourceUnavailable"
    ] * (BREAKER_FAILURES + 1)
    assert leaves[-1]["type"] == "release.granted"
    assert await faulty.release_count(consent_id) == 1


async def test_readyz_reports_each_sources_health_and_breaker(faulty: Stack, clock: Clock) -> None:
    breaker = connector(faulty, "credit_bureau").breaker
    for _ in range(BREAKER_FAILURES):
        breaker.record_failure()

    response = await faulty.http.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True and body["database"] == "ok"
    assert set(body["sources"]) == set(load_sources())
    assert body["sources"]["credit_bureau"] == {"status": "ok", "circuit": "open"}
    assert body["sources"]["utility"] == {"status": "ok", "circuit": "closed"}


# -- minimal contact -----------------------------------------------------------------------------


async def test_a_housing_fund_release_never_contacts_the_other_sources(
    faulty: Stack, clock: Clock
) -> None:
    features = ["hf_status"]
    async with faulty.lender_client(await faulty.register()) as lender:
        consent_id, _, _ = await faulty.active_consent(lender, features=features)
        before = queries(faulty)
        release = await lender.release(consent_id)

    assert set(release.features) == set(features)
    assert asked_since(faulty, before) == {"housing_fund": 1}
    assert list(simulator(faulty, "housing_fund").queries)[-1].fields == ("account_status",)
    fetched = [
        leaf for leaf in await faulty.audit_leaves(consent_id) if leaf["type"] == "source.fetched"
    ]
    assert [leaf["source_fields"] for leaf in fetched] == [["housing_fund.account_status"]]
    assert set(release.payload["sources"]) == {"housing_fund"}


# -- the fourth source, through the plug-in interface --------------------------------------------


def test_the_release_pipeline_names_no_source() -> None:
    """Adding `utility` took a schema, a connector, settings and features — no pipeline change."""
    pipeline = inspect.getsource(releases_service)
    for source in load_sources():
        assert source not in pipeline


async def test_utility_features_are_released_from_the_utility_source(
    faulty: Stack, clock: Clock
) -> None:
    li_si = faulty.population.get(LI_SI)
    assert li_si is not None
    features = ["ut_on_time_months", "ut_in_arrears"]
    async with faulty.lender_client(await faulty.register()) as lender:
        consent_id, _, _ = await faulty.active_consent(lender, li_si, features=features)
        before = queries(faulty)
        release = await lender.release(consent_id)

    # 李四 paid late twice while out of work last year, and last month's bills are unpaid.
    assert release.features == {"ut_on_time_months": 21, "ut_in_arrears": True}
    assert asked_since(faulty, before) == {"utility": 1}
    assert list(simulator(faulty, "utility").queries)[-1].fields == (
        "arrears_amount",
        "bill_records.paid_on_time",
    )
    assert set(release.payload["sources"]) == {"utility"}


async def test_a_failing_utility_source_is_unavailable_like_any_other(
    faulty: Stack, clock: Clock
) -> None:
    simulator(faulty, "utility").set_faults(FaultPlan(timeout_rate=1, hang_seconds=5))
    async with faulty.lender_client(await faulty.register()) as lender:
        consent_id, _, _ = await faulty.active_consent(lender, features=["ut_in_arrears"])
        error = await refused_release(lender, consent_id)

    assert (error.status, error.code) == (503, "SourceUnavailable")
    assert error.detail == "Source utility did not answer in time."
    await assert_denied_and_nothing_released(faulty, consent_id, "SourceUnavailable", error.detail)
