"""DPoP (RFC 9449): sender-constrained tokens for clients registered with it.

A DPoP client's token names its key (`cnf.jkt`); every request needs a fresh proof by
that key for that method, URL and token, never seen before by any gateway process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from lendgate_sdk import LendgateAPIError, RegulatorClient, dpop, jose

from tests.support.stack import (
    TOKEN_URL,
    RegisteredClient,
    Stack,
    client_assertion,
    replica,
    request_token,
)

BASE = "http://testserver"


@pytest.fixture
async def replica_http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """Another gateway process over the stack's database and keys."""
    async with replica(stack) as http:
        yield http


async def bound_token(stack: Stack, client: RegisteredClient, key: jose.SigningKey) -> str:
    """A token bound to `key`, asked for with a proof made by it."""
    answer = await request_token(
        stack.http,
        client_assertion(client),
        headers={"DPoP": dpop.make_proof(key, "POST", TOKEN_URL)},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"
    token: str = answer.json()["access_token"]
    return token


def proof_headers(
    key: jose.SigningKey, method: str, path: str, token: str, **overrides: Any
) -> dict[str, str]:
    """`Authorization: DPoP` plus a proof (any claim replaceable)."""
    proof = dpop.make_proof(key, method, BASE + path, access_token=token)
    if overrides:
        claims = {**jwt.decode(proof, options={"verify_signature": False}), **overrides}
        proof = jwt.encode(
            claims,
            key,
            algorithm=jose.algorithm_for_key(key),
            headers={"typ": "dpop+jwt", "jwk": dpop.public_jwk(key)},
        )
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


async def dpop_lender(stack: Stack) -> tuple[RegisteredClient, jose.SigningKey, str, str]:
    """A DPoP lender with a bound token and one of its consents."""
    client = await stack.register_client(dpop_required=True)
    key = jose.generate_signing_key()
    token = await bound_token(stack, client, key)
    created = await stack.http.post(
        "/v1/consent-requests",
        json=stack.consent_body(stack.person()),
        headers=proof_headers(key, "POST", "/v1/consent-requests", token),
    )
    assert created.status_code == 201, created.text
    return client, key, token, created.json()["consent_id"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def refusal(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]


async def test_the_sdk_gets_bound_tokens_and_releases_with_proofs(stack: Stack) -> None:
    registered = await stack.register_client(dpop_required=True)
    async with stack.dpop_lender_client(registered) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
        token = await lender.access_token()
    assert release.features and release.consent_id == consent_id
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims["cnf"]) == {"jkt"}
    # The token alone, as a bearer token, is worth nothing.
    stolen = await stack.http.get(
        f"/v1/consents/{consent_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert refusal(stolen) == (401, "InvalidToken")
    assert stolen.headers["www-authenticate"].startswith("DPoP ")


async def test_a_dpop_client_gets_no_token_without_a_proof(stack: Stack) -> None:
    registered = await stack.register_client(dpop_required=True)
    answer = await request_token(stack.http, client_assertion(registered))
    assert refusal(answer) == (401, "InvalidToken")
    assert 'error="invalid_dpop_proof"' in answer.headers["www-authenticate"]
    async with stack.lender_client(registered) as plain:
        with pytest.raises(LendgateAPIError) as caught:
            await plain.access_token()
    assert caught.value.code == "InvalidToken"


async def test_any_client_may_opt_in_and_is_then_held_to_it(stack: Stack) -> None:
    registered = await stack.register()
    key = jose.generate_signing_key()
    token = await bound_token(stack, registered, key)
    ok = await stack.http.get(
        "/v1/consents/cns_000000000000000000000000",
        headers=proof_headers(key, "GET", "/v1/consents/cns_000000000000000000000000", token),
    )
    assert refusal(ok) == (404, "ConsentNotFound")
    as_bearer = await stack.http.get(
        "/v1/consents/cns_000000000000000000000000", headers={"Authorization": f"Bearer {token}"}
    )
    assert refusal(as_bearer) == (401, "InvalidToken")


async def test_a_bearer_token_cannot_pose_as_dpop(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        token = await lender.access_token()
    key = jose.generate_signing_key()
    answer = await stack.http.get(
        "/v1/consents/cns_000000000000000000000000",
        headers=proof_headers(key, "GET", "/v1/consents/cns_000000000000000000000000", token),
    )
    assert refusal(answer) == (401, "InvalidToken")


MISMATCHES = {
    "another-key": "The DPoP proof is signed by another key than the token is bound to.",
    "another-method": "The DPoP proof was made for another method.",
    "another-url": "The DPoP proof was made for another URL.",
    "another-token": "The DPoP proof was made for another access token.",
    "too-old": "The DPoP proof is too old.",
    "from-the-future": "The DPoP proof is issued in the future.",
    "no-proof": "A DPoP-bound token needs exactly one DPoP proof.",
    "two-proofs": "A DPoP-bound token needs exactly one DPoP proof.",
    "wrong-typ": "The DPoP proof is of the wrong type.",
    "alg-none": "The DPoP proof's algorithm does not match its key.",
    "hmac": "The DPoP proof's algorithm does not match its key.",
    "private-key-in-header": "The DPoP proof's key holds private material.",
}


@pytest.mark.parametrize("mismatch", list(MISMATCHES))
async def test_a_mismatched_proof_is_refused(stack: Stack, mismatch: str) -> None:
    _, key, token, consent_id = await dpop_lender(stack)
    path = f"/v1/consents/{consent_id}"
    good = proof_headers(key, "GET", path, token)
    proof = good["DPoP"]
    header = {"typ": "dpop+jwt", "jwk": dpop.public_jwk(key)}
    claims = jwt.decode(proof, options={"verify_signature": False})
    now = int(time.time())
    headers: dict[str, str] | list[tuple[str, str]]
    if mismatch == "another-key":
        headers = proof_headers(jose.generate_signing_key(), "GET", path, token)
    elif mismatch == "another-method":
        headers = proof_headers(key, "POST", path, token)
    elif mismatch == "another-url":
        headers = proof_headers(key, "GET", "/v1/consents/cns_0000000000000000000000ff", token)
    elif mismatch == "another-token":
        headers = {**good, "DPoP": dpop.make_proof(key, "GET", BASE + path, access_token="x.y.z")}
    elif mismatch == "too-old":
        headers = proof_headers(key, "GET", path, token, iat=now - 600)
    elif mismatch == "from-the-future":
        headers = proof_headers(key, "GET", path, token, iat=now + 600)
    elif mismatch == "no-proof":
        headers = {"Authorization": good["Authorization"]}
    elif mismatch == "two-proofs":
        second = proof_headers(key, "GET", path, token)["DPoP"]
        headers = [("Authorization", good["Authorization"]), ("DPoP", proof), ("DPoP", second)]
    elif mismatch == "wrong-typ":
        headers = {
            **good,
            "DPoP": jwt.encode(claims, key, algorithm="EdDSA", headers={**header, "typ": "JWT"}),
        }
    elif mismatch == "alg-none":
        none_header = base64.urlsafe_b64encode(
            json.dumps({**header, "alg": "none"}).encode()
        ).rstrip(b"=")
        headers = {**good, "DPoP": f"{none_header.decode()}.{proof.split('.')[1]}."}
    elif mismatch == "hmac":
        # HS256 keyed with the proof's own public key: forgeable by anyone holding the proof.
        secret = base64.urlsafe_b64decode(dpop.public_jwk(key)["x"] + "==")
        signing_input = ".".join(
            _b64(json.dumps(part).encode()) for part in ({**header, "alg": "HS256"}, claims)
        )
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        headers = {**good, "DPoP": f"{signing_input}.{_b64(mac)}"}
    else:  # private-key-in-header
        private = jose.generate_client_jwks("regulator")[0]["keys"][0]
        headers = {
            **good,
            "DPoP": jwt.encode(claims, key, algorithm="EdDSA", headers={**header, "jwk": private}),
        }
    answer = await stack.http.get(path, headers=headers)
    assert refusal(answer) == (401, "InvalidToken"), mismatch
    assert answer.json()["detail"] == MISMATCHES[mismatch]
    assert 'error="invalid_dpop_proof"' in answer.headers["www-authenticate"]
    assert "consent_id" not in answer.text
    # The right proof still works afterwards.
    assert (await stack.http.get(path, headers=good)).status_code == 200


async def test_a_replayed_proof_is_refused_by_every_process(
    stack: Stack, replica_http: httpx.AsyncClient
) -> None:
    _, key, token, consent_id = await dpop_lender(stack)
    path = f"/v1/consents/{consent_id}"
    headers = proof_headers(key, "GET", path, token)
    assert (await stack.http.get(path, headers=headers)).status_code == 200
    again = await stack.http.get(path, headers=headers)
    elsewhere = await replica_http.get(path, headers=headers)
    for answer in (again, elsewhere):
        assert refusal(answer) == (401, "InvalidToken")
        assert answer.json()["detail"] == "This DPoP proof was already used."
    # A token request's proof cannot be replayed either.
    client = await stack.register_client(dpop_required=True)
    token_proof = dpop.make_proof(key, "POST", TOKEN_URL)
    first = await request_token(stack.http, client_assertion(client), headers={"DPoP": token_proof})
    second = await request_token(
        stack.http, client_assertion(client), headers={"DPoP": token_proof}
    )
    assert first.status_code == 200
    assert refusal(second) == (401, "InvalidToken")


async def test_a_regulator_can_use_dpop_too(stack: Stack) -> None:
    registered = await stack.register_client("regulator", name="监管机构", dpop_required=True)
    async with RegulatorClient(
        BASE,
        registered.client_id,
        registered.private_jwks,
        transport=httpx.ASGITransport(app=stack.app),
        dpop=True,
    ) as regulator:
        head = await regulator.tree_head()
    assert head["tree_size"] >= 1
