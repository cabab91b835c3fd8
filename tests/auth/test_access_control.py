"""Client authentication and API hardening: every assertion defect, scopes, rotation,
suspension, rate limits, body limits, strict schemas, security headers and error hygiene."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from lendgate_sdk import LendgateAPIError, jose
from pydantic import BaseModel
from sqlalchemy import func, select

from consent.models import Consent
from gateway.clients import service as clients_service
from gateway.clients.service import ClientRegistrationError
from gateway.core.settings import get_settings
from gateway.security.store import DatabaseStore
from tests.support.stack import (
    RegisteredClient,
    Stack,
    api_routes,
    assertion_claims,
    client_assertion,
    replica,
    request_token,
)


@pytest.fixture
async def replica_http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """Another gateway process over the stack's database and keys."""
    async with replica(stack) as http:
        yield http


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(client: RegisteredClient, kid: str | None = None, **overrides: Any) -> str:
    return client_assertion(client, kid, **overrides)


def claims_for(client_id: str, **overrides: Any) -> dict[str, Any]:
    return assertion_claims(client_id, **overrides)


def unsigned(client: RegisteredClient) -> str:
    """`alg: none`, naming the client's real key."""
    kid = jose.find_key(client.private_jwks, "sig")["kid"]
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{header}.{b64(json.dumps(claims_for(client.client_id)).encode())}."


def hmac_with_public_key(client: RegisteredClient) -> str:
    """The classic algorithm confusion: HS256 keyed with the client's *public* key (PEM)."""
    jwk = jose.find_key(client.private_jwks, "sig")
    public_pem = (
        jose.signing_key_from_jwk(jwk)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]}).encode())
    body = b64(json.dumps(claims_for(client.client_id)).encode())
    mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(mac)}"


