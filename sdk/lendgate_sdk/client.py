"""Async clients for Lendgate's public API: lenders and regulators.

Both authenticate with OAuth2 client credentials and `private_key_jwt` (RFC 7523),
so no shared secret ever leaves the client. With `dpop=True` every access token is
bound to a key the client object holds (DPoP, RFC 9449) and each request carries a
fresh proof: a stolen token is useless without that key. A lender's releases arrive as a JWE
encrypted to its X25519 key around a JWS signed by the gateway; `LendgateClient`
opens both layers and only returns payloads that verify for this client.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self, TypedDict, Unpack, cast
from urllib.parse import quote

import httpx

from lendgate_sdk import dpop as dpop_proofs
from lendgate_sdk import jose
from lendgate_sdk.claims import (
    COSIGNATURE_TYPE,
    ISSUER,
    NOTIFICATION_TYPE,
    STH_TYPE,
    CosignatureClaims,
    NotificationClaims,
    ReleaseClaims,
    tree_head_of,
)
from lendgate_sdk.errors import (
    LendgateAPIError,
    LendgateSDKError,
    NotificationVerificationError,
    ReleaseVerificationError,
    TokenRejected,
)

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS: Final = 60
# Refresh this long before the gateway's expiry so a token never dies in flight.
_TOKEN_REFRESH_MARGIN_SECONDS: Final = 30
_JWKS_PATH: Final = "/.well-known/jwks.json"


IDEMPOTENCY_HEADER: Final = "Idempotency-Key"


def new_idempotency_key() -> str:
    """A fresh `Idempotency-Key`: keep it to retry a request safely."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Release:
    """A verified release: the signed payload plus the gateway's audit receipt."""

    release_id: str
    consent_id: str
    payload: ReleaseClaims
    audit: dict[str, Any]
    raw: dict[str, Any]

    @property
    def features(self) -> dict[str, Any]:
        """The released feature values, by feature name."""
        features = self.payload.get("features")
        return features if isinstance(features, dict) else {}


class ClientOptions(TypedDict, total=False):
    """How a client reaches the gateway: every keyword its constructor takes."""

    transport: httpx.AsyncBaseTransport | None
    token_endpoint: str | None
    scope: str | None
    timeout: float
    dpop: bool


