"""The shared JOSE layer: what it signs verifies, and what an attacker forges does not."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwe as joserfc_jwe
from joserfc.jwk import OKPKey
from lendgate_sdk import jose
from lendgate_sdk.errors import TokenRejected

from gateway.core.errors import InvalidToken
from gateway.crypto import jose as gateway_jose

KID = "gw-2026-11"
AUDIENCE = "https://lendgate.example"
ISSUER = "https://lendgate.example"


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return jose.generate_signing_key()


@pytest.fixture
def jwks(signing_key: Ed25519PrivateKey) -> dict[str, Any]:
    return {"keys": [jose.public_jwk(signing_key, KID)]}


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "lender-1",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return claims


def _verify(token: str, jwks: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return jose.verify_jwt(token, jwks, audience=AUDIENCE, issuer=ISSUER, **kwargs)


def _refused(token: str, jwks: dict[str, Any], **kwargs: Any) -> TokenRejected:
    with pytest.raises(TokenRejected) as caught:
        _verify(token, jwks, **kwargs)
    return caught.value


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _header(compact: str) -> dict[str, Any]:
    return json.loads(_b64(compact.split(".")[0]))


def test_sign_verify_round_trip(signing_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    token = jose.sign_jwt(_claims(scope="features:read"), signing_key, KID, typ="at+jwt")

    assert _header(token) == {"alg": "EdDSA", "kid": KID, "typ": "at+jwt"}
    claims = _verify(token, jwks, typ="at+jwt")
    assert claims["sub"] == "lender-1"
    assert claims["scope"] == "features:read"


def test_public_jwk_is_a_pinned_public_signing_key(signing_key: Ed25519PrivateKey) -> None:
    jwk = jose.public_jwk(signing_key, KID)

    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519"
    assert (jwk["kid"], jwk["use"], jwk["alg"]) == (KID, "sig", "EdDSA")
    assert "d" not in jwk


def test_private_key_pem_round_trip(signing_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    pem = gateway_jose.private_key_pem(signing_key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")

    reloaded = gateway_jose.load_private_key_pem(pem)
    assert _verify(jose.sign_jwt(_claims(), reloaded, KID), jwks)["sub"] == "lender-1"


def test_alg_none_is_refused(jwks: dict[str, Any]) -> None:
    token = jwt.encode(_claims(), "", algorithm="none", headers={"kid": KID})

    _refused(token, jwks)


def test_hmac_keyed_with_the_public_key_is_refused(
    signing_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    # Algorithm confusion: an attacker who knows the public key signs with HS256 under it.
    raw_public = signing_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    for secret in (raw_public, jwks["keys"][0]["x"].encode()):
        token = jwt.encode(_claims(), secret, algorithm="HS256", headers={"kid": KID})
        _refused(token, jwks)


def test_alg_header_that_does_not_match_the_key_is_refused(jwks: dict[str, Any]) -> None:
    other_private, _ = jose.generate_client_jwks("regulator", "ES256")
    es_key = jose.signing_key_from_jwk(other_private["keys"][0])
    # A valid ES256 signature whose kid points at the Ed25519 key.
    token = jose.sign_jwt(_claims(), es_key, KID)

    assert "algorithm does not match" in _refused(token, jwks).detail


def test_expired_token_is_refused(signing_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    now = int(time.time())
    token = jose.sign_jwt(_claims(iat=now - 600, exp=now - 120), signing_key, KID)

    assert _refused(token, jwks).detail == "The token has expired."


def test_leeway_tolerates_small_clock_skew(
    signing_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    now = int(time.time())
    token = jose.sign_jwt(_claims(iat=now - 600, exp=now - 10), signing_key, KID)

    assert _verify(token, jwks)["sub"] == "lender-1"


def test_wrong_audience_is_refused(signing_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    token = jose.sign_jwt(_claims(aud="https://other.example"), signing_key, KID)

    assert "audience" in _refused(token, jwks).detail


def test_any_of_several_audiences_is_accepted(
    signing_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    token = jose.sign_jwt(_claims(aud="https://lendgate.example/oauth/token"), signing_key, KID)

    claims = jose.verify_jwt(
        token,
        jwks,
        audience=["https://lendgate.example/oauth/token", AUDIENCE],
        issuer=ISSUER,
    )
    assert claims["aud"] == "https://lendgate.example/oauth/token"


def test_wrong_issuer_is_refused(signing_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    token = jose.sign_jwt(_claims(iss="https://evil.example"), signing_key, KID)

    assert "issuer" in _refused(token, jwks).detail


def test_unknown_kid_is_refused(signing_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    token = jose.sign_jwt(_claims(), signing_key, "not-published")

    assert _refused(token, jwks).detail == "The token is signed with an unknown key."


def test_missing_kid_is_refused(signing_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    token = jwt.encode(_claims(), signing_key, algorithm="EdDSA")

    _refused(token, jwks)


def test_key_from_another_signer_is_refused(jwks: dict[str, Any]) -> None:
    token = jose.sign_jwt(_claims(), jose.generate_signing_key(), KID)

    assert _refused(token, jwks).detail == "The token's signature does not verify."


def test_tampered_signature_is_refused(
    signing_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    header, payload, signature = jose.sign_jwt(_claims(), signing_key, KID).split(".")
    flipped = bytearray(_b64(signature))
    flipped[0] ^= 0x01
    forged = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()

    _refused(f"{header}.{payload}.{forged}", jwks)


def test_tampered_payload_is_refused(signing_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    header, _, signature = jose.sign_jwt(_claims(), signing_key, KID).split(".")
    payload = base64.urlsafe_b64encode(json.dumps(_claims(sub="admin")).encode()).rstrip(b"=")

    _refused(f"{header}.{payload.decode()}.{signature}", jwks)


def test_missing_required_claim_is_refused(
    signing_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    claims = _claims()
    del claims["exp"]
    token = jose.sign_jwt(claims, signing_key, KID)

    assert "'exp'" in _refused(token, jwks).detail
    assert _verify(token, jwks, required=("iat",))["sub"] == "lender-1"


def test_wrong_typ_is_refused(signing_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    token = jose.sign_jwt(_claims(), signing_key, KID)

    _refused(token, jwks, typ="at+jwt")


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "....."])
def test_malformed_token_is_refused(token: str, jwks: dict[str, Any]) -> None:
    _refused(token, jwks)


def test_encryption_key_under_the_kid_is_refused(signing_key: Ed25519PrivateKey) -> None:
    _, public = jose.generate_client_jwks("lender")
    enc_jwk = jose.find_key(public, "enc")
    token = jose.sign_jwt(_claims(), signing_key, enc_jwk["kid"])

    _refused(token, public)


def test_key_registered_for_another_alg_is_refused(
    signing_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    mislabelled = {"keys": [{**jwks["keys"][0], "alg": "ES256"}]}

    _refused(jose.sign_jwt(_claims(), signing_key, KID), mislabelled)


def test_es256_client_keys_sign_and_verify() -> None:
    private, public = jose.generate_client_jwks("regulator", signing_alg="ES256")
    sig = jose.find_key(private, "sig")
    key = jose.signing_key_from_jwk(sig)

    token = jose.sign_jwt(_claims(), key, sig["kid"])

    assert _header(token)["alg"] == "ES256"
    assert _verify(token, public)["sub"] == "lender-1"


def test_client_jwks_shapes() -> None:
    private, public = jose.generate_client_jwks("lender")

    assert [k["use"] for k in public["keys"]] == ["sig", "enc"]
    sig, enc = public["keys"]
    assert (sig["kty"], sig["crv"], sig["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert (enc["kty"], enc["crv"], enc["alg"]) == ("OKP", "X25519", "ECDH-ES+A256KW")
    for jwk in public["keys"]:
        assert not {"d", "p", "q", "k"} & set(jwk)
        # kid is the RFC 7638 thumbprint, so anyone can recompute it from the public key.
        assert jwk["kid"] == OKPKey.import_key(jwk).thumbprint()
    assert all("d" in jwk for jwk in private["keys"])
    assert [k["kid"] for k in private["keys"]] == [k["kid"] for k in public["keys"]]
    assert jose.public_jwks(private) == public


def test_regulator_jwks_have_no_encryption_key() -> None:
    _, public = jose.generate_client_jwks("regulator")

    assert [k["use"] for k in public["keys"]] == ["sig"]


def test_jwe_round_trip_to_x25519(signing_key: Ed25519PrivateKey) -> None:
    private, public = jose.generate_client_jwks("lender")
    enc_public, enc_private = jose.find_key(public, "enc"), jose.find_key(private, "enc")
    jws = jose.sign_jwt(_claims(), signing_key, KID)

    token = jose.encrypt_for(jws.encode(), enc_public)

    header = _header(token)
    assert header["alg"] == "ECDH-ES+A256KW"
    assert header["enc"] == "A256GCM"
    assert header["cty"] == "JWT"
    assert header["kid"] == enc_public["kid"]
    assert header["epk"]["crv"] == "X25519" and "d" not in header["epk"]
    assert set(header) == {"alg", "enc", "cty", "kid", "epk"}
    assert jose.decrypt(token, enc_private) == jws.encode()


def test_jwe_of_plain_bytes_has_no_cty() -> None:
    private, public = jose.generate_client_jwks("lender")

    token = jose.encrypt_for(b'{"not": "a jws"}', jose.find_key(public, "enc"))

    assert "cty" not in _header(token)
    assert jose.decrypt(token, jose.find_key(private, "enc")) == b'{"not": "a jws"}'


def test_decrypt_with_the_wrong_key_fails() -> None:
    _, public = jose.generate_client_jwks("lender")
    other_private, _ = jose.generate_client_jwks("lender")
    token = jose.encrypt_for(b"features", jose.find_key(public, "enc"))
    wrong = {k: v for k, v in jose.find_key(other_private, "enc").items() if k != "kid"}

    with pytest.raises(TokenRejected):
        jose.decrypt(token, wrong)


def test_decrypt_refuses_a_jwe_for_another_kid() -> None:
    _, public = jose.generate_client_jwks("lender")
    other_private, _ = jose.generate_client_jwks("lender")
    token = jose.encrypt_for(b"features", jose.find_key(public, "enc"))

    with pytest.raises(TokenRejected):
        jose.decrypt(token, jose.find_key(other_private, "enc"))


def test_tampered_ciphertext_fails() -> None:
    private, public = jose.generate_client_jwks("lender")
    parts = jose.encrypt_for(b"features", jose.find_key(public, "enc")).split(".")
    ciphertext = bytearray(_b64(parts[3]))
    ciphertext[0] ^= 0x01
    parts[3] = base64.urlsafe_b64encode(bytes(ciphertext)).rstrip(b"=").decode()

    with pytest.raises(TokenRejected):
        jose.decrypt(".".join(parts), jose.find_key(private, "enc"))


def test_decrypt_refuses_other_jwe_algorithms() -> None:
    private, _ = jose.generate_client_jwks("lender")
    enc_private = jose.find_key(private, "enc")
    public_key = OKPKey.import_key({k: v for k, v in enc_private.items() if k not in ("d", "alg")})
    # Direct ECDH-ES is a valid JWE, just not the one the contract allows.
    token = joserfc_jwe.encrypt_compact(
        {"alg": "ECDH-ES", "enc": "A256GCM"}, b"features", public_key
    )

    with pytest.raises(TokenRejected):
        jose.decrypt(token, enc_private)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c.d.e"])
def test_decrypt_refuses_malformed_input(token: str) -> None:
    private, _ = jose.generate_client_jwks("lender")

    with pytest.raises(TokenRejected):
        jose.decrypt(token, jose.find_key(private, "enc"))


def test_encrypt_for_refuses_non_x25519_keys() -> None:
    _, public = jose.generate_client_jwks("lender")

    with pytest.raises(ValueError):
        jose.encrypt_for(b"features", jose.find_key(public, "sig"))


def test_the_gateway_answers_a_refused_token_with_401_invalid_token(
    signing_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    token = jose.sign_jwt(_claims(aud="https://elsewhere.example"), signing_key, KID)

    with pytest.raises(InvalidToken) as caught:
        gateway_jose.verify_jwt(token, jwks, audience=AUDIENCE, issuer=ISSUER)
    assert (caught.value.code, caught.value.status) == ("InvalidToken", 401)
    assert caught.value.detail == "The token is not meant for this audience."
