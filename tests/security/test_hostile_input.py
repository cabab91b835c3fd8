"""Hostile input at the edge, over every route: NUL and control characters, invalid UTF-8,
integers past 64 bits, loose times, traversal-looking ids, unparseable and deep bodies.

Each is refused with its exact code before anything reaches a query, and nothing is written.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from gateway.audit.models import AuditEntry
from gateway.core.db import Base
from gateway.core.ids import new_id
from tests.support.stack import (
    ASSERTION_TYPE,
    Parties,
    Stack,
    api_routes,
    assertion_claims,
    client_assertion,
    parties_of,
    request_token,
)

MISSING_CONSENT = "cns_" + "0" * 24

# Percent-encoded, as they travel in a request line.
HOSTILE_TEXT = {
    "nul": "%00",
    "nul-inside": "cns_%00" + "0" * 23,
    "control": "a%1Fb",
    "delete": "a%7Fb",
    "c1-control": "a%C2%85b",
    "invalid-utf8": "%C0%AE%FF",
}
HOSTILE_IDS = {
    **HOSTILE_TEXT,
    "traversal": "..%2F..%2Fetc%2Fpasswd",
    "dot-segments": "%2E%2E",
    "backslash": "..%5C..%5Cwin.ini",
    "sql": "cns_x'%20OR%20'1'='1",
    "too-long": "cns_" + "0" * 500,
}
HOSTILE_INTEGERS = {
    "int64-overflow": "9223372036854775808",
    "huge": "9" * 5000,
    "negative": "-1",
    "superscript": "%C2%B2",
    "float": "1.5",
}
HOSTILE_TIMES = {
    "epoch-number": "1700000000",
    "no-offset": "2026-01-01T00:00:00",
    "date-only": "2026-01-01",
    "year-overflow": "99999-01-01T00:00:00Z",
    "nul": "2026-01-01T00:00:00Z%00",
}
JSON = {"Content-Type": "application/json"}
HOSTILE_BODIES = {
    "non-utf8": (b'{"features": ["\xff\xfe"]}', JSON),
    "deep-nesting": (b"[" * 5000 + b"]" * 5000, JSON),
    "nesting-past-limit": (b'{"features": ' + b"[" * 40 + b"]" * 40 + b"}", JSON),
    "5000-digit-integer": (b'{"code": ' + b"9" * 5000 + b"}", JSON),
    "int64-overflow": (b'{"value": 9223372036854775808}', JSON),
    "nan": (b'{"value": NaN}', JSON),
    "infinity": (b'{"value": 1e999}', JSON),
    "nul-in-string": (b'{"features": ["si_active\\u0000"]}', JSON),
    "nul-in-key": (b'{"\\u0000": 1}', JSON),
    "control-in-string": (b'{"code": "12\\u001b[2J"}', JSON),
    "truncated": (b'{"features": [', JSON),
    "no-content-type-non-utf8": (b'{"code": "\xc3"}', {}),
    "wrong-content-type": (b'{"features": ["si_active"]}', {"Content-Type": "text/plain"}),
}


@pytest.fixture
async def parties(stack: Stack) -> Parties:
    """Valid credentials of a lender, a regulator and a borrower."""
    return await parties_of(stack)


async def row_counts(stack: Stack) -> dict[str, int]:
    """Rows of every table but the rate limiter's counters (a refused request may count)."""
    counts = {}
    async with stack.context.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            if table.name != "security_counters":
                counts[table.name] = int(
                    await session.scalar(select(func.count()).select_from(table)) or 0
                )
    return counts


def _fill(path: str, value: str) -> str:
    """`path` with every `{parameter}` set to `value` (a well-shaped id where none is hostile)."""
    return re.sub(r"\{[^}]+\}", value, path)


def routes_with_path_ids(stack: Stack) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path, route in api_routes(stack.app)
        if path.startswith(("/v1/", "/oauth/")) and route.dependant.path_params
    ]


def _refused(answer: httpx.Response, status: int = 422, code: str = "InvalidRequest") -> bool:
    return answer.status_code == status and answer.json().get("error") == code


