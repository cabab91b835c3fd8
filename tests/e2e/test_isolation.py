"""The isolation matrix: every endpoint × every party that must not reach it.

Lenders compete, borrowers must never see each other, a regulator reads but never
changes. For every route the app serves (enumerated, so a new route cannot slip by:
`test_every_route_is_classified` fails until it is listed here), each of {another
lender, another borrower, the regulator, no token, an expired token, a token for
another audience} gets the documented refusal, and where the route names an object
(a consent, a release) the answer is byte for byte the one for an id that does not
exist: status and body leak nothing about the object.

Products are per lender: two county banks with different products on one gateway each see
exactly their own in `GET /v1/catalog`, and a request naming the other's product gets the
answer of a product that does not exist, with nothing written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
import pytest
from lendgate_sdk import jose
from sqlalchemy import func, select

from consent.models import Consent
from tests.support.products import Banks, product_body
from tests.support.stack import Stack, api_routes

Owner = Literal["lender", "borrower", "regulator"]
Caller = Literal[
    "other_lender", "other_borrower", "regulator", "no_token", "expired_token", "other_audience"
]
CALLERS: tuple[Caller, ...] = (
    "other_lender",
    "other_borrower",
    "regulator",
    "no_token",
    "expired_token",
    "other_audience",
)
MISSING = {"consent": "cns_" + "0" * 24, "release": "rel_" + "0" * 24}


@dataclass(frozen=True)
class Endpoint:
    """Who owns a route and which object it names: in the path, or as a query filter."""

    owner: Owner
    names: Literal["consent", "release"] | None = None
    in_query: bool = False
    body: dict[str, Any] | None = None
    query: dict[str, Any] = field(default_factory=dict)


# Open to anyone (login, keys, catalog, health, the token endpoint, the portal's pages).
PUBLIC = {
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/v1/catalog"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/oauth/token"),
    ("POST", "/v1/borrower/otp"),
    ("POST", "/v1/borrower/session"),
    # The API documentation's pages (their bundles are static files under /docs/assets).
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}
# The portal's and the console's page shells: they read nothing; their scripts call the API.
PUBLIC_PREFIXES = ("/portal/", "/regulator/")

MATRIX: dict[tuple[str, str], Endpoint] = {
    # lenders
    ("POST", "/v1/consent-requests"): Endpoint("lender", body={}),
    ("GET", "/v1/consents/{consent_id}"): Endpoint("lender", "consent"),
    ("GET", "/v1/consents/{consent_id}/authorization"): Endpoint("lender", "consent"),
    ("POST", "/v1/consents/{consent_id}/revoke"): Endpoint("lender", "consent"),
    ("POST", "/v1/consents/{consent_id}/releases"): Endpoint("lender", "consent", body={}),
    ("POST", "/v1/releases/{release_id}/deletion-attestation"): Endpoint(
        "lender", "release", body={}
    ),
    ("GET", "/v1/notifications"): Endpoint("lender", "consent", in_query=True),
    # borrowers
    ("POST", "/v1/borrower/logout"): Endpoint("borrower"),
    ("GET", "/v1/borrower/consents"): Endpoint("borrower"),
    ("GET", "/v1/borrower/access-log"): Endpoint("borrower"),
    ("GET", "/v1/borrower/export"): Endpoint("borrower"),
    ("GET", "/v1/borrower/consents/{consent_id}"): Endpoint("borrower", "consent"),
    ("GET", "/v1/borrower/consents/{consent_id}/receipt"): Endpoint("borrower", "consent"),
    ("GET", "/v1/borrower/consents/{consent_id}/authorization"): Endpoint("borrower", "consent"),
    ("POST", "/v1/borrower/consents/{consent_id}/approve"): Endpoint(
        "borrower", "consent", body={"code": "000000"}
    ),
    ("POST", "/v1/borrower/consents/{consent_id}/reject"): Endpoint("borrower", "consent"),
    ("POST", "/v1/borrower/consents/{consent_id}/pause"): Endpoint("borrower", "consent"),
    ("POST", "/v1/borrower/consents/{consent_id}/resume"): Endpoint("borrower", "consent"),
    ("POST", "/v1/borrower/consents/{consent_id}/revoke"): Endpoint("borrower", "consent"),
    ("POST", "/v1/borrower/consents/{consent_id}/delete-data"): Endpoint("borrower", "consent"),
    # the regulator
    ("GET", "/v1/audit/entries"): Endpoint("regulator"),
    ("GET", "/v1/audit/sth"): Endpoint("regulator"),
    ("POST", "/v1/audit/sth/{tree_size}/cosign"): Endpoint(
        "regulator", body={"signature": "a.b.c"}
    ),
    ("GET", "/v1/audit/proofs/inclusion"): Endpoint(
        "regulator", query={"index": 0, "tree_size": 1}
    ),
    ("GET", "/v1/audit/proofs/consistency"): Endpoint("regulator", query={"first": 1, "second": 1}),
    ("GET", "/v1/audit/export"): Endpoint("regulator"),
    ("GET", "/v1/audit/reports/compliance"): Endpoint(
        "regulator", query={"from": "2026-01-01T00:00:00+08:00", "to": "2026-01-02T00:00:00+08:00"}
    ),
    ("GET", "/v1/audit/deletion-attestations/overdue"): Endpoint("regulator"),
    ("GET", "/v1/audit/products"): Endpoint("regulator"),
}

# The documented refusal of each caller, by the kind of party the route belongs to. None:
# the caller may use the route (its answer must still say nothing about others' objects).
REFUSALS: dict[Owner, dict[Caller, tuple[int, str] | None]] = {
    "lender": {
        "other_lender": None,
        "other_borrower": (401, "InvalidToken"),
        "regulator": (403, "InsufficientScope"),
        "no_token": (401, "InvalidToken"),
        "expired_token": (401, "InvalidToken"),
        "other_audience": (401, "InvalidToken"),
    },
    "borrower": {
        "other_lender": (401, "InvalidToken"),
        "other_borrower": None,
        "regulator": (401, "InvalidToken"),
        "no_token": (401, "InvalidToken"),
        "expired_token": (401, "InvalidToken"),
        "other_audience": (401, "InvalidToken"),
    },
    "regulator": {
        "other_lender": (403, "InsufficientScope"),
        "other_borrower": (401, "InvalidToken"),
        "regulator": None,
        "no_token": (401, "InvalidToken"),
        "expired_token": (401, "InvalidToken"),
        "other_audience": (401, "InvalidToken"),
    },
}
# Another party reaching an object that is not theirs: as if it did not exist.
NOT_THEIRS = (404, "ConsentNotFound")


@dataclass
class World:
    """One consent of lender A and borrower X, released once; the other parties' tokens."""

    consent_id: str
    release_id: str
    person_phone: str
    headers: dict[str, dict[str, str]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _resign(stack: Stack, token: str, **changes: Any) -> str:
    """The same token with `changes`, signed by the gateway's own key (a genuine signature)."""
    claims = {**jwt.decode(token, options={"verify_signature": False}), **changes}
    key = stack.context.keys.signing_key
    return jose.sign_jwt(claims, key.private_key, key.kid)


@pytest.fixture(scope="module")
async def world(stack: Stack) -> AsyncIterator[World]:
    owner, other = await stack.register(), await stack.register(name="另一家机构")
    regulator = await stack.register("regulator", name="监管机构")
    async with stack.lender_client(owner) as lender_a, stack.lender_client(other) as lender_b:
        consent_id, person, auth_x = await stack.active_consent(lender_a)
        release = await lender_a.release(consent_id)
        token_a, token_b = await lender_a.access_token(), await lender_b.access_token()
    async with stack.regulator_client(regulator) as reg:
        token_r = await reg.access_token()
    auth_y = await stack.borrower_login(stack.person().phone)
    token_x = auth_x["Authorization"].removeprefix("Bearer ")
    owner_tokens = {"lender": token_a, "borrower": token_x, "regulator": token_r}
    headers = {
        "other_lender": bearer(token_b),
        "other_borrower": auth_y,
        "regulator": bearer(token_r),
        "no_token": {},
    }
    for kind, token in owner_tokens.items():
        expired = _resign(stack, token, iat=1_700_000_000, exp=1_700_000_300)
        foreign = _resign(stack, token, aud="https://another-gateway.example")
        headers[f"expired_token:{kind}"] = bearer(expired)
        headers[f"other_audience:{kind}"] = bearer(foreign)
    headers["owner:lender"] = bearer(token_a)
    headers["owner:borrower"] = auth_x
    yield World(consent_id, release.release_id, person.phone, headers)


def test_every_route_is_classified(stack: Stack) -> None:
    served = {(method, path) for method, path, _ in api_routes(stack.app)}
    unclassified = {
        route
        for route in served
        if route not in MATRIX and route not in PUBLIC and not route[1].startswith(PUBLIC_PREFIXES)
    }
    assert not unclassified, f"classify these routes in the isolation matrix: {unclassified}"
    assert not set(MATRIX) - served, f"stale rows: {set(MATRIX) - served}"


async def test_the_objects_exist_for_their_owners(stack: Stack, world: World) -> None:
    lender = await stack.http.get(
        f"/v1/consents/{world.consent_id}", headers=world.headers["owner:lender"]
    )
    borrower = await stack.http.get(
        f"/v1/borrower/consents/{world.consent_id}", headers=world.headers["owner:borrower"]
    )
    assert lender.status_code == borrower.status_code == 200
    assert await stack.release_count(world.consent_id) == 1


def _cases() -> list[tuple[str, str, Caller]]:
    return [(method, path, caller) for (method, path) in MATRIX for caller in CALLERS]


@pytest.mark.parametrize(("method", "path", "caller"), _cases())
async def test_isolation(
    stack: Stack, world: World, method: str, path: str, caller: Caller
) -> None:
    endpoint = MATRIX[(method, path)]
    expected = REFUSALS[endpoint.owner][caller]
    key = f"{caller}:{endpoint.owner}" if caller in ("expired_token", "other_audience") else caller
    headers = world.headers[key]
    body = endpoint.body
    if path == "/v1/consent-requests":
        body = stack.consent_body(stack.person())

    async def call(object_id: str | None) -> Any:
        url, query = path, dict(endpoint.query)
        if object_id is not None and endpoint.in_query:
            query[f"{endpoint.names}_id"] = object_id
        elif object_id is not None:
            url = url.replace(f"{{{endpoint.names}_id}}", object_id)
        url = url.replace("{tree_size}", "1")
        return await stack.http.request(method, url, params=query, json=body, headers=headers)

    real_id = {"consent": world.consent_id, "release": world.release_id}.get(endpoint.names or "")
    if expected is None:
        if endpoint.names is None:
            if method != "GET":
                return  # the caller's own action (its own consent request, its own logout)
            answer = await call(None)
            assert answer.status_code == 200, answer.text
            if caller != "regulator":  # the regulator reads the whole log by design
                assert world.consent_id not in answer.text
                assert world.release_id not in answer.text
            return
        expected = NOT_THEIRS if not endpoint.in_query else None

    real = await call(real_id)
    missing = await call(MISSING[endpoint.names]) if endpoint.names else None
    if expected is not None:
        assert (real.status_code, real.json()["error"]) == expected, real.text
    else:  # a filter by another's object: an empty answer, as for an unknown id
        assert real.status_code == 200 and world.consent_id not in real.text
    if missing is not None:
        assert (real.status_code, real.json()) == (missing.status_code, missing.json())
    assert world.person_phone not in real.text

    # Nothing was changed by the refused call.
    async with stack.context.sessionmaker() as session:
        status = await session.scalar(select(Consent.status).where(Consent.id == world.consent_id))
    assert status == "ACTIVE"
    assert await stack.release_count(world.consent_id) == 1


# The README's two county banks and their products (policies/examples/products).
PRODUCTS = {
    "qingshan": {"jinyan_easy_loan", "housing_fund_easy_loan"},
    "baishui": {"huinong_credit_line"},
}


async def _consents(stack: Stack) -> int:
    """How many consents the database holds."""
    async with stack.context.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Consent)) or 0)


