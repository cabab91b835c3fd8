"""What the OpenAPI document cannot learn from the routes: the signed payloads and the callback.

A release answer carries a JWE; inside is a JWS whose claims are the release payload. A
lender's `callback_url` receives consent events as JWS. Both claim sets are the SDK's
(`lendgate_sdk.claims`), described here field by field as schemas a developer can read, and
the callback is documented on `POST /v1/consent-requests` (`callbacks`) and as a webhook.
"""

from __future__ import annotations

import typing
from typing import Any, Final

from lendgate_sdk.claims import NotificationClaims, ReleaseClaims

RELEASE_PAYLOAD_FIELDS: Final = {
    "release_id": "This release's id (the same as the answer's `release_id`).",
    "consent_id": "The consent it was released under.",
    "purpose": "The consent's purpose code (`GET /v1/catalog`).",
    "borrower_ref": "The borrower's pairwise pseudonym: stable for this lender, "
    "unlinkable across lenders; never an identifier.",
    "features": "The features released, by name: bands, counts, flags and rounded ratios "
    "(each feature's type and bands in `GET /v1/catalog`).",
    "sources": "Per source read, the latest month its data covers (`as_of`, YYYY-MM).",
    "policy_version": "`sha256:` digest of the catalogs the release was decided under.",
    "iat": "When the gateway signed it (seconds since the epoch).",
    "iss": "Always `lendgate`.",
    "aud": "The lender's client id: the only party the release is for.",
}
RELEASE_PAYLOAD_EXAMPLE: Final = {
    "release_id": "rel_4f1c2a9d0b7e4c18a2d35e6f",
    "consent_id": "cns_9a8b7c6d5e4f40312a1b2c3d",
    "purpose": "consumer_installment_underwriting",
    "borrower_ref": "3e7d0c5b9a1f4e2d8c6b4a2f0e1d3c5b7a9e1f3d5c7b9a2e4f6d8c0b1a3e5f7d",
    "features": {
        "si_active": True,
        "hf_status": "NORMAL",
        "income_proxy_band": "12000-20000",
        "cb_overdue_accounts_24m": 0,
    },
    "sources": {
        "social_insurance": {"as_of": "2026-11"},
        "housing_fund": {"as_of": "2026-11"},
        "credit_bureau": {"as_of": "2026-11"},
    },
    "policy_version": "sha256:5d41402abc4b2a76b9719d911017c592ae4e1d2f6c3b8a7e9f0d1c2b3a4e5f60",
    "iat": 1796000000,
    "iss": "lendgate",
    "aud": "lnd_0d1e2f3a4b5c4d6e8f7a9b0c",
}
NOTIFICATION_FIELDS: Final = {
    "iss": "Always `lendgate`.",
    "aud": "The lender's client id.",
    "sub": "The consent's id (as `consent_id`).",
    "jti": "The event's id: the same on every delivery attempt; deduplicate by it.",
    "iat": "When the event was signed (seconds since the epoch).",
    "event": "What happened: `consent.approved`, `consent.rejected`, `consent.paused`, "
    "`consent.resumed`, `consent.revoked`, `consent.expired`.",
    "seq": "The consent's events counted from 1: order a consent's events by it.",
    "consent_id": "The consent the event is about.",
    "status": "The consent's status after the event.",
    "previous_status": "The consent's status before it.",
    "occurred_at": "When the change happened (RFC 3339).",
    "actor": "Who made it: `borrower`, `lender` or `gateway` (expiry).",
}
NOTIFICATION_EXAMPLE: Final = {
    "iss": "lendgate",
    "aud": "lnd_0d1e2f3a4b5c4d6e8f7a9b0c",
    "sub": "cns_9a8b7c6d5e4f40312a1b2c3d",
    "jti": "ntf_2b3c4d5e6f7a48b9c0d1e2f3",
    "iat": 1796000000,
    "event": "consent.approved",
    "seq": 1,
    "consent_id": "cns_9a8b7c6d5e4f40312a1b2c3d",
    "status": "ACTIVE",
    "previous_status": "PENDING",
    "occurred_at": "2026-11-30T10:15:00+08:00",
    "actor": "borrower",
}


