"""The database goes away under traffic and comes back: every request meanwhile is answered
`503 AuditUnavailable` with `Retry-After` (never a 500 or a dropped connection), the log
stays short and carries no traceback, and the gateway recovers without a restart.

A PostgreSQL server of the test's own (initdb, pg_ctl) is stopped at once, as a crash
would; the gateway is served by uvicorn on a loopback socket, as in production.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from connectors.simulators.population import Population
from gateway.core.migrate import upgrade
from tests.support.databases import in_ci
from tests.support.postgres_instance import (
    PostgresInstance,
    postgres_instance,
    server_installed,
)
from tests.support.stack import LogCapture, Stack, gateway_settings, gateway_stack, on_socket

RECOVERY_SECONDS = 60.0
# Each rate-limited log of an outage, by event: the database's, and the shared store's.
OUTAGE_EVENTS = {
    "db.unavailable": ("db.unavailable", "db.rollback_hook_failed"),
    "ratelimit.store_unavailable": (
        "ratelimit.store_unavailable",
        "borrower.lockout_unavailable",
    ),
}
ROUNDS = 5


@pytest.fixture
async def own_postgres() -> AsyncIterator[PostgresInstance]:
    if not server_installed():
        message = "the PostgreSQL server programs (initdb, pg_ctl) are not installed"
        if in_ci():
            pytest.fail(message + " (CI=true: this test is mandatory)", pytrace=False)
        pytest.skip(message)
    with postgres_instance() as instance:
        await upgrade(instance.url)
        yield instance


@pytest.fixture
async def served(
    own_postgres: PostgresInstance, population: Population, tmp_path: Path
) -> AsyncIterator[tuple[Stack, httpx.AsyncClient]]:
    """The gateway over the test's own server, in process and on a loopback socket."""
    settings = gateway_settings(
        own_postgres.url, tmp_path, otp_send_limit_per_phone=1000, otp_send_limit_per_ip=1000
    )
    async with (
        gateway_stack(settings, population) as stack,
        on_socket(stack.app) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield stack, http


async def test_an_outage_is_answered_503_and_recovered_without_restart(
    served: tuple[Stack, httpx.AsyncClient],
    own_postgres: PostgresInstance,
    captured_logs: LogCapture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack, http = served
    registered = await stack.register()
    regulator = await stack.register("regulator")
    async with stack.lender_client(registered) as lender:
        consent_id, _, borrower = await stack.active_consent(lender)
        lender_auth = {"Authorization": f"Bearer {await lender.access_token()}"}
    async with stack.regulator_client(regulator) as client:
        regulator_auth = {"Authorization": f"Bearer {await client.access_token()}"}
    release = await http.post(f"/v1/consents/{consent_id}/releases", headers=lender_auth)
    assert release.status_code == 200, release.text

    calls = [
        ("POST", f"/v1/consents/{consent_id}/releases", lender_auth),
        ("GET", f"/v1/consents/{consent_id}", lender_auth),
        ("GET", "/v1/borrower/consents", borrower),
        ("GET", f"/v1/borrower/consents/{consent_id}", borrower),
        ("GET", "/v1/borrower/access-log", borrower),
        ("GET", "/v1/borrower/export", borrower),
        ("GET", "/v1/audit/sth", regulator_auth),
        ("GET", "/v1/audit/entries?limit=5", regulator_auth),
    ]
    lines_before = len(captured_logs.lines())
    caplog.set_level(logging.INFO)
    caplog.clear()
    own_postgres.stop()
    answers = []
    started = time.monotonic()
    for _ in range(ROUNDS):
        answers += await asyncio.gather(
            *(http.request(method, path, headers=auth) for method, path, auth in calls)
        )
    outage_seconds = time.monotonic() - started
    for (method, path, _), answer in zip(calls * ROUNDS, answers, strict=True):
        assert answer.status_code == 503, (method, path, answer.status_code, answer.text)
        assert answer.json()["error"] == "AuditUnavailable", (method, path, answer.text)
        assert int(answer.headers["retry-after"]) > 0
        assert answer.headers["x-content-type-options"] == "nosniff"

    logged_lines = captured_logs.lines()[lines_before:]
    # Each request has its one access line, answered 503; nothing more per request.
    access = [json.loads(line) for line in logged_lines if '"http.request"' in line]
    assert len(access) == len(answers)
    assert {line["status"] for line in access} == {503}
    outage_lines = [line for line in logged_lines if '"http.request"' not in line]
    # The database's and the shared store's outage are each logged once a second at most
    # (plus the second it started in), never as an error, whatever the number of requests.
    events = Counter(json.loads(line)["event"] for line in outage_lines)
    assert events["db.unavailable"] >= 1, outage_lines
    assert set(events) <= {event for family in OUTAGE_EVENTS.values() for event in family}
    for family in OUTAGE_EVENTS.values():
        logged = sum(events[event] for event in family)
        assert logged <= outage_seconds + 2, outage_lines
    assert all("Traceback" not in line for line in outage_lines), outage_lines
    assert all('"level": "warning"' in line for line in outage_lines), outage_lines
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text

    own_postgres.start()
    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        recovered = await http.get(f"/v1/consents/{consent_id}", headers=lender_auth)
        if recovered.status_code == 200:
            break
        assert recovered.status_code == 503, recovered.text
        assert time.monotonic() < deadline, "the gateway did not recover"
        await asyncio.sleep(0.2)
    for method, path, auth in calls[1:]:
        answer = await http.request(method, path, headers=auth)
        assert answer.status_code == 200, (method, path, answer.text)