class _ClientCredentials:
    """Assertion building, token caching and JSON calls shared by every client kind."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        private_jwks: Mapping[str, Any],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        token_endpoint: str | None = None,
        scope: str | None = None,
        timeout: float = 10.0,
        dpop: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.token_endpoint = token_endpoint or f"{self.base_url}/oauth/token"
        self.scope = scope
        self._private_jwks = private_jwks
        sig_jwk = jose.find_key(private_jwks, "sig")
        self._signing_key = jose.signing_key_from_jwk(sig_jwk)
        self._signing_kid = str(sig_jwk.get("kid") or "")
        if not self._signing_kid:
            raise ValueError("The signing JWK needs a kid so the gateway can find it.")
        self._http = httpx.AsyncClient(base_url=self.base_url, transport=transport, timeout=timeout)
        self._token: str | None = None
        self._token_refresh_at = 0.0
        self._token_lock = asyncio.Lock()
        # One proof key per client object (RFC 9449 allows any key the client holds).
        self._dpop_key = jose.generate_signing_key() if dpop else None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying HTTP connections."""
        await self._http.aclose()

    def client_assertion(self) -> str:
        """A fresh RFC 7523 client assertion for the token endpoint (valid 60 s, unique jti)."""
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_endpoint,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
            "jti": uuid.uuid4().hex,
        }
        return jose.sign_jwt(claims, self._signing_key, self._signing_kid)

    async def access_token(self) -> str:
        """A valid access token, fetched from the token endpoint only when the cached one is due."""
        async with self._token_lock:
            if self._token is not None and time.monotonic() < self._token_refresh_at:
                return self._token
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.client_assertion(),
            }
            if self.scope:
                form["scope"] = self.scope
            headers = {}
            if self._dpop_key is not None:
                headers["DPoP"] = dpop_proofs.make_proof(
                    self._dpop_key, "POST", self.token_endpoint
                )
            response = await self._http.post(self.token_endpoint, data=form, headers=headers)
            body = _json_object(response)
            token = body.get("access_token")
            expected_type = "dpop" if self._dpop_key is not None else "bearer"
            if (
                not isinstance(token, str)
                or str(body.get("token_type", "")).lower() != expected_type
            ):
                raise LendgateAPIError(
                    response.status_code, "UnexpectedResponse", "The token answer is malformed."
                )
            expires_in = body.get("expires_in")
            lifetime = expires_in if isinstance(expires_in, int) and expires_in > 0 else 60
            margin = min(_TOKEN_REFRESH_MARGIN_SECONDS, lifetime // 5)
            self._token = token
            self._token_refresh_at = time.monotonic() + lifetime - margin
            return token

    def forget_token(self) -> None:
        """Drop the cached access token so the next call fetches a new one."""
        self._token = None

    def _auth_headers(self, method: str, path: str, token: str) -> dict[str, str]:
        """`Authorization` for one request; with DPoP also its proof (a new `jti` each time)."""
        if self._dpop_key is None:
            return {"Authorization": f"Bearer {token}"}
        proof = dpop_proofs.make_proof(
            self._dpop_key, method, f"{self.base_url}{path}", access_token=token
        )
        return {"Authorization": f"DPoP {token}", "DPoP": proof}

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        authenticated: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one API request and return its JSON object, raising `LendgateAPIError`."""
        if not authenticated:
            return _json_object(await self._http.request(method, path, json=json, params=params))
        for attempt in range(2):
            token = await self.access_token()
            response = await self._http.request(
                method,
                path,
                json=json,
                params=params,
                headers={**(headers or {}), **self._auth_headers(method, path, token)},
            )
            # A 401 means the gateway refused the token before doing anything (keys
            # rotated, token revoked), so one retry with a fresh token is safe.
            if response.status_code == 401 and attempt == 0:
                self.forget_token()
                continue
            return _json_object(response)
        raise AssertionError("unreachable")  # pragma: no cover


class LendgateClient(_ClientCredentials):
    """A lender's client: consent requests, releases (decrypted and verified) and revocation."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        private_jwks: Mapping[str, Any],
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(base_url, client_id, private_jwks, **options)
        # During a rotation the lender holds the old and the new key: releases made before
        # the new one was registered stay readable.
        self._enc_jwks = [
            dict(jwk)
            for jwk in private_jwks.get("keys", [])
            if isinstance(jwk, Mapping) and jwk.get("use") == "enc"
        ] or [jose.find_key(private_jwks, "enc")]
        if any("d" not in jwk for jwk in self._enc_jwks):
            raise ValueError("The lender JWKS must hold the private X25519 'enc' key.")
        self._gateway_jwks: dict[str, Any] | None = None

    async def catalog(self, *, own_products: bool = False) -> dict[str, Any]:
        """The gateway's purposes and features catalog.

        With `own_products` the request carries this lender's token, and `products`
        lists this lender's own products; without, it needs no token and lists none.
        """
        return await self._call("GET", "/v1/catalog", authenticated=own_products)

    async def request_consent(
        self, body: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Create a consent request; the answer carries the borrower's `approval_url`.

        Sent with an `Idempotency-Key` (a new one unless given): to retry after a lost
        answer, call again with the same key and body to get the same consent.
        """
        return await self._call(
            "POST",
            "/v1/consent-requests",
            json=body,
            headers={IDEMPOTENCY_HEADER: idempotency_key or new_idempotency_key()},
        )

    async def get_consent(self, consent_id: str) -> dict[str, Any]:
        """A consent's status, terms, signed artefact and use count."""
        return await self._call("GET", f"/v1/consents/{_segment(consent_id)}")

    async def revoke(self, consent_id: str) -> dict[str, Any]:
        """End a consent from the lender's side."""
        return await self._call("POST", f"/v1/consents/{_segment(consent_id)}/revoke")

    async def attest_deletion(
        self, release_id: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Attest that a release's data was deleted (due by its `delete_by`); idempotent."""
        return await self._call(
            "POST", f"/v1/releases/{_segment(release_id)}/deletion-attestation", json=body or {}
        )

    async def notifications(
        self,
        *,
        status: str | None = None,
        consent_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The consent events sent to this lender (`pending`, `delivered`, `failed`)."""
        filters = {"status": status, "consent_id": consent_id, "cursor": cursor, "limit": limit}
        params = {name: value for name, value in filters.items() if value is not None}
        return await self._call("GET", "/v1/notifications", params=params)

    async def verify_notification(self, token: str) -> NotificationClaims:
        """The claims of a consent event POSTed to the callback, once the gateway's signature
        and this client as its audience check out. Order events by (`consent_id`, `seq`);
        `jti` is the same on every delivery attempt of one event."""
        try:
            claims = await self._verify_for_us(
                token, required=("iat", "jti", "sub"), typ=NOTIFICATION_TYPE
            )
        except TokenRejected as exc:
            raise NotificationVerificationError(exc.detail) from None
        return cast(NotificationClaims, claims)

    async def release(
        self,
        consent_id: str,
        features: list[str] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Release:
        """Ask for a release under a consent, then decrypt and verify it for this client.

        Sent with an `Idempotency-Key` (a new one unless given): retried with the same key
        and features, the gateway answers the same release, spending nothing twice.
        """
        body: dict[str, Any] = {} if features is None else {"features": list(features)}
        raw = await self._call(
            "POST",
            f"/v1/consents/{_segment(consent_id)}/releases",
            json=body,
            headers={IDEMPOTENCY_HEADER: idempotency_key or new_idempotency_key()},
        )
        return await self.open_release(raw, consent_id)

    async def open_release(self, raw: Mapping[str, Any], consent_id: str) -> Release:
        """Decrypt and verify a release answer; refuse anything not signed by the gateway for us."""
        token = raw.get("jwe")
        if not isinstance(token, str):
            raise ReleaseVerificationError("The release answer carries no JWE.")
        try:
            inner = self._decrypt(token).decode("ascii")
        except (TokenRejected, UnicodeDecodeError) as exc:
            raise ReleaseVerificationError(f"Release not decryptable: {exc}") from None
        try:
            # The release payload carries no `exp`; its lifetime is the consent's data life.
            payload = await self._verify_for_us(inner, required=("iat", "iss", "aud"))
        except TokenRejected as exc:
            raise ReleaseVerificationError(f"Release signature refused: {exc.detail}") from None
        # PyJWT accepts a list `aud` containing us; a release must be for this client alone.
        if payload.get("aud") != self.client_id:
            raise ReleaseVerificationError("The release is addressed to more than this client.")
        release_id = raw.get("release_id")
        # The signed payload is the source of truth; the envelope must not disagree with it,
        # or an answer could pair one consent's audit receipt with another's data.
        if payload.get("consent_id") != consent_id or raw.get("consent_id") != consent_id:
            raise ReleaseVerificationError("The release belongs to another consent.")
        if not isinstance(release_id, str) or payload.get("release_id") != release_id:
            raise ReleaseVerificationError("The signed release id does not match the answer.")
        audit = raw.get("audit")
        return Release(
            release_id=release_id,
            consent_id=consent_id,
            payload=cast(ReleaseClaims, payload),
            audit=dict(audit) if isinstance(audit, Mapping) else {},
            raw=dict(raw),
        )

    def _decrypt(self, token: str) -> bytes:
        """Open a release JWE with the enc key its header names (or each key, if unnamed)."""
        kid = jose.unverified_kid(token)
        candidates = [jwk for jwk in self._enc_jwks if jwk.get("kid") == kid] or self._enc_jwks
        refusal: TokenRejected | None = None
        for jwk in candidates:
            try:
                return jose.decrypt(token, jwk)
            except TokenRejected as exc:
                refusal = exc
        raise refusal or TokenRejected("No key to decrypt the release with.")

    async def gateway_jwks(self, *, refresh: bool = False) -> dict[str, Any]:
        """The gateway's public signing keys, cached after the first fetch."""
        if self._gateway_jwks is None or refresh:
            self._gateway_jwks = await self._call("GET", _JWKS_PATH, authenticated=False)
        return self._gateway_jwks

    async def _verify_for_us(
        self, token: str, *, required: tuple[str, ...], typ: str | None = None
    ) -> dict[str, Any]:
        """The claims of a JWS the gateway signed for this client; `TokenRejected` if not."""
        jwks = await self._gateway_jwks_for(token)
        return jose.verify_jwt(
            token, jwks, audience=self.client_id, issuer=ISSUER, required=required, typ=typ
        )

    async def _gateway_jwks_for(self, token: str) -> dict[str, Any]:
        jwks = await self.gateway_jwks()
        kid = jose.unverified_kid(token)
        if kid is not None and kid not in jose.jwks_kids(jwks):
            # The gateway rotates its signing key: fetch once more, then let
            # verification refuse a kid that is still unknown.
            jwks = await self.gateway_jwks(refresh=True)
        return jwks


class RegulatorClient(_ClientCredentials):
    """A regulator's client for the audit log."""

    async def audit_entries(self, **filters: Any) -> dict[str, Any]:
        """Audit entries matching the filters (lender, consent, event type, time, cursor)."""
        params = {name: value for name, value in filters.items() if value is not None}
        return await self._call("GET", "/v1/audit/entries", params=params)

    async def tree_head(self) -> dict[str, Any]:
        """The current signed tree head of the audit log."""
        return await self._call("GET", "/v1/audit/sth")

    async def inclusion_proof(self, index: int, tree_size: int) -> dict[str, Any]:
        """The RFC 9162 inclusion proof of one leaf in a tree of the given size."""
        params = {"index": index, "tree_size": tree_size}
        return await self._call("GET", "/v1/audit/proofs/inclusion", params=params)

    async def consistency_proof(self, first: int, second: int) -> dict[str, Any]:
        """The RFC 9162 consistency proof between two tree sizes."""
        params = {"first": first, "second": second}
        return await self._call("GET", "/v1/audit/proofs/consistency", params=params)

    async def export(
        self, start: int | str | None = None, end: int | str | None = None
    ) -> dict[str, Any]:
        """A bundle for `lendgate audit verify`: leaves `[start, end)` (indexes or RFC 3339)."""
        params = {
            name: value for name, value in (("from", start), ("to", end)) if value is not None
        }
        return await self._call("GET", "/v1/audit/export", params=params)

    async def compliance_report(
        self, start: str, end: str, lender_id: str | None = None, product: str | None = None
    ) -> dict[str, Any]:
        """Releases between two RFC 3339 times reconciled against their consents.

        `lender_id` and `product` (a lender's product code) narrow the report.
        """
        params = {"from": start, "to": end, **({"lender_id": lender_id} if lender_id else {})}
        if product:
            params["product"] = product
        return await self._call("GET", "/v1/audit/reports/compliance", params=params)

    async def overdue_deletion_attestations(
        self, lender_id: str | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        """Releases past their `delete_by` whose lender has not attested deletion."""
        filters = {"lender_id": lender_id, "cursor": cursor}
        params = {name: value for name, value in filters.items() if value is not None}
        return await self._call("GET", "/v1/audit/deletion-attestations/overdue", params=params)

    async def product_history(self, lender_id: str | None = None) -> dict[str, Any]:
        """Per lender client, its products: the policy folder's and every registered version."""
        params = {"lender_id": lender_id} if lender_id else {}
        return await self._call("GET", "/v1/audit/products", params=params)

    async def gateway_jwks(self) -> dict[str, Any]:
        """The gateway's public signing keys (better still: a copy obtained out of band)."""
        return await self._call("GET", _JWKS_PATH, authenticated=False)

    def cosignature(self, tree_head: Mapping[str, Any], jwks: Mapping[str, Any]) -> str:
        """This regulator's signature over a tree head, once the gateway's signature checks out.

        Call it only for a head you have also checked is consistent with the
        heads you saw before (`consistency_proof`), or recomputed from a bundle.
        """
        claims = jose.verify_jwt(
            str(tree_head.get("sth", "")),
            jwks,
            audience=None,
            issuer=None,
            required=(),
            typ=STH_TYPE,
        )
        signed = tree_head_of(claims)
        if any(tree_head.get(name) != value for name, value in signed.items()):
            raise LendgateSDKError("The tree head's fields differ from what the gateway signed.")
        cosigned: CosignatureClaims = {**signed, "iss": self.client_id, "iat": int(time.time())}
        return jose.sign_jwt(cosigned, self._signing_key, self._signing_kid, typ=COSIGNATURE_TYPE)

    async def cosign(self, tree_head: Mapping[str, Any], jwks: Mapping[str, Any]) -> dict[str, Any]:
        """Co-sign a tree head as a witness; returns it with every co-signature."""
        signature = self.cosignature(tree_head, jwks)
        path = f"/v1/audit/sth/{int(tree_head['tree_size'])}/cosign"
        return await self._call("POST", path, json={"signature": signature})


def _segment(value: str) -> str:
    # Ids go into the path: quoting keeps a crafted id from reaching another endpoint.
    return quote(value, safe="")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        if isinstance(body, dict):
            return body
        raise LendgateAPIError(
            response.status_code, "UnexpectedResponse", "The answer is not a JSON object."
        )
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        # The gateway answers `{"error", "detail"}`; OAuth-style bodies use `error_description`.
        detail = body.get("detail", body.get("error_description", ""))
        raise LendgateAPIError(response.status_code, body["error"], str(detail or ""))
    raise LendgateAPIError(
        response.status_code,
        "UnexpectedResponse",
        "The gateway answered without an error body.",
    )