SUMMARIES: Final = {
    ("GET", "/.well-known/jwks.json"): "The gateway's public signing keys (JWKS)",
    ("GET", "/healthz"): "Liveness: the process answers",
    ("GET", "/readyz"): "Readiness: database, SMS sender and every source",
    ("GET", "/metrics"): "Prometheus metrics",
    ("GET", "/v1/catalog"): "Purposes, features and sources a lender may ask for",
    ("POST", "/oauth/token"): "Get an access token (client credentials, private_key_jwt)",
    ("POST", "/v1/consent-requests"): "Ask a borrower for consent",
    ("GET", "/v1/consents/{consent_id}"): "Read one of your consents",
    ("GET", "/v1/consents/{consent_id}/authorization"): (
        "The consent's authorization letter (HTML or PDF), bound to its artefact"
    ),
    ("POST", "/v1/consents/{consent_id}/releases"): "Receive the consented features, encrypted",
    ("POST", "/v1/consents/{consent_id}/revoke"): "End a consent (lender)",
    ("POST", "/v1/releases/{release_id}/deletion-attestation"): "Attest a release's deletion",
    ("GET", "/v1/notifications"): "List the consent events sent to you",
    ("POST", "/v1/borrower/otp"): "Text a one-time code (log in, or approve one consent)",
    ("POST", "/v1/borrower/session"): "Log in with the code: a session token or cookie",
    ("POST", "/v1/borrower/logout"): "Log out (the session ends server-side)",
    ("GET", "/v1/borrower/consents"): "List my consents",
    ("GET", "/v1/borrower/consents/{consent_id}"): "Read one consent: notice, terms, accesses",
    ("GET", "/v1/borrower/consents/{consent_id}/authorization"): (
        "My authorization letter for a consent, before and after I approve"
    ),
    ("POST", "/v1/borrower/consents/{consent_id}/approve"): "Approve with the step-up code",
    ("POST", "/v1/borrower/consents/{consent_id}/reject"): "Reject a consent request",
    ("POST", "/v1/borrower/consents/{consent_id}/pause"): "Pause a consent",
    ("POST", "/v1/borrower/consents/{consent_id}/resume"): "Resume a paused consent",
    ("POST", "/v1/borrower/consents/{consent_id}/revoke"): "Revoke a consent at once",
    ("POST", "/v1/borrower/consents/{consent_id}/delete-data"): "Have my data deleted",
    ("GET", "/v1/borrower/consents/{consent_id}/receipt"): "My consent and withdrawal receipts",
    ("GET", "/v1/borrower/access-log"): "Every access to my data, newest first",
    ("GET", "/v1/borrower/export"): "A copy of everything kept about me (PIPL Art. 45)",
    ("GET", "/v1/audit/entries"): "Read the audit log (filters, cursor pages)",
    ("GET", "/v1/audit/sth"): "The signed tree head of the audit log",
    ("POST", "/v1/audit/sth/{tree_size}/cosign"): "Co-sign a tree head as a witness",
    ("GET", "/v1/audit/proofs/inclusion"): "Inclusion proof of one leaf (RFC 9162)",
    ("GET", "/v1/audit/proofs/consistency"): "Consistency proof between two tree sizes",
    ("GET", "/v1/audit/export"): "Export a bundle for offline verification",
    ("GET", "/v1/audit/reports/compliance"): "Reconcile releases against consents",
    ("GET", "/v1/audit/deletion-attestations/overdue"): "Releases whose deletion is overdue",
    ("GET", "/v1/audit/products"): "Which products each lender had when",
}
"""Each operation's summary as `/docs` lists it, written for the developer reading the list."""


def _claims_schema(
    claims: type, title: str, description: str, fields: dict[str, str], example: dict[str, Any]
) -> dict[str, Any]:
    """A JSON schema of an SDK claim set: its members, typed from the example, described."""
    members = typing.get_type_hints(claims)
    if set(members) != set(fields):
        raise ValueError(f"{title}: the described fields are not the claim set's members")
    return {
        "title": title,
        "description": description,
        "type": "object",
        "properties": {
            name: {"type": _json_type(example[name]), "description": fields[name]}
            for name in members
        },
        "required": sorted(getattr(claims, "__required_keys__", members)),
        "examples": [example],
    }


def _json_type(value: Any) -> str | list[str]:
    if value is None:
        return ["string", "null"]
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, dict):
        return "object"
    return "string"


def _event_callback() -> dict[str, Any]:
    return {
        "post": {
            "summary": "A consent event, signed by the gateway",
            "description": "Sent after every change of the consent's state, oldest first, at "
            "least once (deduplicate by `jti`). The body is a JWS (`typ` `consent-event+jwt`, "
            "EdDSA, checked against `/.well-known/jwks.json`) whose claims are "
            "`NotificationClaims`; `LendgateClient.verify_notification` checks it. A non-2xx "
            "answer or a timeout is retried with doubling waits.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/jwt": {
                        "schema": {
                            "type": "string",
                            "description": "Compact JWS; its payload is `NotificationClaims`.",
                        }
                    }
                },
            },
            "responses": {"2XX": {"description": "Received: the event is not sent again."}},
        }
    }


def document_payloads(document: dict[str, Any]) -> dict[str, Any]:
    """Add the release payload, the consent event, the callback and the summaries."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ReleasePayload"] = _claims_schema(
        ReleaseClaims,
        "ReleasePayload",
        "The claims of the gateway's JWS inside a release's `jwe`, once decrypted with the "
        "lender's X25519 key (`ECDH-ES+A256KW`, `A256GCM`) and verified (EdDSA).",
        RELEASE_PAYLOAD_FIELDS,
        RELEASE_PAYLOAD_EXAMPLE,
    )
    schemas["NotificationClaims"] = _claims_schema(
        NotificationClaims,
        "NotificationClaims",
        "The claims of a consent event POSTed to a consent's `callback_url`.",
        NOTIFICATION_FIELDS,
        NOTIFICATION_EXAMPLE,
    )
    request = document.get("paths", {}).get("/v1/consent-requests", {}).get("post")
    if request is not None:
        request["callbacks"] = {
            "consentEvent": {"{$request.body#/callback_url}": _event_callback()}
        }
    document.setdefault("webhooks", {})["consentEvent"] = _event_callback()
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            summary = SUMMARIES.get((method.upper(), path))
            if summary is not None:
                operation["summary"] = summary
            _invalid_request_as_answered(operation)
    # The gateway answers every validation failure with its own error body (`InvalidRequest`),
    # never with FastAPI's default shape: that shape is not part of the document.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return document


_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"


def _invalid_request_as_answered(operation: dict[str, Any]) -> None:
    """A 422 FastAPI documented with its own shape becomes the gateway's `InvalidRequest`."""
    answer = operation.get("responses", {}).get("422")
    if answer is None:
        return
    content = answer.get("content", {}).get("application/json", {})
    if content.get("schema", {}).get("$ref") != _FASTAPI_VALIDATION:
        return
    content["schema"] = {"$ref": "#/components/schemas/ErrorBody"}
    answer["description"] = "`InvalidRequest`"
