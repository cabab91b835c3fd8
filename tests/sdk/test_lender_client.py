"""The lender SDK against a small fake gateway that checks what a real one checks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from lendgate_sdk import (
    ASSERTION_TYPE,
    LendgateAPIError,
    LendgateClient,
    RegulatorClient,
    Release,
    ReleaseVerificationError,
    jose,
)

from gateway.core.errors import InvalidToken
from gateway.crypto import jose as gateway_jose

BASE_URL = "https://lendgate.example"
TOKEN_URL = f"{BASE_URL}/oauth/token"
LENDER_ID = "lender-7f3a"
REGULATOR_ID = "regulator-01"
CONSENT_ID = "c-0001"


def _error(status: int, code: str, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "detail": detail})


class FakeGateway:
    """Just enough of Lendgate to exercise the SDK, built on the same JOSE layer."""

    def __init__(self) -> None:
        self.signing_key = jose.generate_signing_key()
        self.kid = "gw-1"
        self.published = [jose.public_jwk(self.signing_key, self.kid)]
        self.clients: dict[str, tuple[dict[str, Any], str]] = {}
        self.assertions: list[dict[str, Any]] = []
        self.assertion_headers: list[dict[str, Any]] = []
        self.seen_jti: set[str] = set()
        self.jwks_requests = 0
        self.release_requests: list[dict[str, Any]] = []
        self.revoked: set[str] = set()
        self.token_generation = 0
        # Knobs a test turns to make the gateway misbehave.
        self.release_aud: str | None = None
        self.release_consent_id: str | None = None
        self.release_encrypt_to: dict[str, Any] | None = None
        self.proxy_error = False

    def register(self, client_id: str, public_jwks: dict[str, Any], scope: str) -> None:
        self.clients[client_id] = (public_jwks, scope)

    def rotate_key(self, *, publish: bool = True) -> None:
        self.signing_key = jose.generate_signing_key()
        self.kid = f"gw-{uuid.uuid4().hex[:8]}"
        if publish:
            self.published.append(jose.public_jwk(self.signing_key, self.kid))

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self.published)}

    @property
    def token_requests(self) -> int:
        return len(self.assertions)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if self.proxy_error:
            return httpx.Response(502, text="<html>Bad Gateway</html>")
        try:
            if (method, path) == ("POST", "/oauth/token"):
                return self._token(request)
            if (method, path) == ("GET", "/.well-known/jwks.json"):
                self.jwks_requests += 1
                return httpx.Response(200, json=self.jwks)
            if (method, path) == ("GET", "/v1/catalog"):
                return httpx.Response(200, json={"purposes": [], "features": []})
            client_id, scope = self._bearer(request)
            if (method, path) == ("POST", "/v1/consent-requests"):
                body = json.loads(request.content)
                return httpx.Response(
                    201,
                    json={
                        "consent_id": CONSENT_ID,
                        "status": "PENDING",
                        "purpose": body["purpose"],
                    },
                )
            if method == "GET" and path.startswith("/v1/consents/"):
                return httpx.Response(200, json={"consent_id": path.rsplit("/", 1)[1]})
            if method == "POST" and path.endswith("/revoke"):
                self.revoked.add(path.split("/")[3])
                return httpx.Response(200, json={"status": "REVOKED"})
            if method == "POST" and path.endswith("/releases"):
                return self._release(request, client_id, path.split("/")[3])
            if (method, path) == ("GET", "/v1/audit/entries"):
                if "audit:read" not in scope.split():
                    return _error(403, "InsufficientScope", "needs audit:read")
                return httpx.Response(200, json={"entries": [], "query": dict(request.url.params)})
        except InvalidToken as exc:
            return httpx.Response(exc.status, json=exc.body(), headers=exc.headers)
        return httpx.Response(404, text="not found")

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {name: values[0] for name, values in parse_qs(request.content.decode()).items()}
        assert form["grant_type"] == "client_credentials"
        assert form["client_assertion_type"] == ASSERTION_TYPE
        assertion = form["client_assertion"]
        client_id = jwt.decode(assertion, options={"verify_signature": False})["iss"]
        if client_id not in self.clients:
            raise InvalidToken("unknown client")
        public_jwks, scope = self.clients[client_id]
        claims = gateway_jose.verify_jwt(
            assertion,
            public_jwks,
            audience=[TOKEN_URL, BASE_URL],
            issuer=client_id,
            required=("exp", "iat", "jti", "sub"),
        )
        if claims["sub"] != client_id or claims["exp"] - int(time.time()) > 300:
            raise InvalidToken("bad assertion")
        if claims["jti"] in self.seen_jti:
            raise InvalidToken("assertion replayed")
        self.seen_jti.add(claims["jti"])
        self.assertions.append(claims)
        self.assertion_headers.append(jwt.get_unverified_header(assertion))
        if "scope" in form:
            scope = form["scope"]
        now = int(time.time())
        access = jose.sign_jwt(
            {
                "iss": BASE_URL,
                "aud": BASE_URL,
                "sub": client_id,
                "scope": scope,
                "gen": self.token_generation,
                "iat": now,
                "exp": now + 300,
            },
            self.signing_key,
            self.kid,
            typ="at+jwt",
        )
        return httpx.Response(
            200,
            json={
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": scope,
            },
        )

    def _bearer(self, request: httpx.Request) -> tuple[str, str]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer":
            raise InvalidToken("missing bearer token")
        claims = gateway_jose.verify_jwt(token, self.jwks, audience=BASE_URL, issuer=BASE_URL)
        if claims["gen"] != self.token_generation:
            raise InvalidToken("token revoked")
        return claims["sub"], claims["scope"]

    def _release(self, request: httpx.Request, client_id: str, consent_id: str) -> httpx.Response:
        if consent_id in self.revoked:
            return _error(403, "ConsentRevoked", "This consent has been revoked.")
        body = json.loads(request.content)
        self.release_requests.append(body)
        release_id = f"r-{uuid.uuid4().hex[:12]}"
        payload = {
            "release_id": release_id,
            "consent_id": self.release_consent_id or consent_id,
            "purpose": "consumer_installment_underwriting",
            "borrower_ref": "pw-3b9c",
            "features": {"si_active": True, "income_proxy_band": "8000-12000"},
            "sources": {"social_insurance": {"as_of": "2026-10"}},
            "policy_version": "sha256:00",
            "iat": int(time.time()),
            "iss": "lendgate",
            "aud": self.release_aud or client_id,
        }
        jws = jose.sign_jwt(payload, self.signing_key, self.kid)
        recipient = self.release_encrypt_to or jose.find_key(self.clients[client_id][0], "enc")
        return httpx.Response(
            201,
            json={
                "release_id": release_id,
                "consent_id": consent_id,
                "jwe": jose.encrypt_for(jws.encode(), recipient),
                "audit": {"leaf_index": 41, "leaf_hash": "ab" * 32},
                "delete_by": "2026-12-23T00:00:00+08:00",
            },
        )


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def lender_jwks(gateway: FakeGateway) -> dict[str, Any]:
    private, public = jose.generate_client_jwks("lender")
    gateway.register(LENDER_ID, public, "consents:write features:read")
    return private


@pytest.fixture
async def lender(
    gateway: FakeGateway, lender_jwks: dict[str, Any]
) -> AsyncIterator[LendgateClient]:
    async with LendgateClient(
        BASE_URL, LENDER_ID, lender_jwks, transport=gateway.transport()
    ) as client:
        yield client


CONSENT_REQUEST = {
    "borrower": {"id_number": "11010519491231002X", "phone": "13800138000", "name": "张三"},
    "purpose": "consumer_installment_underwriting",
    "features": ["si_active", "income_proxy_band"],
    "fetch_type": "ONETIME",
}


async def test_token_is_cached_across_calls(gateway: FakeGateway, lender: LendgateClient) -> None:
    created = await lender.request_consent(CONSENT_REQUEST)
    consent = await lender.get_consent(created["consent_id"])

    assert consent["consent_id"] == CONSENT_ID
    assert gateway.token_requests == 1


async def test_client_assertion_claims(gateway: FakeGateway, lender: LendgateClient) -> None:
    before = int(time.time())
    await lender.get_consent(CONSENT_ID)
    lender.forget_token()
    await lender.get_consent(CONSENT_ID)

    assert gateway.token_requests == 2
    first, second = gateway.assertions
    for claims in gateway.assertions:
        assert claims["iss"] == claims["sub"] == LENDER_ID
        assert claims["aud"] == TOKEN_URL
        assert before <= claims["iat"] <= int(time.time())
        assert 0 < claims["exp"] - claims["iat"] <= 300
    assert first["jti"] != second["jti"]
    header = gateway.assertion_headers[0]
    assert header["alg"] == "EdDSA"
    assert header["kid"] == jose.find_key(gateway.clients[LENDER_ID][0], "sig")["kid"]


async def test_release_is_decrypted_and_verified(
    gateway: FakeGateway, lender: LendgateClient
) -> None:
    release = await lender.release(CONSENT_ID, ["si_active"])

    assert isinstance(release, Release)
    assert release.consent_id == CONSENT_ID
    assert release.payload["aud"] == LENDER_ID
    assert release.payload["iss"] == "lendgate"
    assert release.payload["release_id"] == release.release_id
    assert release.features == {"si_active": True, "income_proxy_band": "8000-12000"}
    assert release.audit == {"leaf_index": 41, "leaf_hash": "ab" * 32}
    assert release.raw["delete_by"] == "2026-12-23T00:00:00+08:00"
    assert gateway.release_requests == [{"features": ["si_active"]}]


async def test_release_without_features_sends_an_empty_body(
    gateway: FakeGateway, lender: LendgateClient
) -> None:
    await lender.release(CONSENT_ID)
    await lender.release(CONSENT_ID)

    assert gateway.release_requests == [{}, {}]
    assert gateway.jwks_requests == 1  # cached between releases
    assert gateway.token_requests == 1


async def test_jwks_is_refetched_once_after_key_rotation(
    gateway: FakeGateway, lender: LendgateClient
) -> None:
    await lender.release(CONSENT_ID)
    gateway.rotate_key()

    release = await lender.release(CONSENT_ID)

    assert release.payload["iss"] == "lendgate"
    assert gateway.jwks_requests == 2


async def test_release_signed_with_an_unpublished_key_is_refused(
    gateway: FakeGateway, lender: LendgateClient
) -> None:
    await lender.release(CONSENT_ID)
    gateway.rotate_key(publish=False)

    with pytest.raises(ReleaseVerificationError, match="unknown key"):
        await lender.release(CONSENT_ID)
    assert gateway.jwks_requests == 2


async def test_release_for_another_audience_is_refused(
    gateway: FakeGateway, lender: LendgateClient
) -> None:
    gateway.release_aud = "lender-someone-else"

    with pytest.raises(ReleaseVerificationError, match="audience"):
        await lender.release(CONSENT_ID)


async def test_release_for_another_consent_is_refused(
    gateway: FakeGateway, lender: LendgateClient
) -> None:
    gateway.release_consent_id = "c-9999"

    with pytest.raises(ReleaseVerificationError, match="another consent"):
        await lender.release(CONSENT_ID)


async def test_release_encrypted_to_another_key_is_refused(
    gateway: FakeGateway, lender: LendgateClient
) -> None:
    _, other_public = jose.generate_client_jwks("lender")
    gateway.release_encrypt_to = jose.find_key(other_public, "enc")

    with pytest.raises(ReleaseVerificationError, match="decrypt"):
        await lender.release(CONSENT_ID)


async def test_api_error_carries_the_exact_code(
    gateway: FakeGateway, lender: LendgateClient
) -> None:
    assert (await lender.revoke(CONSENT_ID))["status"] == "REVOKED"

    with pytest.raises(LendgateAPIError) as caught:
        await lender.release(CONSENT_ID)

    assert caught.value.code == "ConsentRevoked"
    assert caught.value.status == 403
    assert caught.value.detail == "This consent has been revoked."


async def test_non_json_error_is_reported_as_unexpected(
    gateway: FakeGateway, lender: LendgateClient
) -> None:
    gateway.proxy_error = True  # e.g. a load balancer answering for a dead gateway

    with pytest.raises(LendgateAPIError) as caught:
        await lender.catalog()

    assert (caught.value.status, caught.value.code) == (502, "UnexpectedResponse")


async def test_refused_token_is_replaced_once(gateway: FakeGateway, lender: LendgateClient) -> None:
    await lender.get_consent(CONSENT_ID)
    gateway.token_generation += 1  # the gateway stops accepting every issued token

    await lender.get_consent(CONSENT_ID)

    assert gateway.token_requests == 2


async def test_unregistered_client_gets_invalid_token(gateway: FakeGateway) -> None:
    private, _ = jose.generate_client_jwks("lender")
    async with LendgateClient(
        BASE_URL, "lender-unknown", private, transport=gateway.transport()
    ) as client:
        with pytest.raises(LendgateAPIError) as caught:
            await client.get_consent(CONSENT_ID)

    assert caught.value.code == "InvalidToken"
    assert caught.value.status == 401


async def test_catalog_needs_no_token(gateway: FakeGateway, lender: LendgateClient) -> None:
    assert await lender.catalog() == {"purposes": [], "features": []}
    assert gateway.token_requests == 0


async def test_es256_lender_works_end_to_end(gateway: FakeGateway) -> None:
    private, public = jose.generate_client_jwks("lender", signing_alg="ES256")
    gateway.register("lender-es256", public, "consents:write features:read")

    async with LendgateClient(
        BASE_URL, "lender-es256", private, transport=gateway.transport()
    ) as client:
        release = await client.release(CONSENT_ID)

    assert release.payload["aud"] == "lender-es256"
    assert gateway.assertion_headers[0]["alg"] == "ES256"


async def test_lender_client_needs_an_encryption_key(gateway: FakeGateway) -> None:
    private, _ = jose.generate_client_jwks("regulator")

    with pytest.raises(ValueError, match="enc"):
        LendgateClient(BASE_URL, LENDER_ID, private, transport=gateway.transport())


async def test_regulator_reads_audit_entries(gateway: FakeGateway) -> None:
    private, public = jose.generate_client_jwks("regulator")
    gateway.register(REGULATOR_ID, public, "audit:read audit:cosign")

    async with RegulatorClient(
        BASE_URL, REGULATOR_ID, private, transport=gateway.transport()
    ) as regulator:
        page = await regulator.audit_entries(
            lender_id=LENDER_ID, type="release.granted", cursor=None
        )

    assert page["query"] == {"lender_id": LENDER_ID, "type": "release.granted"}
    assert gateway.assertions[0]["iss"] == REGULATOR_ID


async def test_narrowed_scope_is_requested(gateway: FakeGateway) -> None:
    private, public = jose.generate_client_jwks("regulator")
    gateway.register(REGULATOR_ID, public, "audit:read audit:cosign")

    async with RegulatorClient(
        BASE_URL, REGULATOR_ID, private, transport=gateway.transport(), scope="audit:cosign"
    ) as regulator:
        with pytest.raises(LendgateAPIError) as caught:
            await regulator.audit_entries()

    assert caught.value.code == "InsufficientScope"
