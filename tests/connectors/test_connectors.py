"""The HTTP source connectors: ask the minimum, keep nothing extra, fail as SourceUnavailable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import date
from typing import Any

import httpx
import pytest

from connectors.base import Month, MonthRange, SourceConnector
from connectors.http import HttpSourceConnector
from connectors.registry import build_connectors, close_all, fetch_all, load_sources
from connectors.simulators.app import create_simulator_app
from connectors.simulators.population import Population
from connectors.sources.credit_bureau.connector import CreditBureauConnector
from connectors.sources.housing_fund.connector import HousingFundConnector
from connectors.sources.social_insurance.connector import SocialInsuranceConnector
from connectors.sources.utility.connector import UtilityConnector
from gateway.core.errors import SourceUnavailable
from gateway.core.settings import Settings

TODAY = date(2026, 11, 23)
MONTHS = MonthRange.ending(Month(2026, 10), 24)
ZHANG_SAN = "11010519491231002X"
WANG_WU = "310101198506150024"

Answer = Callable[[httpx.Request], httpx.Response]
Handler = Answer | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


@pytest.fixture(scope="module")
def population() -> Population:
    """A seeded population on a fixed day."""
    return Population.generate(5, 200, today=TODAY)


@pytest.fixture
def settings() -> Settings:
    """Development credentials and short timeouts."""
    return load_sources().configure(Settings(environment="test", source_timeout_seconds=0.5))


def simulator_transports(
    settings: Settings, population: Population
) -> dict[str, httpx.AsyncBaseTransport]:
    return {
        source: httpx.ASGITransport(
            app=create_simulator_app(
                source, credential=settings.source_credentials[source], population=population
            )
        )
        for source in settings.source_urls
    }


@pytest.fixture
async def connectors(
    settings: Settings, population: Population
) -> AsyncIterator[dict[str, SourceConnector]]:
    """One connector per source, talking to the in-process simulators."""
    connectors = build_connectors(settings, simulator_transports(settings, population))
    yield connectors
    await close_all(connectors)


def stub(handler: Handler, timeout: float = 0.5) -> SocialInsuranceConnector:
    """A social-insurance connector whose source is `handler`."""
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return SocialInsuranceConnector(
        "http://si.test", "stub-key", timeout_seconds=timeout, client=client
    )


def answering(record: dict[str, Any], found: bool = True) -> Answer:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"source": "social_insurance", "as_of": "2026-10", "found": found, "record": record}
        return httpx.Response(200, json=body)

    return handler


# -- through the simulators ----------------------------------------------------------------------


def test_registry_knows_every_source() -> None:
    assert {name: source.connector for name, source in load_sources().items()} == {
        "social_insurance": SocialInsuranceConnector,
        "housing_fund": HousingFundConnector,
        "credit_bureau": CreditBureauConnector,
        "utility": UtilityConnector,
    }


async def test_fetch_returns_exactly_the_requested_fields(
    connectors: dict[str, SourceConnector],
) -> None:
    record = await connectors["social_insurance"].fetch(
        ZHANG_SAN, ["insured_status", "contribution_records.base"], MONTHS
    )

    assert (record.source, record.as_of, record.found) == (
        "social_insurance",
        Month(2026, 10),
        True,
    )
    assert set(record.fields) == {"insured_status", "contribution_records"}
    assert len(record.fields["contribution_records"]) == 24
    assert all(set(item) == {"month", "base"} for item in record.fields["contribution_records"])
    assert record.overshared == ()


async def test_person_unknown_to_a_source_is_not_found(
    connectors: dict[str, SourceConnector],
) -> None:
    record = await connectors["housing_fund"].fetch(WANG_WU, ["account_status"], MONTHS)

    assert record.found is False
    assert record.fields == {}
    assert record.overshared == ()


async def test_health_reports_whether_the_source_answers(
    connectors: dict[str, SourceConnector],
) -> None:
    assert await connectors["credit_bureau"].health() is True

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    assert await stub(lambda request: httpx.Response(500)).health() is False
    assert await stub(down).health() is False


async def test_asking_for_a_field_outside_the_schema_is_a_programming_error() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200)

    with pytest.raises(ValueError, match="deposit_base"):
        await stub(handler).fetch(ZHANG_SAN, ["deposit_base"], MONTHS)
    assert requests == []


# -- what the connector sends and keeps ----------------------------------------------------------


async def test_query_carries_the_credential_fields_and_range() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answering({"insured_status": "NORMAL"})(request)

    await stub(handler).fetch(ZHANG_SAN, {"insured_status"}, MONTHS)

    (request,) = seen
    assert request.url == "http://si.test/v1/query"
    assert request.headers["X-Api-Key"] == "stub-key"
    assert json.loads(request.content) == {
        "id_number": ZHANG_SAN,
        "fields": ["insured_status"],
        "from_month": "2024-11",
        "to_month": "2026-10",
    }


async def test_fields_nobody_asked_for_are_dropped_and_reported() -> None:
    connector = stub(
        answering(
            {
                "insured_status": "NORMAL",
                "name": "某某",
                "current_employer_code": "stub",
                "contribution_records": [
                    {"month": "2026-09", "paid": True, "base": 9000, "employer_code": "stub"},
                    {"month": "2026-10", "paid": True, "base": 9000, "employer_code": "stub"},
                ],
            }
        )
    )

    record = await connector.fetch(
        ZHANG_SAN, ["insured_status", "contribution_records.paid"], MONTHS
    )

    assert record.fields == {
        "insured_status": "NORMAL",
        "contribution_records": [
            {"month": "2026-09", "paid": True},
            {"month": "2026-10", "paid": True},
        ],
    }
    assert record.overshared == (
        "contribution_records.base",
        "contribution_records.employer_code",
        "current_employer_code",
        "name",
    )


async def test_items_outside_the_consented_months_are_dropped_and_reported() -> None:
    connector = stub(
        answering(
            {
                "contribution_records": [
                    {"month": "2019-01", "paid": True},
                    {"month": "2026-10", "paid": True},
                ]
            }
        )
    )

    record = await connector.fetch(ZHANG_SAN, ["contribution_records.paid"], MONTHS)

    assert record.fields == {"contribution_records": [{"month": "2026-10", "paid": True}]}
    assert record.overshared == ("contribution_records",)


async def test_credit_lists_are_minimised_inside_accounts_too() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        card = {
            "opened": "2019-05-01",
            "credit_limit": 10_000,
            "used_amount": 500,
            "five_class": "NORMAL",
            "card_number": "stub",
            "repayment_history": [
                {"month": "2020-01", "overdue_months": 0, "overdue_amount": 0},
                {"month": "2026-10", "overdue_months": 0, "overdue_amount": 0},
            ],
        }
        record = {
            "card_accounts": [card],
            "inquiries": [{"date": "2026-10-05", "reason": "SELF", "operator": "stub"}],
        }
        body = {"source": "credit_bureau", "as_of": "2026-10", "found": True, "record": record}
        return httpx.Response(200, json=body)

    connector = CreditBureauConnector(
        "http://cb.test", "k", client=httpx.AsyncClient(transport=httpx.MockTransport(handler))
    )

    record = await connector.fetch(ZHANG_SAN, ["card_accounts", "inquiries.reason"], MONTHS)

    (card,) = record.fields["card_accounts"]
    assert "card_number" not in card
    assert [entry["month"] for entry in card["repayment_history"]] == ["2026-10"]
    assert record.fields["inquiries"] == [{"date": "2026-10-05", "reason": "SELF"}]
    assert record.overshared == (
        "card_accounts.card_number",
        "card_accounts.repayment_history",
        "inquiries.operator",
    )


async def test_a_not_found_answer_keeps_nothing() -> None:
    record = await stub(answering({"name": "某某"}, found=False)).fetch(
        ZHANG_SAN, ["insured_status"], MONTHS
    )

    assert record.found is False and record.fields == {}
    assert record.overshared == ("name",)


# -- failures ------------------------------------------------------------------------------------


def raising(error: type[httpx.TransportError]) -> Answer:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("stub failure", request=request)

    return handler


async def slow(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(5)
    return answering({})(request)


def body(content: bytes, status: int = 200) -> Answer:
    return lambda request: httpx.Response(status, content=content)


def answer(**changes: Any) -> Answer:
    good = {"source": "social_insurance", "as_of": "2026-10", "found": True, "record": {}}
    return body(json.dumps({**good, **changes}).encode())


@pytest.mark.parametrize(
    ("handler", "detail"),
    [
        (raising(httpx.ReadTimeout), "Source social_insurance did not answer in time."),
        (slow, "Source social_insurance did not answer in time."),
        (raising(httpx.ConnectError), "Source social_insurance could not be reached."),
        (body(b"{}", 500), "Source social_insurance answered with HTTP status 500."),
        (body(b"{}", 404), "Source social_insurance answered with HTTP status 404."),
        (body(b"<html>busy</html>"), "Source social_insurance answered with a malformed body."),
        (body(b"[]"), "Source social_insurance answered with a malformed body."),
        (answer(as_of=None), "Source social_insurance answered with a malformed body."),
        (answer(as_of="Oct 2026"), "Source social_insurance answered with a malformed body."),
        (answer(found="yes"), "Source social_insurance answered with a malformed body."),
        (answer(record=[]), "Source social_insurance answered with a malformed body."),
        (answer(source="credit_bureau"), "Source social_insurance answered with a malformed body."),
        (
            answer(record={"contribution_records": "all of them"}),
            "Source social_insurance answered with a malformed body.",
        ),
        (
            answer(record={"contribution_records": [{"paid": True}]}),
            "Source social_insurance answered with a malformed body.",
        ),
    ],
)
async def test_source_failures_become_source_unavailable(handler: Handler, detail: str) -> None:
    connector = stub(handler, timeout=0.05)

    with pytest.raises(SourceUnavailable) as caught:
        await connector.fetch(ZHANG_SAN, ["contribution_records.paid"], MONTHS)

    assert caught.value.body() == {"error": "SourceUnavailable", "detail": detail}
    assert caught.value.status == 503
    assert ZHANG_SAN not in str(caught.value)


# -- several sources at once ---------------------------------------------------------------------


async def test_fetch_all_asks_only_the_planned_sources(
    settings: Settings, population: Population
) -> None:
    transports = simulator_transports(settings, population)
    unplanned: list[httpx.Request] = []

    def housing_fund(request: httpx.Request) -> httpx.Response:
        unplanned.append(request)
        return httpx.Response(500)

    transports["housing_fund"] = httpx.MockTransport(housing_fund)
    connectors = build_connectors(settings, transports)
    try:
        records = await fetch_all(
            connectors,
            ZHANG_SAN,
            {"social_insurance": ["insured_status"], "credit_bureau": ["inquiries.reason"]},
            MONTHS,
        )
    finally:
        await close_all(connectors)

    assert set(records) == {"social_insurance", "credit_bureau"}
    assert records["social_insurance"].fields == {"insured_status": "NORMAL"}
    assert set(records["credit_bureau"].fields) == {"inquiries"}
    assert unplanned == []


async def test_one_failing_source_fails_the_fetch_and_cancels_the_others(
    settings: Settings, population: Population
) -> None:
    settings = settings.model_copy(update={"source_timeout_seconds": 5.0})
    transports = simulator_transports(settings, population)
    cancelled = asyncio.Event()

    async def hanging(request: httpx.Request) -> httpx.Response:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return httpx.Response(500)

    transports["credit_bureau"] = httpx.MockTransport(hanging)
    transports["housing_fund"] = httpx.MockTransport(lambda request: httpx.Response(502))
    connectors = build_connectors(settings, transports)
    plan = {
        "social_insurance": ["insured_status"],
        "housing_fund": ["account_status"],
        "credit_bureau": ["inquiries"],
    }
    try:
        with pytest.raises(SourceUnavailable) as caught:
            await asyncio.wait_for(fetch_all(connectors, ZHANG_SAN, plan, MONTHS), timeout=2)
    finally:
        await close_all(connectors)

    assert caught.value.detail == "Source housing_fund answered with HTTP status 502."
    assert cancelled.is_set()


async def test_a_slow_source_fails_the_fetch_in_time(
    settings: Settings, population: Population
) -> None:
    transports = simulator_transports(settings, population)
    transports["housing_fund"] = httpx.MockTransport(slow)
    connectors = build_connectors(settings, transports)
    plan = {"social_insurance": ["insured_status"], "housing_fund": ["account_status"]}
    try:
        with pytest.raises(SourceUnavailable) as caught:
            await asyncio.wait_for(fetch_all(connectors, ZHANG_SAN, plan, MONTHS), timeout=2)
    finally:
        await close_all(connectors)

    assert caught.value.body() == {
        "error": "SourceUnavailable",
        "detail": "Source housing_fund did not answer in time.",
    }


async def test_build_connectors_refuses_a_source_it_has_no_connector_for(
    settings: Settings,
) -> None:
    settings = settings.model_copy(
        update={"source_urls": {**settings.source_urls, "tax_bureau": "http://127.0.0.1:9"}}
    )

    with pytest.raises(ValueError, match="tax_bureau"):
        build_connectors(settings)


def test_connector_repr_shows_no_credential() -> None:
    connector = stub(lambda request: httpx.Response(200))

    assert repr(connector) == (
        "SocialInsuranceConnector(source='social_insurance', base_url='http://si.test')"
    )


async def test_each_source_gets_its_own_timeout_retries_and_breaker() -> None:
    settings = Settings(
        environment="test",
        source_timeout_seconds=4.0,
        source_timeouts={"credit_bureau": 8.0},
        source_retries=1,
        source_retry_backoff_seconds=0.25,
        source_breaker_failures=7,
        source_breaker_reset_seconds=12.0,
    )

    built = build_connectors(settings)
    connectors = {source: c for source, c in built.items() if isinstance(c, HttpSourceConnector)}
    assert connectors.keys() == built.keys()

    timeouts = {source: c.timeout_seconds for source, c in connectors.items()}
    assert timeouts == {
        "social_insurance": 4.0,
        "housing_fund": 4.0,
        "credit_bureau": 8.0,
        "utility": 4.0,
    }
    breakers = [c.breaker for c in connectors.values()]
    assert len({id(breaker) for breaker in breakers}) == 4  # one per source
    assert {(b.source, b.failure_threshold, b.reset_seconds) for b in breakers} == {
        (source, 7, 12.0) for source in connectors
    }
    retry = connectors["utility"].retry
    assert (retry.retries, retry.backoff_seconds) == (1, 0.25)
    assert all(c.circuit == "closed" for c in connectors.values())
    await close_all(built)
