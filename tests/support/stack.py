"""A whole gateway in process, wired to in-process simulators, and the parties of the story
acting over HTTP against it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import structlog
import uvicorn
from fastapi import FastAPI
from lendgate_sdk import LendgateClient, RegulatorClient, jose
from sqlalchemy import func, select

from connectors.people.histories import Person
from connectors.registry import load_sources
from connectors.simulators.app import create_simulator_app
from connectors.simulators.population import Population
from gateway.app import create_app
from gateway.audit.models import AuditEntry
from gateway.clients import service as clients_service
from gateway.clients.service import ASSERTION_TYPE
from gateway.core.clock import ManualClock
from gateway.core.logging import configure_logging
from gateway.core.settings import Settings
from gateway.privacy.pii import redact_pii
from gateway.releases.models import Release
from gateway.runtime.context import GatewayContext, build_context
from tests.support.processes import free_port

BASE_URL = "http://testserver"
ClientKindName = Literal["lender", "regulator"]
SIMULATOR_SEED = 424242
SIMULATOR_POPULATION = 300
FEATURES = ["si_active", "hf_status", "income_proxy_band", "cb_overdue_accounts_24m"]


@dataclass
class LogCapture:
    """Every log line the gateway wrote during the test run."""

    stream: io.StringIO

    def lines(self) -> list[str]:
        """The rendered lines so far."""
        return self.stream.getvalue().splitlines()


@dataclass
class RegisteredClient:
    """A client registered with the gateway, and its private keys."""

    client_id: str
    private_jwks: dict[str, Any]


@dataclass
class Stack:
    """One running gateway with its simulators, and the parties that talk to it."""

    app: FastAPI
    context: GatewayContext
    http: httpx.AsyncClient
    population: Population
    simulators: dict[str, FastAPI]
    _people: itertools.count[int] = field(default_factory=itertools.count)
    used_identities: list[Person] = field(default_factory=list)

    # -- parties -----------------------------------------------------------------------------

    async def register(
        self, kind: ClientKindName = "lender", name: str = "测试银行"
    ) -> RegisteredClient:
        """Register a new lender or regulator the way the operator's CLI does."""
        private_jwks, public_jwks = jose.generate_client_jwks(kind)
        async with self.context.sessionmaker() as session, session.begin():
            client = await clients_service.register(
                session, name=name, kind=kind, jwks=public_jwks, actor="operator:test"
            )
        return RegisteredClient(client.id, private_jwks)

    async def register_client(
        self,
        kind: ClientKindName = "lender",
        name: str = "测试银行",
        *,
        dpop_required: bool = False,
        signing_alg: Literal["EdDSA", "ES256"] = "EdDSA",
    ) -> RegisteredClient:
        """Register a client with options: DPoP required, or a P-256 (ES256) signing key."""
        private_jwks, public_jwks = jose.generate_client_jwks(kind, signing_alg)
        async with self.context.sessionmaker() as session, session.begin():
            client = await clients_service.register(
                session,
                name=name,
                kind=kind,
                jwks=public_jwks,
                actor="operator:test",
                dpop_required=dpop_required,
            )
        return RegisteredClient(client.id, private_jwks)

    def dpop_lender_client(self, client: RegisteredClient) -> LendgateClient:
        """The lender SDK with DPoP-bound tokens, talking to this gateway in process."""
        return LendgateClient(
            "http://testserver",
            client.client_id,
            client.private_jwks,
            transport=httpx.ASGITransport(app=self.app),
            dpop=True,
        )

    def browser(self, address: str = "127.0.0.1") -> httpx.AsyncClient:
        """A separate HTTP client with a cookie jar of its own (a browser), from `address`."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=(address, 50000)),
            base_url="http://testserver",
        )

    async def cookie_login(self, browser: httpx.AsyncClient, phone: str) -> str:
        """Log in as the portal does (`delivery: cookie`); the jar keeps the cookies.

        Returns the CSRF token to send as `X-CSRF-Token` with every change.
        """
        sent = await browser.post("/v1/borrower/otp", json={"phone": phone})
        assert sent.status_code == 200, sent.text
        answer = await browser.post(
            "/v1/borrower/session",
            json={"phone": phone, "code": self.last_code(phone), "delivery": "cookie"},
        )
        assert answer.status_code == 200, answer.text
        csrf: str = answer.json()["csrf_token"]
        return csrf

    def lender_client(self, client: RegisteredClient) -> LendgateClient:
        """The lender SDK, talking to this gateway in process."""
        return LendgateClient(
            "http://testserver",
            client.client_id,
            client.private_jwks,
            transport=httpx.ASGITransport(app=self.app),
        )

    def regulator_client(self, client: RegisteredClient) -> RegulatorClient:
        """The regulator SDK, talking to this gateway in process."""
        return RegulatorClient(
            "http://testserver",
            client.client_id,
            client.private_jwks,
            transport=httpx.ASGITransport(app=self.app),
        )

    def person(self) -> Person:
        """A fresh fictional person from the simulators' population, used once per test."""
        ids = self.population.id_numbers()
        person = self.population.get(ids[next(self._people) % len(ids)])
        assert person is not None
        self.used_identities.append(person)
        return person

    # -- consent ------------------------------------------------------------------------------

    def consent_body(self, person: Person, **overrides: Any) -> dict[str, Any]:
        """A valid consumer-installment consent request for `person`."""
        now = datetime.now(UTC)
        body: dict[str, Any] = {
            "borrower": {"id_number": person.id_number, "phone": person.phone, "name": person.name},
            "purpose": "consumer_installment_underwriting",
            "features": list(FEATURES),
            "fetch_type": "ONETIME",
            "frequency": {"unit": "MONTH", "value": 1},
            "valid_from": (now - timedelta(minutes=1)).isoformat(),
            "valid_until": (now + timedelta(days=20)).isoformat(),
            "data_range_months": 24,
            "data_life_days": 30,
            "on_behalf_of": None,
            "callback_url": "https://lender.example/hooks/lendgate",
        }
        body.update(overrides)
        return body

    def last_code(self, phone: str) -> str:
        """The newest one-time code texted to `phone` (from the development SMS outbox)."""
        outbox = self.context.settings.sms_outbox
        assert outbox is not None
        lines = [json.loads(line) for line in outbox.read_text().splitlines()]
        return [line for line in lines if line["phone"] == phone][-1]["code"]

    async def borrower_login(self, phone: str) -> dict[str, str]:
        """Log in as the borrower; returns the Authorization header."""
        sent = await self.http.post("/v1/borrower/otp", json={"phone": phone})
        assert sent.status_code == 200, sent.text
        answer = await self.http.post(
            "/v1/borrower/session", json={"phone": phone, "code": self.last_code(phone)}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    async def approve(self, consent_id: str, phone: str, auth: dict[str, str]) -> httpx.Response:
        """Ask for the step-up code and approve the consent with it."""
        sent = await self.http.post(
            "/v1/borrower/otp",
            json={"phone": phone, "purpose": "approve", "consent_id": consent_id},
            headers=auth,
        )
        assert sent.status_code == 200, sent.text
        return await self.http.post(
            f"/v1/borrower/consents/{consent_id}/approve",
            json={"code": self.last_code(phone)},
            headers=auth,
        )

    async def active_consent(
        self, lender: LendgateClient, person: Person | None = None, **overrides: Any
    ) -> tuple[str, Person, dict[str, str]]:
        """A consent requested by `lender` and approved by its borrower."""
        person = person or self.person()
        consent = await lender.request_consent(self.consent_body(person, **overrides))
        auth = await self.borrower_login(person.phone)
        approved = await self.approve(consent["consent_id"], person.phone, auth)
        assert approved.status_code == 200, approved.text
        return consent["consent_id"], person, auth

    # -- what the database holds ------------------------------------------------------------

    async def audit_leaves(self, consent_id: str | None = None) -> list[dict[str, Any]]:
        """Audit leaves (about one consent, or all), in log order."""
        query = select(AuditEntry).order_by(AuditEntry.seq)
        if consent_id is not None:
            query = query.where(AuditEntry.consent_id == consent_id)
        async with self.context.sessionmaker() as session:
            return [json.loads(entry.leaf) for entry in (await session.scalars(query)).all()]

    async def audit_types(self, consent_id: str) -> list[str]:
        """The event types recorded about a consent, in order."""
        return [leaf["type"] for leaf in await self.audit_leaves(consent_id)]

    async def release_count(self, consent_id: str) -> int:
        """How many releases the database holds for a consent."""
        async with self.context.sessionmaker() as session:
            query = (
                select(func.count()).select_from(Release).where(Release.consent_id == consent_id)
            )
            return int(await session.scalar(query) or 0)


@contextlib.asynccontextmanager
async def replica(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A second gateway process over the same database and keys (its own engine and store)."""
    async with gateway_stack(
        stack.context.settings, stack.population, simulators=stack.simulators
    ) as other:
        yield other.http


def gateway_settings(database_url: str, workdir: Path, **overrides: Any) -> Settings:
    """Test settings for a gateway over `database_url` keeping its files in `workdir`."""
    return Settings(
        environment="test",
        data_dir=workdir,
        database_url=database_url,
        issuer=BASE_URL,
        sms_outbox=workdir / "sms-outbox.jsonl",
        **overrides,
    )


def simulator_apps(population: Population) -> dict[str, FastAPI]:
    """The simulators of every source, over `population`, with the development credentials."""
    return {
        source: create_simulator_app(source, credential=credential, population=population)
        for source, credential in load_sources().development_credentials.items()
    }


def simulator_transports(simulators: dict[str, FastAPI]) -> dict[str, httpx.AsyncBaseTransport]:
    """An in-process transport to each simulator."""
    return {source: httpx.ASGITransport(app=app) for source, app in simulators.items()}


@contextlib.asynccontextmanager
async def gateway_stack(
    settings: Settings,
    population: Population,
    *,
    simulators: dict[str, FastAPI] | None = None,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    leaves: list[str] | None = None,
) -> AsyncIterator[Stack]:
    """A gateway in process with `settings`, over the simulators (new ones unless given).

    `transports` replaces the in-process transports to the simulators; with `leaves`, every
    audit leaf of the database is added to it once the stack is done with.
    """
    simulators = simulator_apps(population) if simulators is None else simulators
    if transports is None:
        transports = simulator_transports(simulators)
    context = build_context(settings, source_transports=transports)
    app = create_app(context)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE_URL
        ) as http:
            yield Stack(
                app=app, context=context, http=http, population=population, simulators=simulators
            )
        if leaves is not None:
            async with context.sessionmaker() as session:
                leaves.extend((await session.scalars(select(AuditEntry.leaf))).all())
    finally:
        await context.aclose()


def api_routes(app: FastAPI) -> list[tuple[str, str, Any]]:
    """Every (method, path, route) the app answers, routers included (HEAD left out)."""
    from fastapi.routing import APIRoute, iter_route_contexts

    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for method in sorted(context.methods or ()):
            if method != "HEAD":
                found.append((method, str(context.path), route))
    return found


@contextlib.asynccontextmanager
async def on_socket(app: FastAPI) -> AsyncIterator[str]:
    """`app` served by uvicorn on a free loopback port, in this event loop: its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the server did not start"
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


@dataclass
class Parties:
    """The Authorization headers of a lender, a regulator and a borrower."""

    lender: dict[str, str]
    regulator: dict[str, str]
    borrower: dict[str, str]

    def for_path(self, path: str) -> dict[str, str]:
        """The credentials a route needs, so that its answer is about the input, not auth."""
        if path.startswith("/v1/audit"):
            return self.regulator
        if path.startswith("/v1/borrower"):
            return self.borrower
        return self.lender


async def parties_of(stack: Stack) -> Parties:
    """Valid credentials of a new lender, a new regulator and a logged-in borrower."""
    lender, regulator = await stack.register(), await stack.register("regulator")
    async with stack.lender_client(lender) as client:
        lender_token = await client.access_token()
    regulator_answer = await request_token(stack.http, client_assertion(regulator))
    assert regulator_answer.status_code == 200, regulator_answer.text
    return Parties(
        lender={"Authorization": f"Bearer {lender_token}"},
        regulator={"Authorization": f"Bearer {regulator_answer.json()['access_token']}"},
        borrower=await stack.borrower_login(stack.person().phone),
    )


TOKEN_URL = "http://testserver/oauth/token"


def assertion_claims(client_id: str, **overrides: Any) -> dict[str, Any]:
    """Valid client-assertion claims for the test gateway; an override of None drops a claim."""
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **overrides,
    }
    return {name: value for name, value in claims.items() if value is not None}


def client_assertion(client: RegisteredClient, kid: str | None = None, **overrides: Any) -> str:
    """An assertion signed with the client's registered key (the header `kid` replaceable)."""
    key = jose.find_key(client.private_jwks, "sig")
    return jose.sign_jwt(
        assertion_claims(client.client_id, **overrides),
        jose.signing_key_from_jwk(key),
        kid or key["kid"],
    )


async def request_token(
    http: httpx.AsyncClient,
    assertion: str,
    *,
    scope: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST /oauth/token with a client assertion (and a scope, extra headers such as DPoP)."""
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    if scope is not None:
        form["scope"] = scope
    return await http.post("/oauth/token", data=form, headers=headers or {})


@pytest.fixture(scope="session")
def captured_logs() -> Iterator[LogCapture]:
    """Route structlog through the production processors (redactor included) into memory."""
    capture = LogCapture(io.StringIO())
    configure_logging("DEBUG", redact=redact_pii, stream=capture.stream)
    yield capture
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def population() -> Population:
    """The simulators' small, seeded population (plus the sandbox identities)."""
    return Population.generate(SIMULATOR_SEED, SIMULATOR_POPULATION)


@pytest.fixture(scope="session")
async def stack(
    database_url: str,
    population: Population,
    tmp_path_factory: pytest.TempPathFactory,
    captured_logs: LogCapture,
    no_personal_data_in_logs_or_audit: list[str],
) -> AsyncIterator[Stack]:
    """A running gateway (in process) over the backend's database and the three simulators."""
    workdir = tmp_path_factory.mktemp("gateway")
    settings = gateway_settings(
        database_url,
        workdir,
        source_timeout_seconds=5.0,
        # Every test shares this gateway, one client address and the sandbox phones: the
        # OTP send limits are set out of reach here and tested with their defaults.
        otp_send_limit_per_phone=100_000,
        otp_send_limit_per_ip=100_000,
    )
    # Every leaf of this database, however it was written, is read before the database is dropped.
    async with gateway_stack(
        settings, population, leaves=no_personal_data_in_logs_or_audit
    ) as running:
        yield running


@pytest.fixture
def clock(stack: Stack) -> Iterator[ManualClock]:
    """The gateway's clock, standing at the time the test began until the test sets it."""
    running = stack.context.clock
    stack.context.clock = ManualClock(running.now())
    yield stack.context.clock
    stack.context.clock = running


@pytest.fixture
async def fresh_stack(
    fresh_database: str,
    population: Population,
    tmp_path: Path,
    captured_logs: LogCapture,
    no_personal_data_in_logs_or_audit: list[str],
) -> AsyncIterator[Stack]:
    """A gateway with its simulators over `fresh_database`."""
    settings = gateway_settings(fresh_database, tmp_path, audit_tree_head_interval_seconds=0)
    async with gateway_stack(
        settings, population, leaves=no_personal_data_in_logs_or_audit
    ) as fresh:
        yield fresh
