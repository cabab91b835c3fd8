"""How the gateway proves who it is to a source: an API key, or a signed request.

Every source holds its own credential for the gateway, and each source's connector
says how it wants it presented (`HttpSourceConnector.auth_scheme`):

* `api_key` — header `X-Api-Key: <credential>` (社保, 公积金, most utilities).
* `signed` — the credential is a shared secret that never travels. Each request
  carries `X-Timestamp` (Unix seconds), `X-Nonce` (random, single use) and
  `X-Signature`: hex HMAC-SHA256 over `METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256(BODY)`.
  The source refuses a signature older or newer than `SIGNATURE_MAX_AGE_SECONDS`
  and a nonce it has seen, so a captured request cannot be replayed (征信).

The connector and the simulator both read this module, so they cannot disagree.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Literal

AuthScheme = Literal["api_key", "signed"]

API_KEY_HEADER = "X-Api-Key"
TIMESTAMP_HEADER = "X-Timestamp"
NONCE_HEADER = "X-Nonce"
SIGNATURE_HEADER = "X-Signature"

SIGNATURE_MAX_AGE_SECONDS = 300
"""How far a signed request's timestamp may lie from the source's clock."""


def signature(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The hex HMAC-SHA256 signature of one request."""
    digest = hashlib.sha256(body).hexdigest()
    message = "\n".join((method.upper(), path, timestamp, nonce, digest)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def auth_headers(
    scheme: AuthScheme,
    credential: str,
    method: str,
    path: str,
    body: bytes,
    now: float | None = None,
) -> dict[str, str]:
    """The headers that present `credential` on one request, under `scheme`."""
    if scheme == "api_key":
        return {API_KEY_HEADER: credential}
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16)
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(credential, method, path, timestamp, nonce, body),
    }


class RequestVerifier:
    """The source's side: checks the credential a request presents.

    Remembers recent nonces (bounded) so a signed request is accepted once.
    """

    remembered_nonces = 10_000

    def __init__(self, scheme: AuthScheme, credential: str) -> None:
        self.scheme = scheme
        self._credential = credential
        self._nonces: OrderedDict[str, None] = OrderedDict()

    def verify(
        self,
        headers: Mapping[str, str],
        method: str,
        path: str,
        body: bytes,
        now: float | None = None,
    ) -> str | None:
        """None when the request is authentic, else why not (safe to show the caller)."""
        if self.scheme == "api_key":
            key = headers.get(API_KEY_HEADER.lower(), "").encode()
            if hmac.compare_digest(key, self._credential.encode()):
                return None
            return f"missing or wrong {API_KEY_HEADER}"
        timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
        nonce = headers.get(NONCE_HEADER.lower(), "")
        presented = headers.get(SIGNATURE_HEADER.lower(), "")
        if not (timestamp.isdigit() and nonce and presented):
            return "request is not signed"
        current = time.time() if now is None else now
        if abs(current - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
            return "signature timestamp is outside the accepted window"
        expected = signature(self._credential, method, path, timestamp, nonce, body)
        if not hmac.compare_digest(presented.encode(), expected.encode()):
            return "wrong signature"
        if nonce in self._nonces:
            return "nonce already used"
        self._nonces[nonce] = None
        if len(self._nonces) > self.remembered_nonces:
            self._nonces.popitem(last=False)
        return None