async def test_hostile_path_ids_are_refused_on_every_route(stack: Stack, parties: Parties) -> None:
    before = await row_counts(stack)
    checked = []
    for method, path in routes_with_path_ids(stack):
        for name, value in HOSTILE_IDS.items():
            if "{tree_size}" in path and name in ("dot-segments", "traversal", "backslash", "sql"):
                continue  # not an integer: refused as well, listed with the integers below
            url = _fill(path, value)
            answer = await stack.http.request(
                method, url, headers={**parties.for_path(path), **JSON}, content=b"{}"
            )
            assert _refused(answer), (method, path, name, answer.status_code, answer.text)
            checked.append((method, path))
        if "{tree_size}" in path:
            for name, value in HOSTILE_INTEGERS.items():
                answer = await stack.http.request(
                    method,
                    _fill(path, value),
                    headers={**parties.for_path(path), **JSON},
                    content=b'{"signature": "x"}',
                )
                assert _refused(answer), (method, path, name, answer.status_code, answer.text)
    assert {path for _, path in checked} >= {
        "/v1/consents/{consent_id}",
        "/v1/consents/{consent_id}/releases",
        "/v1/consents/{consent_id}/revoke",
        "/v1/releases/{release_id}/deletion-attestation",
        "/v1/borrower/consents/{consent_id}",
        "/v1/borrower/consents/{consent_id}/approve",
        "/v1/borrower/consents/{consent_id}/revoke",
        "/v1/audit/sth/{tree_size}/cosign",
    }
    assert await row_counts(stack) == before


QUERY_CASES: list[tuple[str, str, dict[str, str]]] = [
    ("/v1/audit/entries", "lender_id", {**HOSTILE_IDS, "client-shape-wrong": "lnd_XYZ"}),
    ("/v1/audit/entries", "consent_id", HOSTILE_IDS),
    ("/v1/audit/entries", "type", {**HOSTILE_TEXT, "wildcard": "release.%25", "space": "a%20b"}),
    ("/v1/audit/entries", "since", HOSTILE_TIMES),
    ("/v1/audit/entries", "until", HOSTILE_TIMES),
    ("/v1/audit/entries", "cursor", {**HOSTILE_INTEGERS, **HOSTILE_TEXT}),
    ("/v1/audit/entries", "limit", HOSTILE_INTEGERS),
    ("/v1/audit/sth", "tree_size", HOSTILE_INTEGERS),
    ("/v1/audit/proofs/inclusion?tree_size=1", "index", HOSTILE_INTEGERS),
    ("/v1/audit/proofs/inclusion?index=0", "tree_size", HOSTILE_INTEGERS),
    ("/v1/audit/proofs/consistency?second=2", "first", HOSTILE_INTEGERS),
    ("/v1/audit/proofs/consistency?first=1", "second", HOSTILE_INTEGERS),
    ("/v1/audit/export", "from", {**HOSTILE_TIMES, **HOSTILE_INTEGERS}),
    ("/v1/audit/export", "to", {**HOSTILE_TIMES, **HOSTILE_INTEGERS}),
    ("/v1/audit/reports/compliance?to=2026-02-01T00:00:00Z", "from", HOSTILE_TIMES),
    ("/v1/audit/reports/compliance?from=2026-01-01T00:00:00Z", "to", HOSTILE_TIMES),
    ("/v1/audit/deletion-attestations/overdue", "lender_id", HOSTILE_IDS),
    ("/v1/audit/deletion-attestations/overdue", "cursor", HOSTILE_TEXT),
    ("/v1/audit/products", "lender_id", HOSTILE_IDS),
    ("/v1/notifications", "consent_id", HOSTILE_IDS),
    ("/v1/notifications", "cursor", HOSTILE_TEXT),
    ("/v1/notifications", "status", HOSTILE_TEXT),
    ("/v1/borrower/access-log", "cursor", {**HOSTILE_TEXT, "nul-in-cursor": "MjAyNnwA"}),
    ("/v1/catalog", "lang", HOSTILE_TEXT),
    ("/portal/", "lang", HOSTILE_TEXT),
    ("/healthz", "anything", HOSTILE_TEXT),
]


async def test_hostile_query_values_are_refused(stack: Stack, parties: Parties) -> None:
    before = await row_counts(stack)
    for path, name, values in QUERY_CASES:
        separator = "&" if "?" in path else "?"
        for label, value in values.items():
            url = f"{path}{separator}{name}={value}"
            answer = await stack.http.get(url, headers=parties.for_path(path))
            assert _refused(answer), (url, label, answer.status_code, answer.text)
    assert await row_counts(stack) == before


@pytest.mark.parametrize(
    "path", ["/v1/consents/%00", "/portal/%00", "/regulator/a%01b", "/v1/audit/sth%00", "/%FF"]
)
async def test_control_characters_in_any_path_are_refused_unauthenticated(
    stack: Stack, path: str
) -> None:
    before = await row_counts(stack)
    answer = await stack.http.get(path)
    assert _refused(answer), answer.text
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert await row_counts(stack) == before


