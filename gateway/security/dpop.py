"""DPoP (RFC 9449): proofs that the caller holds the private key an access token is bound to.

Pure functions that check the proofs clients make with `lendgate_sdk.dpop`. The
algorithm is pinned by the proof's own public key (EdDSA for Ed25519, ES256 for P-256),
exactly as for client assertions: a proof never chooses how it is checked, and `none`,
HMAC and private keys in the header are refused.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import jwt
from joserfc.errors import JoseError
from joserfc.jwk import import_key
from lendgate_sdk import jose
from lendgate_sdk.dpop import PROOF_TYPE, access_token_hash
from lendgate_sdk.errors import TokenRejected

from gateway.core.errors import InvalidToken

ALGORITHMS: Final = ("EdDSA", "ES256")
_KEY_ALGORITHMS: Final = {("OKP", "Ed25519"): "EdDSA", ("EC", "P-256"): "ES256"}
_PUBLIC_MEMBERS: Final = {"OKP": ("kty", "crv", "x"), "EC": ("kty", "crv", "x", "y")}
_MAX_JTI_LENGTH: Final = 200
# RFC 9449 §7.1: the WWW-Authenticate challenge names the algorithms the server accepts.
CHALLENGE: Final = f'DPoP error="invalid_dpop_proof", algs="{" ".join(ALGORITHMS)}"'
TOKEN_CHALLENGE: Final = f'DPoP error="invalid_token", algs="{" ".join(ALGORITHMS)}"'


@dataclass(frozen=True)
class VerifiedProof:
    """A proof that checked out: the key's thumbprint (`cnf.jkt`), its `jti` and `iat`."""

    jkt: str
    jti: str
    iat: int


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK (the token's `cnf.jkt`)."""
    members = _PUBLIC_MEMBERS.get(str(jwk.get("kty")))
    if members is None or any(not isinstance(jwk.get(name), str) for name in members):
        raise _refusal("The DPoP key is not an accepted public key.")
    try:
        return str(import_key({name: jwk[name] for name in members}).thumbprint())
    except (JoseError, ValueError, TypeError):
        raise _refusal("The DPoP key is not an accepted public key.") from None


def verify_proof(
    proof: str,
    *,
    method: str,
    url: str,
    access_token: str | None,
    max_age_seconds: int,
    leeway_seconds: int,
    now: float | None = None,
) -> VerifiedProof:
    """Check a proof's header, signature and claims against the request; `InvalidToken` if not.

    The caller still has to spend the `jti` in the shared store and, for a resource
    request, compare `jkt` with the token's `cnf.jkt`.
    """
    try:
        header = jose.unverified_header(proof)
    except TokenRejected:
        raise _refusal("The DPoP proof is not a well-formed JWS.") from None
    if header.get("typ") != PROOF_TYPE:
        raise _refusal("The DPoP proof is of the wrong type.")
    if "crit" in header:
        raise _refusal("The DPoP proof carries critical header extensions.")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise _refusal("The DPoP proof does not carry its public key.")
    if any(member in jwk for member in ("d", "p", "q", "k")):
        raise _refusal("The DPoP proof's key holds private material.")
    alg = _KEY_ALGORITHMS.get((str(jwk.get("kty")), str(jwk.get("crv"))))
    if alg is None or header.get("alg") != alg:
        raise _refusal("The DPoP proof's algorithm does not match its key.")
    jkt = thumbprint(jwk)
    try:
        key = jwt.PyJWK({**jwk, "alg": alg}, algorithm=alg)
        claims = jwt.decode(
            proof,
            key.key,
            algorithms=[alg],
            options={
                "verify_aud": False,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["iat", "jti", "htm", "htu"],
            },
        )
    except jwt.MissingRequiredClaimError as error:
        raise _refusal(f"The DPoP proof lacks the '{error.claim}' claim.") from None
    except jwt.PyJWTError:
        raise _refusal("The DPoP proof's signature does not verify.") from None
    jti, iat = claims["jti"], claims["iat"]
    if not isinstance(jti, str) or not 0 < len(jti) <= _MAX_JTI_LENGTH:
        raise _refusal("The DPoP proof's `jti` is malformed.")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise _refusal("The DPoP proof's `iat` is malformed.")
    moment = time.time() if now is None else now
    if iat > moment + leeway_seconds:
        raise _refusal("The DPoP proof is issued in the future.")
    if iat < moment - max_age_seconds - leeway_seconds:
        raise _refusal("The DPoP proof is too old.")
    if claims["htm"] != method.upper():
        raise _refusal("The DPoP proof was made for another method.")
    if not isinstance(claims["htu"], str) or not same_url(claims["htu"], url):
        raise _refusal("The DPoP proof was made for another URL.")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise _refusal("The DPoP proof was made for another access token.")
    return VerifiedProof(jkt=jkt, jti=jti, iat=iat)


def same_url(claimed: str, expected: str) -> bool:
    """RFC 9449 §4.3: the same scheme, host, port and path; query and fragment ignored."""
    try:
        a, b = urlsplit(claimed), urlsplit(expected)
        return (
            a.scheme.lower() == b.scheme.lower()
            and (a.hostname or "").lower() == (b.hostname or "").lower()
            and _port(a.scheme, a.port) == _port(b.scheme, b.port)
            and (a.path or "/") == (b.path or "/")
        )
    except ValueError:
        return False


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else {"http": 80, "https": 443}.get(scheme.lower())


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": CHALLENGE}


def _refusal(detail: str) -> InvalidToken:
    return InvalidToken(detail, headers=_challenge())
