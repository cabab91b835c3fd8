"""`/docs` and `/redoc`: served with their bundles from the gateway itself, no other host."""

from __future__ import annotations

import re

import pytest

from gateway.ops.documents import SUMMARIES
from tests.support.stack import Stack

REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_reference_no_other_host(stack: Stack, page: str) -> None:
    answer = await stack.http.get(page)
    assert answer.status_code == 200
    html = answer.text
    references = REFERENCE.findall(html)
    assert references, html
    assert all(
        reference.startswith("/") and not reference.startswith("//") for reference in references
    )
    assert "http://" not in html and "https://" not in html
    policy = answer.headers["content-security-policy"]
    assert "http" not in policy and "*" not in policy
    for reference in references:
        asset = await stack.http.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 1000, reference


async def test_the_docs_bundles_are_the_gateways_own(stack: Stack) -> None:
    docs = (await stack.http.get("/docs")).text
    redoc = (await stack.http.get("/redoc")).text
    assert "/docs/assets/swagger-ui-bundle.js" in docs
    assert "/docs/assets/swagger-ui.css" in docs
    assert "/docs/assets/redoc.standalone.js" in redoc
    script = await stack.http.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"]


async def test_every_authenticated_operation_names_how_to_authenticate(stack: Stack) -> None:
    document = (await stack.http.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["clientCredentials"]["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token"
    assert "private_key_jwt" in schemes["clientCredentials"]["description"]
    assert (schemes["dpop"]["in"], schemes["dpop"]["name"]) == ("header", "DPoP")
    assert schemes["borrowerCookie"]["in"] == "cookie"
    operations = {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    release = operations[("POST", "/v1/consents/{consent_id}/releases")]["security"]
    assert {"clientCredentials": ["features:read"]} in release
    assert {"clientCredentials": ["features:read"], "dpop": []} in release
    assert operations[("GET", "/v1/audit/entries")]["security"][0] == {
        "clientCredentials": ["audit:read"]
    }
    assert operations[("POST", "/v1/borrower/consents/{consent_id}/approve")]["security"] == [
        {"borrowerBearer": []},
        {"borrowerCookie": []},
    ]
    # Every /v1/ operation but the open ones says how to call it.
    open_operations = {
        ("GET", "/v1/catalog"),
        ("POST", "/v1/borrower/otp"),
        ("POST", "/v1/borrower/session"),
    }
    for key, operation in operations.items():
        if key[1].startswith("/v1/") and key not in open_operations:
            assert operation.get("security"), key


async def test_the_documented_consent_request_is_accepted_as_written(stack: Stack) -> None:
    document = (await stack.http.get("/openapi.json")).json()
    (example,) = document["components"]["schemas"]["ConsentRequestCreate"]["examples"]
    async with stack.lender_client(await stack.register()) as lender:
        consent = await lender.request_consent(example)
    assert consent["status"] == "PENDING"
    assert consent["terms"]["purpose"] == example["purpose"]
    assert consent["terms"]["features"] == example["features"]


async def test_the_documented_release_payload_is_what_a_release_decrypts_to(
    stack: Stack,
) -> None:
    document = (await stack.http.get("/openapi.json")).json()
    schema = document["components"]["schemas"]["ReleasePayload"]
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
    payload = dict(release.payload)
    assert set(payload) == set(schema["properties"]) == set(schema["required"])
    python_types = {"string": str, "integer": int, "object": dict, "boolean": bool}
    for name, member in schema["properties"].items():
        assert isinstance(payload[name], python_types[member["type"]]), name
        assert member["description"], name
    assert set(schema["examples"][0]) == set(payload)


async def test_the_consent_event_callback_is_documented(stack: Stack) -> None:
    document = (await stack.http.get("/openapi.json")).json()
    notification = document["components"]["schemas"]["NotificationClaims"]
    assert {"jti", "seq", "event", "status", "previous_status", "actor"} <= set(
        notification["properties"]
    )
    request = document["paths"]["/v1/consent-requests"]["post"]
    (callback,) = request["callbacks"]["consentEvent"].values()
    assert "application/jwt" in callback["post"]["requestBody"]["content"]
    assert document["webhooks"]["consentEvent"] == callback


async def test_every_operation_has_a_written_summary(stack: Stack) -> None:
    document = (await stack.http.get("/openapi.json")).json()
    operations = {
        (method.upper(), path): operation["summary"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert set(operations) == set(SUMMARIES)
    assert operations == SUMMARIES


async def test_the_answer_examples_have_the_shape_of_real_answers(stack: Stack) -> None:
    schemas = (await stack.http.get("/openapi.json")).json()["components"]["schemas"]
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
    (token_example,) = schemas["TokenResponse"]["examples"]
    (release_example,) = schemas["ReleaseResponse"]["examples"]
    assert set(release_example) == set(release.raw)
    assert set(release_example["audit"]) == set(release.raw["audit"])
    assert set(token_example) == set(schemas["TokenResponse"]["properties"])
    assert token_example["scope"] == "consents:write features:read"


FRAMEWORK_SCHEMAS = {"HTTPValidationError", "ValidationError"}
"""FastAPI's own 422 shapes: listed by the document, never answered (the gateway says
`InvalidRequest` with an `ErrorBody` instead), so not described field by field."""


async def test_every_field_of_every_schema_has_a_description(stack: Stack) -> None:
    schemas = (await stack.http.get("/openapi.json")).json()["components"]["schemas"]
    undescribed = [
        f"{name}.{field}"
        for name, schema in sorted(schemas.items())
        if name not in FRAMEWORK_SCHEMAS
        for field, member in schema.get("properties", {}).items()
        if not member.get("description")
    ]
    assert undescribed == []
    assert {"AuditPage", "InclusionProof", "BorrowerExport", "ComplianceReport"} <= set(schemas)


async def test_the_borrower_login_examples_are_accepted_as_written(stack: Stack) -> None:
    schemas = (await stack.http.get("/openapi.json")).json()["components"]["schemas"]
    (otp,) = schemas["CodeRequest"]["examples"]
    (session,) = schemas["SessionRequest"]["examples"]
    (sent_example,) = schemas["CodeSent"]["examples"]
    bearer, cookie = schemas["BorrowerSession"]["examples"]

    sent = await stack.http.post("/v1/borrower/otp", json=otp)
    assert sent.status_code == 200, sent.text
    assert sent.json() == sent_example
    # The documented code is an example: a real login sends the code that was texted.
    answer = await stack.http.post(
        "/v1/borrower/session", json={**session, "code": stack.last_code(otp["phone"])}
    )
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == set(bearer)
    assert answer.json()["token_type"] == bearer["token_type"]
    assert set(session) == set(schemas["SessionRequest"]["properties"])
    sent = await stack.http.post("/v1/borrower/otp", json=otp)
    assert sent.status_code == 200, sent.text
    in_browser = {**session, "code": stack.last_code(otp["phone"]), "delivery": "cookie"}
    answer = await stack.http.post("/v1/borrower/session", json=in_browser)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == set(cookie)


async def test_the_audit_examples_have_the_shape_of_real_answers(stack: Stack) -> None:
    schemas = (await stack.http.get("/openapi.json")).json()["components"]["schemas"]
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        await lender.release(consent_id)
    async with stack.regulator_client(await stack.register("regulator", "示例监管")) as regulator:
        page = await regulator.audit_entries(limit=1)
        head = await regulator.tree_head()
        inclusion = await regulator.inclusion_proof(0, head["tree_size"])
        consistency = await regulator.consistency_proof(1, head["tree_size"])
    (page_example,) = schemas["AuditPage"]["examples"]
    (head_example,) = schemas["TreeHeadView"]["examples"]
    (inclusion_example,) = schemas["InclusionProof"]["examples"]
    (consistency_example,) = schemas["ConsistencyProof"]["examples"]

    assert set(page_example) == set(page)
    (entry,) = page["entries"]
    assert set(page_example["entries"][0]) == set(entry)
    # The document leaves null members out of its examples; a leaf carries them all.
    assert set(page_example["entries"][0]["leaf"]) == set(entry["leaf"]) - {"reason"}
    assert set(head_example) == set(head)
    assert set(inclusion_example) == set(inclusion)
    assert set(consistency_example) == set(consistency)
    for example, real in ((inclusion_example, inclusion), (consistency_example, consistency)):
        for key, value in example.items():
            if isinstance(value, str):
                assert len(value) == len(real[key]) == 64, key  # hex SHA-256, as served