async def ask_token(
    http: httpx.AsyncClient, assertion: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await request_token(http, assertion, headers=headers)


async def refusals_of(stack: Stack, client_id: str) -> list[dict[str, Any]]:
    return [
        leaf
        for leaf in await stack.audit_leaves()
        if leaf["type"] == "token.refused" and leaf["actor"] == f"client:{client_id}"
    ]


# -- client assertions ----------------------------------------------------------------------


DEFECTS = {
    "alg-none": lambda client: unsigned(client),
    "hs256-with-the-public-key": lambda client: hmac_with_public_key(client),
    "expired": lambda client: signed(
        client, iat=int(time.time()) - 400, exp=int(time.time()) - 120
    ),
    "future-iat": lambda client: signed(
        client, iat=int(time.time()) + 600, exp=int(time.time()) + 660
    ),
    "future-nbf": lambda client: signed(client, nbf=int(time.time()) + 600),
    "wrong-aud": lambda client: signed(client, aud="https://elsewhere.example/oauth/token"),
    "unknown-kid": lambda client: signed(client, kid="no-such-key"),
    "lives-too-long": lambda client: signed(
        client, iat=int(time.time()), exp=int(time.time()) + 3600
    ),
    "sub-differs": lambda client: signed(client, sub="lnd_someone_else"),
    "no-jti": lambda client: signed(client, jti=None),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
async def test_each_defective_assertion_is_refused_and_recorded(stack: Stack, defect: str) -> None:
    client = await stack.register()
    answer = await ask_token(stack.http, DEFECTS[defect](client))
    assert (answer.status_code, answer.json()["error"]) == (401, "InvalidToken")
    assert "access_token" not in answer.json()
    refusals = await refusals_of(stack, client.client_id)
    assert len(refusals) == 1 and refusals[0]["outcome"] == "denied"
    # The same client's correct assertion still works: nothing was spent or locked.
    assert (await ask_token(stack.http, signed(client))).status_code == 200


async def test_a_replayed_assertion_is_refused_even_by_another_process(
    stack: Stack, replica_http: httpx.AsyncClient
) -> None:
    client = await stack.register()
    once = signed(client)
    assert (await ask_token(stack.http, once)).status_code == 200
    # A second gateway process over the same database refuses it too.
    replay = await ask_token(replica_http, once)
    assert (replay.status_code, replay.json()["error"]) == (401, "InvalidToken")
    assert replay.json()["detail"] == "This client assertion was already used."


async def test_an_es256_client_is_held_to_es256(stack: Stack) -> None:
    client = await stack.register_client(signing_alg="ES256")
    assert (await ask_token(stack.http, signed(client))).status_code == 200
    key = jose.find_key(client.private_jwks, "sig")
    header = b64(json.dumps({"alg": "ES384", "kid": key["kid"]}).encode())
    forged = f"{header}.{b64(json.dumps(claims_for(client.client_id)).encode())}.AAAA"
    answer = await ask_token(stack.http, forged)
    assert (answer.status_code, answer.json()["detail"]) == (
        401,
        "The token's algorithm does not match its key.",
    )


# -- scopes -----------------------------------------------------------------------------------


async def test_each_endpoint_wants_its_own_scope(stack: Stack) -> None:
    lender = await stack.register()
    narrowed = await request_token(stack.http, signed(lender), scope="features:read")
    assert narrowed.json()["scope"] == "features:read"
    headers = {"Authorization": f"Bearer {narrowed.json()['access_token']}"}
    create = await stack.http.post(
        "/v1/consent-requests", json=stack.consent_body(stack.person()), headers=headers
    )
    assert (create.status_code, create.json()["error"]) == (403, "InsufficientScope")
    assert 'scope="consents:write"' in create.headers["www-authenticate"]
    async with stack.context.sessionmaker() as session:
        count = (
            select(func.count()).select_from(Consent).where(Consent.lender_id == lender.client_id)
        )
        assert await session.scalar(count) == 0
    wider = await request_token(stack.http, signed(lender), scope="features:read audit:read")
    assert (wider.status_code, wider.json()["error"]) == (403, "InsufficientScope")


async def test_a_cosign_only_regulator_token_cannot_read_the_log(stack: Stack) -> None:
    regulator = await stack.register("regulator", name="监管机构")
    token = await request_token(stack.http, signed(regulator), scope="audit:cosign")
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    read = await stack.http.get("/v1/audit/entries", headers=headers)
    assert (read.status_code, read.json()["error"]) == (403, "InsufficientScope")


# -- suspension and rotation --------------------------------------------------------------------


async def test_a_suspended_clients_tokens_stop_at_once(stack: Stack) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        consent = await lender.request_consent(stack.consent_body(stack.person()))
        token = await lender.access_token()
        async with stack.context.sessionmaker() as session, session.begin():
            await clients_service.suspend(session, registered.client_id, actor="operator:test")
        headers = {"Authorization": f"Bearer {token}"}
        answer = await stack.http.get(f"/v1/consents/{consent['consent_id']}", headers=headers)
        assert (answer.status_code, answer.json()["error"]) == (401, "InvalidToken")
        assert answer.json()["detail"] == "This client's access is suspended."
        refused = await ask_token(stack.http, signed(registered))
        assert refused.status_code == 401

        async with stack.context.sessionmaker() as session, session.begin():
            await clients_service.resume(session, registered.client_id, actor="operator:test")
        again = await stack.http.get(f"/v1/consents/{consent['consent_id']}", headers=headers)
        assert again.status_code == 200
    types = [
        leaf["type"]
        for leaf in await stack.audit_leaves()
        if leaf.get("lender_id") == registered.client_id and leaf["type"].startswith("admin.")
    ]
    assert types == ["admin.client_added", "admin.client_suspended", "admin.client_resumed"]


async def test_keys_rotate_without_downtime(stack: Stack) -> None:
    old = await stack.register()
    new_private, new_public = jose.generate_client_jwks("lender")
    async with stack.context.sessionmaker() as session, session.begin():
        added = await clients_service.add_keys(
            session, old.client_id, new_public, actor="operator:test"
        )
    new = RegisteredClient(old.client_id, new_private)
    # Both signing keys work while the lender switches over.
    assert (await ask_token(stack.http, signed(old))).status_code == 200
    assert (await ask_token(stack.http, signed(new))).status_code == 200

    # Releases now go to the new encryption key; a lender holding both keys reads them.
    both = {"keys": [*new_private["keys"], jose.find_key(old.private_jwks, "enc")]}
    async with stack.lender_client(RegisteredClient(old.client_id, both)) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
    assert release.features
    header = json.loads(base64.urlsafe_b64decode(release.raw["jwe"].split(".")[0] + "=="))
    assert header["kid"] == jose.find_key(new_public, "enc")["kid"]

    old_sig = jose.find_key(old.private_jwks, "sig")["kid"]
    async with stack.context.sessionmaker() as session, session.begin():
        await clients_service.retire_key(session, old.client_id, old_sig, actor="operator:test")
    retired = await ask_token(stack.http, signed(old))
    assert (retired.status_code, retired.json()["detail"]) == (
        401,
        "The token is signed with an unknown key.",
    )
    assert (await ask_token(stack.http, signed(new))).status_code == 200

    new_sig = jose.find_key(new_private, "sig")["kid"]
    with pytest.raises(ClientRegistrationError, match="last signing key"):
        async with stack.context.sessionmaker() as session, session.begin():
            await clients_service.retire_key(session, old.client_id, new_sig, actor="operator:test")
    events = [
        (leaf["type"], leaf["reason"])
        for leaf in await stack.audit_leaves()
        if leaf.get("lender_id") == old.client_id and leaf["type"].startswith("admin.client_key")
    ]
    assert events == [("admin.client_key_added", f"key {kid}") for kid in added] + [
        ("admin.client_key_retired", f"key {old_sig}")
    ]


async def test_a_key_with_private_material_is_not_added(stack: Stack) -> None:
    client = await stack.register()
    private, _ = jose.generate_client_jwks("lender")
    with pytest.raises(ClientRegistrationError, match="private material"):
        async with stack.context.sessionmaker() as session, session.begin():
            await clients_service.add_keys(
                session, client.client_id, private, actor="operator:test"
            )


# -- rate limits --------------------------------------------------------------------------------


async def test_a_client_over_its_rate_limit_gets_rate_limited_with_retry_after(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack.context.settings, "client_rate_limit", 3)
    busy, calm = await stack.register(), await stack.register()
    async with stack.lender_client(busy) as lender, stack.lender_client(calm) as other:
        consent = await lender.request_consent(stack.consent_body(stack.person()))
        for _ in range(2):
            await lender.get_consent(consent["consent_id"])
        with pytest.raises(LendgateAPIError) as caught:
            await lender.get_consent(consent["consent_id"])
        # Another client is not slowed down by this one.
        await other.catalog()
        await other.request_consent(stack.consent_body(stack.person()))
        token = await lender.access_token()
    assert (caught.value.status, caught.value.code) == (429, "RateLimited")
    answer = await stack.http.get(
        f"/v1/consents/{consent['consent_id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 429
    retry_after = int(answer.headers["retry-after"])
    assert 1 <= retry_after <= stack.context.settings.client_rate_limit_window_seconds


async def test_rate_limit_windows_are_shared_by_every_process(
    stack: Stack, replica_http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack.context.settings, "client_rate_limit", 2)
    if isinstance(stack.context.shared_store, DatabaseStore):
        # This process adds its hits to the shared count at once (by default: once a second).
        monkeypatch.setattr(stack.context.shared_store, "sync_seconds", 0.0)
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        token = await lender.access_token()
    headers = {"Authorization": f"Bearer {token}"}
    first = await stack.http.get("/v1/consents/cns_000000000000000000000000", headers=headers)
    second = await replica_http.get("/v1/consents/cns_000000000000000000000000", headers=headers)
    third = await stack.http.get("/v1/consents/cns_000000000000000000000000", headers=headers)
    assert [first.status_code, second.status_code] == [404, 404]
    assert (third.status_code, third.json()["error"]) == (429, "RateLimited")


# -- request bodies and schemas ---------------------------------------------------------------


async def test_an_oversized_body_is_refused_before_anything_reads_it(stack: Stack) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        token = await lender.access_token()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = stack.consent_body(stack.person(), on_behalf_of="某" * 40_000)
    declared = await stack.http.post("/v1/consent-requests", json=body, headers=headers)
    assert (declared.status_code, declared.json()["error"]) == (413, "InvalidRequest")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    streamed = await stack.http.post("/v1/consent-requests", content=chunks(), headers=headers)
    assert (streamed.status_code, streamed.json()["error"]) == (413, "InvalidRequest")
    assert streamed.headers["x-content-type-options"] == "nosniff"
    async with stack.context.sessionmaker() as session:
        query = select(func.count()).select_from(Consent)
        query = query.where(Consent.lender_id == registered.client_id)
        assert await session.scalar(query) == 0


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
        for field in annotation.model_fields.values():
            found.extend(_models_of(field.annotation))
    for argument in getattr(annotation, "__args__", ()):
        found.extend(_models_of(argument))
    return found


def test_every_json_input_model_refuses_unknown_fields(stack: Stack) -> None:
    checked: dict[str, str] = {}
    for _, path, route in api_routes(stack.app):
        for param in route.dependant.body_params:
            for model in _models_of(param.field_info.annotation):
                assert model.model_config.get("extra") == "forbid", (path, model.__name__)
                checked[model.__name__] = path
    assert {"ConsentRequestCreate", "CodeRequest", "SessionRequest", "ReleaseRequest"} <= set(
        checked
    )


async def test_an_unknown_field_is_invalid_request(stack: Stack) -> None:
    person = stack.person()
    answer = await stack.http.post(
        "/v1/borrower/otp", json={"phone": person.phone, "purpose": "login", "admin": True}
    )
    assert (answer.status_code, answer.json()["error"]) == (422, "InvalidRequest")
    assert person.phone not in answer.text


# -- headers and errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/healthz", "/v1/catalog", "/v1/borrower/consents", "/no/such/path", "/portal/"]
)
async def test_security_headers_are_on_every_response(stack: Stack, path: str) -> None:
    answer = await stack.http.get(path)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-frame-options"] == "DENY"
    csp = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    if path.startswith("/portal"):
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    else:
        assert csp.startswith("default-src 'none'")
    if path.startswith("/v1/"):
        assert answer.headers["cache-control"] == "no-store"
    # Development: no HSTS (plain-HTTP loopback would be pinned to HTTPS).
    assert "strict-transport-security" not in answer.headers


async def test_hsts_outside_development(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack.context.settings, "environment", "production")
    answer = await stack.http.get("/healthz")
    assert answer.headers["strict-transport-security"].startswith("max-age=")


async def test_an_unexpected_failure_shows_no_internals(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policies.catalog import Catalog

    def explode(_: Catalog) -> Any:
        raise RuntimeError("boom at /srv/lendgate/gateway/secret.py line 42 table clients")

    monkeypatch.setattr(Catalog, "public_view", explode)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.app, raise_app_exceptions=False),
        base_url="http://testserver",
    ) as http:
        answer = await http.get("/v1/catalog")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": "InternalError",
        "detail": "The gateway could not complete the request.",
    }
    for leaked in ("Traceback", "RuntimeError", "/srv/", "secret.py", "clients"):
        assert leaked not in answer.text
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_an_access_token_of_another_audience_is_refused(stack: Stack) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        token = await lender.access_token()
    claims = jwt.decode(token, options={"verify_signature": False})
    keys = stack.context.keys.signing_key
    foreign = jose.sign_jwt(
        {**claims, "aud": "https://other-gateway.example"}, keys.private_key, keys.kid
    )
    answer = await stack.http.get(
        "/v1/consents/cns_x", headers={"Authorization": f"Bearer {foreign}"}
    )
    assert (answer.status_code, answer.json()["detail"]) == (
        401,
        "The token is not meant for this audience.",
    )


