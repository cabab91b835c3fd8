"""How callers authenticate, as OpenAPI security schemes.

The schemes only describe: the dependencies of `gateway.auth.dependencies` decide. Each is
built with `auto_error=False`, so taking one as a dependency never refuses a request; it
puts the scheme and the operation's requirement into the OpenAPI document, and so the
Authorize button on `/docs`.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import APIKeyCookie, HTTPBearer, OAuth2

SCOPES: Final = {
    "consents:write": "Lenders: request, read and revoke consents; read notifications.",
    "features:read": "Lenders: receive releases; attest their deletion.",
    "audit:read": "Regulators: read the audit log, proofs, exports and reports.",
    "audit:cosign": "Regulators: co-sign signed tree heads as a witness.",
}

CLIENT_CREDENTIALS = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(tokenUrl="/oauth/token", scopes=SCOPES)
    ),
    scheme_name="clientCredentials",
    description=(
        "OAuth 2.0 client credentials with `private_key_jwt` client authentication (RFC 7523): "
        "POST `/oauth/token` with `grant_type=client_credentials`, `client_assertion_type="
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and a `client_assertion` "
        "signed by the client's registered key (EdDSA or ES256; `iss` = `sub` = client_id, "
        "`aud` the token endpoint, `exp` at most 5 minutes ahead, a unique `jti`). No client "
        "secret exists: the SDK (`LendgateClient`, `RegulatorClient`) signs the assertion. The "
        "5-minute access token is sent as `Authorization: Bearer`, or, when DPoP-bound, as "
        "`Authorization: DPoP` with a `DPoP` proof (see the `dpop` scheme)."
    ),
    auto_error=False,
)
CLIENT_ACCESS_TOKEN = HTTPBearer(
    scheme_name="clientAccessToken",
    bearerFormat="JWT",
    description=(
        "A lender's or regulator's access token from `/oauth/token`, pasted as is (to try the "
        "API here: `await LendgateClient(GATEWAY, CLIENT_ID, private_jwks).access_token()`)."
    ),
    auto_error=False,
)
BORROWER_BEARER = HTTPBearer(
    scheme_name="borrowerBearer",
    bearerFormat="JWT",
    description=(
        "A borrower session token (apps): `POST /v1/borrower/otp` texts a one-time code, "
        "`POST /v1/borrower/session` exchanges it for this token."
    ),
    auto_error=False,
)
BORROWER_COOKIE = APIKeyCookie(
    name="lendgate_session",
    scheme_name="borrowerCookie",
    description=(
        "A borrower session cookie (browsers; `delivery: cookie` at `/v1/borrower/session`), "
        "HttpOnly, named `__Host-lendgate_session` outside development. Changes made with it "
        "also need the `X-CSRF-Token` header."
    ),
    auto_error=False,
)
DPOP: Final[dict[str, Any]] = {
    "type": "apiKey",
    "in": "header",
    "name": "DPoP",
    "description": (
        "A DPoP proof (RFC 9449): a JWT (`typ` `dpop+jwt`, EdDSA or ES256, the public key in "
        "its header) for this request's method and URL (`htm`, `htu`) with `ath` the access "
        "token's hash and a fresh `jti`. Sent with `Authorization: DPoP <token>` when the token "
        "is DPoP-bound (clients registered with `--dpop`, or any that asked for it); "
        "`LendgateClient(..., dpop=True)` does it all."
    ),
}


def document_dpop(document: dict[str, Any]) -> dict[str, Any]:
    """Add the DPoP scheme, and to each client operation the DPoP-bound way of calling it."""
    schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["dpop"] = DPOP
    for path in document.get("paths", {}).values():
        for operation in path.values():
            requirements = operation.get("security") if isinstance(operation, dict) else None
            if not requirements:
                continue
            bound = [
                {**requirement, "dpop": []}
                for requirement in requirements
                if "clientCredentials" in requirement
            ]
            operation["security"] = requirements + [
                requirement for requirement in bound if requirement not in requirements
            ]
    return document
