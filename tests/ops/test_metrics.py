"""`/metrics`: every family the operations section names is exported, and moves with its event.

A gateway of this module's own (on each backend), so that the breaker it trips and the
phone it locks out touch no other test. Counters are process-wide: each test compares the
scrape after its event with the scrape before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import httpx
import pytest
from lendgate_sdk import LendgateAPIError
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from connectors.http import HttpSourceConnector
from connectors.simulators.app import SimulatorState
from connectors.simulators.faults import FaultPlan
from connectors.simulators.population import Population
from consent.notifications.service import dispatch_due
from gateway.audit.tree_heads import issue_tree_head
from gateway.core.db import unit_of_work
from gateway.core.errors import EgressBlocked
from tests.support.databases import BACKENDS, migrated_database
from tests.support.stack import LogCapture, Stack, gateway_settings, gateway_stack

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SANDBOX_ID_NUMBER = "11010519491231002X"


@pytest.fixture(scope="module", params=BACKENDS)
async def metered(
    request: pytest.FixtureRequest,
    population: Population,
    tmp_path_factory: pytest.TempPathFactory,
    captured_logs: LogCapture,
    no_personal_data_in_logs_or_audit: list[str],
) -> AsyncIterator[Stack]:
    """A gateway whose breakers open at the first failure and whose phones lock at the first
    wrong code, with no background jobs."""
    directory = tmp_path_factory.mktemp("metered")
    async with migrated_database(request.param, directory, "lendgate_metrics") as url:
        settings = gateway_settings(
            url,
            directory,
            source_retries=0,
            source_breaker_failures=1,
            source_breaker_reset_seconds=600,
            otp_lockout_failures=1,
            notification_dispatch_interval_seconds=0,
            audit_tree_head_interval_seconds=0,
            notification_max_attempts=1,
        )
        async with gateway_stack(
            settings, population, leaves=no_personal_data_in_logs_or_audit
        ) as gateway:
            yield gateway


async def scrape(stack: Stack) -> Samples:
    """Every sample of `/metrics`, by name and labels."""
    answer = await stack.http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def simulator(stack: Stack, source: str) -> SimulatorState:
    state: SimulatorState = stack.simulators[source].state.simulator
    return state


async def test_requests_are_counted_by_route_template_and_status(metered: Stack) -> None:
    before = await scrape(metered)
    assert (await metered.http.get("/healthz")).status_code == 200
    assert (await metered.http.get("/v1/consents/cst_missing")).status_code == 401
    after = await scrape(metered)

    route = "/v1/consents/{consent_id}"
    for name, labels, moved in (
        ("lendgate_http_requests_total", {"route": "/healthz", "status": "200"}, 1),
        ("lendgate_http_requests_total", {"route": route, "status": "401"}, 1),
        ("lendgate_http_request_duration_seconds_count", {"route": route}, 1),
    ):
        labels = {"method": "GET", **labels}
        assert value(after, name, **labels) - value(before, name, **labels) == moved
    # Never the path itself: ids stay out of the labels.
    assert not any("cst_missing" in str(labels) for _, labels in after)
    # A token refused, by its reason.
    reason = "An access token is required."
    assert (
        value(after, "lendgate_token_refusals_total", reason=reason)
        - value(before, "lendgate_token_refusals_total", reason=reason)
        == 1
    )


async def test_a_release_moves_releases_sources_audit_and_codes(metered: Stack) -> None:
    before = await scrape(metered)
    async with metered.lender_client(await metered.register()) as lender:
        consent_id, _, _ = await metered.active_consent(lender)
        await lender.release(consent_id)
    after = await scrape(metered)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("lendgate_releases_total", outcome="granted") == 1
    assert moved("lendgate_otp_sent_total", purpose="login") == 1
    assert moved("lendgate_otp_sent_total", purpose="approve") == 1
    # FEATURES of the test consent read 社保, 公积金 and 征信.
    for source in ("social_insurance", "housing_fund", "credit_bureau"):
        assert moved("lendgate_source_fetch_duration_seconds_count", source=source, outcome="ok")
        assert value(after, "lendgate_source_circuit_state", source=source, state="closed") == 1
    assert moved("lendgate_audit_append_duration_seconds_count") >= 3
    leaves = await metered.audit_leaves()
    assert value(after, "lendgate_audit_tree_size") == len(leaves) > 0
    # The release went after the consent's events: the outbox holds them, undelivered.
    assert value(after, "lendgate_notification_outbox_events", status="pending") >= 2


async def test_the_latest_signed_head_is_measured(metered: Stack) -> None:
    async with unit_of_work(metered.context.sessionmaker) as session:
        head = await issue_tree_head(session, metered.context.keys)
    samples = await scrape(metered)

    assert value(samples, "lendgate_audit_signed_tree_size") == head.tree_size
    assert 0 <= value(samples, "lendgate_audit_signed_tree_head_age_seconds") < 600


async def test_a_failing_source_counts_errors_and_shows_its_open_breaker(metered: Stack) -> None:
    source = "credit_bureau"
    breaker = cast(HttpSourceConnector, metered.context.connectors[source]).breaker
    simulator(metered, source).set_faults(FaultPlan(error_rate=1, error_status=502))
    try:
        before = await scrape(metered)
        async with metered.lender_client(await metered.register()) as lender:
            for _ in range(2):
                consent_id, _, _ = await metered.active_consent(lender)
                with pytest.raises(LendgateAPIError) as refused:
                    await lender.release(consent_id)
                assert refused.value.code == "SourceUnavailable"
        after = await scrape(metered)
    finally:
        simulator(metered, source).set_faults(FaultPlan())
        breaker.record_success()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("lendgate_source_errors_total", source=source, reason="http_status") == 1
    assert moved("lendgate_source_errors_total", source=source, reason="circuit_open") == 1
    assert moved("lendgate_source_fetch_duration_seconds_count", source=source, outcome="error")
    assert moved("lendgate_releases_total", outcome="SourceUnavailable") == 2
    assert value(after, "lendgate_source_circuit_state", source=source, state="open") == 1
    assert value(after, "lendgate_source_circuit_state", source=source, state="closed") == 0


async def test_a_locked_out_phone_is_counted(metered: Stack) -> None:
    phone = metered.person().phone
    before = await scrape(metered)
    assert (await metered.http.post("/v1/borrower/otp", json={"phone": phone})).status_code == 200
    code = f"{(int(metered.last_code(phone)) + 1) % 1_000_000:06d}"  # wrong, surely
    wrong = await metered.http.post("/v1/borrower/session", json={"phone": phone, "code": code})
    assert wrong.json()["error"] == "InvalidToken"
    again = await metered.http.post("/v1/borrower/otp", json={"phone": phone})
    after = await scrape(metered)

    assert again.status_code == 429
    assert (
        value(after, "lendgate_otp_lockouts_total") - value(before, "lendgate_otp_lockouts_total")
        == 1
    )


async def test_egress_blocks_are_counted_by_purpose_and_entity_type(metered: Stack) -> None:
    purpose = "consumer_installment_underwriting"
    labels = {"purpose": purpose, "entity_type": "CN_RESIDENT_ID"}
    before = await scrape(metered)
    with pytest.raises(EgressBlocked):
        metered.context.egress_guard.check({"note": SANDBOX_ID_NUMBER}, purpose=purpose)
    after = await scrape(metered)

    assert (
        value(after, "lendgate_egress_blocks_total", **labels)
        - value(before, "lendgate_egress_blocks_total", **labels)
        == 1
    )


async def test_notification_deliveries_failures_and_backlog(
    metered: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def answering(status: int) -> httpx.MockTransport:
        return httpx.MockTransport(lambda _: httpx.Response(status))

    async def new_consent() -> None:
        async with metered.lender_client(await metered.register()) as lender:
            await lender.request_consent(metered.consent_body(metered.person()))

    await new_consent()
    before = await scrape(metered)
    monkeypatch.setattr(metered.context, "notification_transport", answering(204))
    delivered = await dispatch_due(metered.context)
    await new_consent()
    pending = await scrape(metered)
    monkeypatch.setattr(metered.context, "notification_transport", answering(503))
    failed = await dispatch_due(metered.context)  # one attempt allowed: failed at once
    after = await scrape(metered)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delivered.delivered >= 1 and failed.failed >= 1
    assert moved("lendgate_notification_deliveries_total", outcome="delivered") == (
        delivered.delivered
    )
    assert moved("lendgate_notification_deliveries_total", outcome="failed") == failed.failed
    assert value(pending, "lendgate_notification_outbox_events", status="pending") >= 1
    assert value(after, "lendgate_notification_outbox_events", status="pending") == 0
    assert moved("lendgate_notification_outbox_events", status="failed") == failed.failed


async def test_the_database_pool_is_measured(metered: Stack) -> None:
    engine = metered.context.engine
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        holding = await scrape(metered)
    released = await scrape(metered)

    in_use = "lendgate_db_pool_connections"
    assert value(holding, in_use, state="in_use") == value(released, in_use, state="in_use") + 1
    assert value(released, in_use, state="idle") >= 1
    if engine.dialect.name == "postgresql":
        settings = metered.context.settings
        assert value(released, in_use, state="limit") == (
            settings.database_pool_size + settings.database_max_overflow
        )