# -- operator commands ----------------------------------------------------------------------------


def test_every_client_command_is_an_audit_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from gateway.cli.main import app

    monkeypatch.setenv("LENDGATE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LENDGATE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        private, public = jose.generate_client_jwks("lender")
        (tmp_path / "lender.json").write_text(json.dumps(public))
        new_private, _ = jose.generate_client_jwks("lender")
        new_sig = jose.public_members(jose.find_key(new_private, "sig"))
        (tmp_path / "new-sig.json").write_text(json.dumps({"keys": [new_sig]}))
        old_sig = jose.find_key(private, "sig")["kid"]

        def invoke(*args: str) -> Any:
            return runner.invoke(app, list(args))

        assert invoke("keys", "init").exit_code == 0
        added = invoke(
            "clients", "add", "--name", "示例银行", "--kind", "lender",
            "--jwks", str(tmp_path / "lender.json"), "--dpop",
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        client_id = added.stdout.strip()
        for args in (
            ("clients", "suspend", client_id),
            ("clients", "resume", client_id),
            ("clients", "keys", "add", client_id, "--jwks", str(tmp_path / "new-sig.json")),
            ("clients", "keys", "retire", client_id, "--kid", old_sig),
        ):
            result = invoke(*args)
            assert result.exit_code == 0, (args, result.output)
        # Refused actions change nothing and record nothing.
        for args in (
            ("clients", "keys", "retire", client_id, "--kid", new_sig["kid"]),
            ("clients", "resume", client_id),
            ("clients", "suspend", "lnd_no_such_client"),
            ("clients", "keys", "add", client_id, "--jwks", str(tmp_path / "new-sig.json")),
        ):
            result = invoke(*args)
            assert result.exit_code == 2 and "refused:" in result.output, args
        assert invoke("keys", "init").stdout.startswith("keys ready")  # nothing new: no event

        async def read() -> tuple[list[tuple[str, str]], Any]:
            from gateway.audit.models import AuditEntry
            from gateway.clients.models import Client
            from gateway.core.db import create_engine, create_sessionmaker

            engine = create_engine(get_settings().resolved_database_url)
            async with create_sessionmaker(engine)() as session:
                entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all()
                events = [(entry.type, json.loads(entry.leaf)["actor"]) for entry in entries]
                client = await session.get(Client, client_id)
            await engine.dispose()
            return events, client

        events, client = asyncio.run(read())
    finally:
        get_settings.cache_clear()
    assert [type_ for type_, _ in events] == [
        "admin.keys_initialised",
        "admin.client_added",
        "admin.client_suspended",
        "admin.client_resumed",
        "admin.client_key_added",
        "admin.client_key_retired",
    ]
    assert {actor for _, actor in events} == {"operator:cli"}
    assert client.dpop_required and client.status == "active"
    assert [key["kid"] for key in client.jwks["keys"] if key.get("use", "sig") == "sig"] == [
        new_sig["kid"]
    ]
