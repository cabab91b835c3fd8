"""Every documented operation answers as the OpenAPI document says it does.

schemathesis generates valid requests for each operation (a few examples each) and sends
them with valid credentials for the operation's party: a lender's or a regulator's access
token, or a borrower's session. `response_schema_conformance` checks each answer against
the documented schema of its status, `status_code_conformance` that the status is one the
operation documents.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from lendgate_sdk import LendgateClient, RegulatorClient, generate_client_jwks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import create_app
from gateway.clients import service as clients_service
from gateway.core.migrate import upgrade
from gateway.core.settings import Settings
from gateway.runtime.context import GatewayContext, build_context

SANDBOX_PHONE = "13800138000"
CONFIG = SchemathesisConfig.from_dict({"generation": {"mode": "positive", "max-examples": 5}})


async def _credentials(context: GatewayContext, app: Any) -> dict[str, str]:
    """An access token of a registered lender and regulator, and a borrower session token."""
    tokens: dict[str, str] = {}
    transport = httpx.ASGITransport(app=app)
    for kind, party in (("lender", LendgateClient), ("regulator", RegulatorClient)):
        private, public = generate_client_jwks(kind)  # type: ignore[arg-type]
        async with context.sessionmaker() as session, session.begin():
            client = await clients_service.register(
                session, name=f"示例{kind}", kind=kind, jwks=public, actor="operator:test"
            )
        async with party("http://testserver", client.id, private, transport=transport) as caller:
            tokens[kind] = await caller.access_token()
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        await http.post("/v1/borrower/otp", json={"phone": SANDBOX_PHONE})
        outbox = context.settings.resolved_sms_outbox.read_text().splitlines()
        code = json.loads(outbox[-1])["code"]
        login = {"phone": SANDBOX_PHONE, "code": code}
        tokens["borrower"] = (await http.post("/v1/borrower/session", json=login)).json()[
            "access_token"
        ]
    return tokens


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    """A gateway on its own SQLite database (no sources: their operations answer 503)."""
    workdir = tmp_path_factory.mktemp("conformance")
    settings = Settings(
        environment="test",
        data_dir=workdir,
        database_url=f"sqlite+aiosqlite:///{workdir / 'lendgate.db'}",
        issuer="http://testserver",
        notification_dispatch_interval_seconds=0,
        audit_tree_head_interval_seconds=0,
        client_rate_limit=1_000_000,
        otp_send_limit_per_phone=1_000_000,
        otp_send_limit_per_ip=1_000_000,
    )
    asyncio.run(upgrade(settings.resolved_database_url))
    context = build_context(settings)
    app = create_app(context)
    tokens = asyncio.run(_credentials(context, app))
    yield app, tokens
    asyncio.run(context.aclose())


def test_every_operation_answers_as_documented(gateway: tuple[Any, dict[str, str]]) -> None:
    app, tokens = gateway
    api = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    checked = []
    for found in api.get_all_operations():
        assert isinstance(found, Ok), found  # every operation of the document loads
        operation = found.ok()
        party = _party(operation.definition.raw.get("security") or [])
        headers = {"Authorization": f"Bearer {tokens[party]}"} if party else {}
        _answers_as_documented(operation, headers)
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) == len(set(checked)) >= 30


def _answers_as_documented(operation: Any, headers: dict[str, str]) -> None:
    """A few valid requests to one operation, each answer checked against the document."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=5, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        case.validate_response(
            response, checks=(response_schema_conformance, status_code_conformance)
        )

    check()


def _party(requirements: list[dict[str, Any]]) -> str | None:
    """Whose credentials an operation's security requirements ask for."""
    for requirement in requirements:
        if "borrowerBearer" in requirement:
            return "borrower"
        scopes = requirement.get("clientCredentials")
        if scopes is not None:
            return "regulator" if any(s.startswith("audit:") for s in scopes) else "lender"
    return None