@pytest.mark.parametrize(("bank", "other"), [("qingshan", "baishui"), ("baishui", "qingshan")])
async def test_each_lender_reaches_only_its_own_products(
    stack: Stack, banks: Banks, bank: str, other: str
) -> None:
    token = bearer(await getattr(banks, bank).access_token())
    catalog = await stack.http.get("/v1/catalog", headers=token)
    assert catalog.status_code == 200
    assert {product["code"] for product in catalog.json()["products"]} == PRODUCTS[bank]
    for code in PRODUCTS[other]:
        assert code not in catalog.text

    consents, leaves = await _consents(stack), len(await stack.audit_leaves())
    answers = []
    for code in (*sorted(PRODUCTS[other]), "no_such_product"):
        body = product_body(stack, code, purpose="consumer_installment_underwriting")
        answer = await stack.http.post("/v1/consent-requests", json=body, headers=token)
        assert (answer.status_code, answer.json()["error"]) == (422, "PurposeViolation")
        answers.append(answer.json()["detail"].replace(code, "CODE"))
    # The other's product is as unknown as one nobody has, and no consent was written: the
    # log holds only the denials, which name neither product.
    assert set(answers) == {"Unknown product 'CODE'."}
    assert await _consents(stack) == consents
    denials = (await stack.audit_leaves())[leaves:]
    assert [(leaf["type"], leaf["reason"]) for leaf in denials] == [
        ("consent.request_denied", "PurposeViolation")
    ] * len(answers)
    for code in PRODUCTS[other]:
        assert code not in str(denials)
