"""The JOSE layer the gateway and its clients share: keys, JWS (JWT) and JWE.

Signing and verification go through PyJWT, encryption through joserfc, keys through
`cryptography`; nothing here assembles JOSE objects by hand. Every verification
pins the algorithm to the key that the `kid` names, so a token can never choose how
it is checked (no `none`, no HMAC keyed with a public key, no algorithm swap).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, OKPKey, import_key

from lendgate_sdk.errors import TokenRejected

SigningKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey

JWE_ALG: Final = "ECDH-ES+A256KW"
JWE_ENC: Final = "A256GCM"
# Passed to every joserfc call so that a JWE naming any other algorithm, or asking
# for compression (`zip`), is refused instead of being handled by library defaults.
_JWE_ALGORITHMS: Final = (JWE_ALG, JWE_ENC)

# Private members of every JWK type (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

_COMPACT_JWS = re.compile(rb"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+")
# Three segments, the signature possibly empty: an unsecured JWS must still be read far
# enough to be refused for its algorithm.
_JWS_SEGMENTS = re.compile(rb"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")


# --- keys ---------------------------------------------------------------------------


def generate_signing_key() -> Ed25519PrivateKey:
    """Create a fresh Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def algorithm_for_key(private_key: SigningKey) -> str:
    """The one JWS algorithm a signing key may be used with."""
    if isinstance(private_key, Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(
        private_key.curve, ec.SECP256R1
    ):
        return "ES256"
    raise ValueError("Signing keys must be Ed25519 or EC P-256.")


def public_key_jwk(private_key: SigningKey) -> dict[str, Any]:
    """The bare public JWK (key members only) of a signing key."""
    algorithm_for_key(private_key)  # refuses curves other than P-256
    key: Key
    if isinstance(private_key, Ed25519PrivateKey):
        key = OKPKey.import_key(private_key.public_key())
    else:
        key = ECKey.import_key(private_key.public_key())
    return dict(key.as_dict(private=False))


def public_jwk(private_key: SigningKey, kid: str) -> dict[str, Any]:
    """The public signing JWK (`use` sig, `alg` pinned) for a private key."""
    alg = algorithm_for_key(private_key)
    return {**public_key_jwk(private_key), "kid": kid, "use": "sig", "alg": alg}


def signing_key_from_jwk(jwk: Mapping[str, Any]) -> SigningKey:
    """Load the private signing key held in a JWK (Ed25519 or P-256)."""
    if "d" not in jwk:
        raise ValueError("The signing JWK holds no private key.")
    key = import_key(dict(jwk))
    private_key = key.private_key
    if not isinstance(private_key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("Signing keys must be Ed25519 or EC P-256.")
    algorithm_for_key(private_key)  # refuses other curves
    return private_key


def public_members(jwk: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a JWK without any private member."""
    return {name: value for name, value in jwk.items() if name not in _PRIVATE_MEMBERS}


def public_jwks(jwks: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a JWKS with every private member removed, safe to publish."""
    return {"keys": [public_members(jwk) for jwk in _jwks_keys(jwks)]}


def generate_client_jwks(
    kind: Literal["lender", "regulator"],
    signing_alg: Literal["EdDSA", "ES256"] = "EdDSA",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Create a client's (private, public) JWKS: a `sig` key, plus an X25519 `enc` key if lender."""
    keys: list[Key] = []
    if signing_alg == "EdDSA":
        keys.append(OKPKey.generate_key("Ed25519", {"use": "sig", "alg": "EdDSA"}))
    elif signing_alg == "ES256":
        keys.append(ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256"}))
    else:
        raise ValueError("signing_alg must be EdDSA or ES256.")
    if kind == "lender":
        keys.append(OKPKey.generate_key("X25519", {"use": "enc", "alg": JWE_ALG}))
    elif kind != "regulator":
        raise ValueError("kind must be lender or regulator.")
    for key in keys:
        key.ensure_kid()  # RFC 7638 thumbprint: stable and derived from the key itself
    private = {"keys": [dict(key.as_dict(private=True)) for key in keys]}
    public = {"keys": [dict(key.as_dict(private=False)) for key in keys]}
    return private, public


def find_key(jwks: Mapping[str, Any], use: Literal["sig", "enc"]) -> dict[str, Any]:
    """The single key of a JWKS meant for `use` (its `use` member, or its type when absent)."""
    matches = [dict(jwk) for jwk in _jwks_keys(jwks) if _key_use(jwk) == use]
    if len(matches) != 1:
        raise ValueError(f"The JWKS must hold exactly one '{use}' key, found {len(matches)}.")
    return matches[0]


# --- JWS / JWT ----------------------------------------------------------------------


def sign_jwt(claims: Mapping[str, Any], private_key: SigningKey, kid: str, typ: str = "JWT") -> str:
    """Sign claims as a compact JWS with the algorithm fixed by the key (EdDSA or ES256)."""
    return jwt.encode(
        dict(claims),
        private_key,
        algorithm=algorithm_for_key(private_key),
        headers={"kid": kid, "typ": typ},
    )


def verify_jwt(
    token: str,
    jwks: Mapping[str, Any],
    *,
    audience: str | list[str] | None,
    issuer: str | None,
    leeway: int = 30,
    required: Sequence[str] = ("exp", "iat"),
    typ: str | None = None,
) -> dict[str, Any]:
    """Verify a JWT against the JWKS key its `kid` names and return its claims.

    `audience` / `issuer` None means the claim is not checked; `typ`, when given,
    must equal the header's `typ`. Every failure is a `TokenRejected`.
    """
    header = unverified_header(token)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("The token does not name its key (kid).")
    jwk = _verification_key(jwks, kid)
    alg = _pinned_alg(jwk)
    # The header may only confirm the key's algorithm, never choose another one.
    if header.get("alg") != alg:
        raise TokenRejected("The token's algorithm does not match its key.")
    # RFC 7515 §4.1.11: extensions we do not understand must make the token invalid.
    if "crit" in header:
        raise TokenRejected("The token carries critical header extensions.")
    if typ is not None and header.get("typ") != typ:
        raise TokenRejected("The token is of the wrong type.")
    try:
        key = jwt.PyJWK(public_members(jwk), algorithm=alg)
    except jwt.PyJWTError:
        raise TokenRejected("The token's key is unusable.") from None
    try:
        return jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": list(required), "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRejected("The token has expired.") from None
    except (jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
        raise TokenRejected("The token is not valid yet.") from None
    except jwt.InvalidAudienceError:
        raise TokenRejected("The token is not meant for this audience.") from None
    except jwt.InvalidIssuerError:
        raise TokenRejected("The token comes from an unexpected issuer.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRejected(f"The token lacks the '{exc.claim}' claim.") from None
    except jwt.InvalidSignatureError:
        raise TokenRejected("The token's signature does not verify.") from None
    except jwt.PyJWTError:
        raise TokenRejected("The token could not be verified.") from None


def unverified_header(token: str | bytes) -> dict[str, Any]:
    """The header of a compact JWS, read without verifying anything (to choose the key).

    Only the header segment is decoded; verifying the token checks all of it again.
    """
    data = token.encode() if isinstance(token, str) else token
    if not _JWS_SEGMENTS.fullmatch(data):
        raise TokenRejected("The token is not a well-formed JWS.")
    segment = data.split(b".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):
        raise TokenRejected("The token is not a well-formed JWS.") from None
    if not isinstance(header, dict):
        raise TokenRejected("The token is not a well-formed JWS.")
    return header


def unverified_kid(token: str) -> str | None:
    """The `kid` a JWS header names, read without verifying anything (for key lookup only)."""
    try:
        kid = unverified_header(token).get("kid")
    except TokenRejected:
        return None
    return kid if isinstance(kid, str) else None


def jwks_kids(jwks: Mapping[str, Any]) -> set[str]:
    """The key ids a JWKS holds; empty for a malformed JWKS."""
    try:
        keys = _jwks_keys(jwks)
    except ValueError:
        return set()
    return {kid for jwk in keys if isinstance(kid := jwk.get("kid"), str)}


def _jwks_keys(jwks: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise ValueError("A JWKS is an object with a 'keys' list.")
    return [jwk for jwk in keys if isinstance(jwk, Mapping)]


def _key_use(jwk: Mapping[str, Any]) -> str | None:
    use = jwk.get("use")
    if use is not None:
        return str(use)
    if jwk.get("kty") == "OKP" and jwk.get("crv") in ("X25519", "X448"):
        return "enc"
    if jwk.get("kty") in ("OKP", "EC"):
        return "sig"
    return None


def _verification_key(jwks: Mapping[str, Any], kid: str) -> Mapping[str, Any]:
    try:
        keys = _jwks_keys(jwks)
    except ValueError:
        raise TokenRejected("No key is available to verify the token.") from None
    matches = [jwk for jwk in keys if jwk.get("kid") == kid]
    if not matches:
        raise TokenRejected("The token is signed with an unknown key.")
    if len(matches) > 1:
        # Two keys under one kid would let the token steer which one is tried.
        raise TokenRejected("The token's key id is ambiguous.")
    jwk = matches[0]
    if _key_use(jwk) != "sig":
        raise TokenRejected("The token's key is not a signing key.")
    return jwk


def _pinned_alg(jwk: Mapping[str, Any]) -> str:
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        alg = "EdDSA"
    elif kty == "EC" and crv == "P-256":
        alg = "ES256"
    else:
        raise TokenRejected("The token's key type is not accepted.")
    if jwk.get("alg", alg) != alg:
        raise TokenRejected("The token's key is registered for another algorithm.")
    return alg


# --- JWE ----------------------------------------------------------------------------


def encrypt_for(plaintext: bytes, recipient_jwk: Mapping[str, Any]) -> str:
    """Encrypt to an X25519 public JWK as a compact JWE (`ECDH-ES+A256KW` / `A256GCM`)."""
    # Only public members reach joserfc: a private JWK passed by mistake must not
    # make the sender hold (or leak through errors) the recipient's secret.
    key = _encryption_key(public_members(recipient_jwk))
    header: dict[str, Any] = {"alg": JWE_ALG, "enc": JWE_ENC}
    kid = recipient_jwk.get("kid")
    if isinstance(kid, str) and kid:
        header["kid"] = kid
    if _is_compact_jws(plaintext):
        header["cty"] = "JWT"  # RFC 7519 §5.2: a nested JWT
    return jwe.encrypt_compact(header, plaintext, key, algorithms=_JWE_ALGORITHMS)


def decrypt(token: str, private_jwk: Mapping[str, Any]) -> bytes:
    """Decrypt a compact JWE made by `encrypt_for` with the recipient's private X25519 JWK."""
    if "d" not in private_jwk:
        raise ValueError("The decryption JWK holds no private key.")
    key = _encryption_key(private_jwk)
    try:
        message = jwe.decrypt_compact(token, key, algorithms=_JWE_ALGORITHMS)
    except (JoseError, ValueError, TypeError, KeyError):
        raise TokenRejected("The encrypted payload could not be decrypted.") from None
    header_kid = message.protected.get("kid")
    if header_kid is not None and key.kid is not None and header_kid != key.kid:
        # Decryption already succeeded, so this only flags a mislabelled header; still
        # refuse, because the sender evidently meant another key.
        raise TokenRejected("The encrypted payload names another recipient key.")
    return message.plaintext or b""


def _encryption_key(jwk: Mapping[str, Any]) -> OKPKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "X25519":
        raise ValueError("Encryption keys must be OKP X25519 JWKs.")
    if jwk.get("use", "enc") != "enc":
        raise ValueError("The JWK is not an encryption key (use).")
    if jwk.get("alg", JWE_ALG) != JWE_ALG:
        raise ValueError(f"The JWK is registered for another algorithm than {JWE_ALG}.")
    return OKPKey.import_key(dict(jwk))


def _is_compact_jws(data: bytes) -> bool:
    if not _COMPACT_JWS.fullmatch(data):
        return False
    try:
        return "alg" in unverified_header(data)
    except TokenRejected:
        return False