def routes_with_json_bodies(stack: Stack) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path, route in api_routes(stack.app)
        if route.dependant.body_params and path != "/oauth/token"
    ]


async def test_unparseable_bodies_are_invalid_request_on_every_route(
    stack: Stack, parties: Parties
) -> None:
    before = await row_counts(stack)
    routes = routes_with_json_bodies(stack)
    assert ("POST", "/v1/consent-requests") in routes
    assert ("POST", "/v1/consents/{consent_id}/releases") in routes
    for method, path in routes:
        url = _fill(path, "1" if "{tree_size}" in path else MISSING_CONSENT)
        for name, (body, headers) in HOSTILE_BODIES.items():
            answer = await stack.http.request(
                method, url, content=body, headers={**parties.for_path(path), **headers}
            )
            assert _refused(answer), (method, path, name, answer.status_code, answer.text)
    assert await row_counts(stack) == before


async def test_token_endpoint_refuses_hostile_assertions_on_record(stack: Stack) -> None:
    registered = await stack.register()
    key_claims: dict[str, dict[str, Any]] = {
        "nul-issuer": {"iss": "\u0000", "sub": "\u0000"},
        "traversal-issuer": {"iss": "../clients", "sub": "../clients"},
        "huge-issuer": {"iss": "lnd_" + "0" * 5000},
        "nul-jti": {"jti": "a\u0000b"},
        "number-jti": {"jti": 9223372036854775808},
        "huge-expiry": {"exp": 2**70},
    }

    for name, overrides in key_claims.items():
        before, assertions_before = await _token_refusals(stack), await _spent_assertions(stack)
        answer = await request_token(stack.http, client_assertion(registered, **overrides))
        assert _refused(answer, 401, "InvalidToken"), (name, answer.status_code, answer.text)
        assert await _token_refusals(stack) == before + 1, name
        assert await _spent_assertions(stack) == assertions_before, name
    assert assertion_claims(registered.client_id)["iss"] == registered.client_id


# Decoded, as a form field carries them (the client percent-encodes them on the way).
HOSTILE_FORM_TEXT = {
    "nul": "\u0000",
    "control": "\u001f",
    "newline": "\n",
    "delete": "\u007f",
    "c1-control": "\u0085",
}


async def test_control_characters_in_token_form_fields_are_refused_on_record(
    stack: Stack,
) -> None:
    registered = await stack.register()
    for field in ("grant_type", "client_assertion_type", "client_assertion", "scope"):
        for name, hostile in HOSTILE_FORM_TEXT.items():
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": client_assertion(registered),
                "scope": "consents:write features:read",
            }
            value = form[field]
            form[field] = value[: len(value) // 2] + hostile + value[len(value) // 2 :]
            before, refusals = await row_counts(stack), await _token_refusals(stack)
            answer = await stack.http.post("/oauth/token", data=form)
            assert _refused(answer, 401, "InvalidToken"), (field, name, answer.text)
            assert await _token_refusals(stack) == refusals + 1, (field, name)
            # The refusal's own leaf (and its tree's nodes) is all that is written.
            after = await row_counts(stack)
            assert after["audit_entries"] == before["audit_entries"] + 1, (field, name)
            assert _outside_log(after) == _outside_log(before), (field, name)


def _outside_log(counts: dict[str, int]) -> dict[str, int]:
    """Row counts but the log's leaves and its Merkle tree's nodes."""
    return {t: n for t, n in counts.items() if t not in ("audit_entries", "audit_nodes")}


async def _token_refusals(stack: Stack) -> int:
    async with stack.context.sessionmaker() as session:
        query = select(func.count()).select_from(AuditEntry)
        return int(await session.scalar(query.where(AuditEntry.type == "token.refused")) or 0)


async def _spent_assertions(stack: Stack) -> int:
    async with stack.context.sessionmaker() as session:
        return int(await session.scalar(text("SELECT count(*) FROM used_client_assertions")) or 0)


async def test_a_well_shaped_unknown_id_is_still_not_found(stack: Stack, parties: Parties) -> None:
    unknown = new_id("cns")
    answer = await stack.http.get(f"/v1/consents/{unknown}", headers=parties.lender)
    assert _refused(answer, 404, "ConsentNotFound")
    answer = await stack.http.get(
        f"/v1/audit/entries?consent_id={unknown}&since=2026-01-01T00:00:00%2B08:00",
        headers=parties.regulator,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["entries"] == []
