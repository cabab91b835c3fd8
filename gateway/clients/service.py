"""Clients: registration, key rotation, suspension, and the client-credentials grant.

Clients authenticate with `private_key_jwt` (RFC 7523): a short-lived assertion signed
with a registered key, whose algorithm is fixed by that key. A client registered with
DPoP gets sender-constrained tokens only (RFC 9449, `cnf.jkt`). Every operator action
on a client is an audit event.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import structlog
from lendgate_sdk.client import ASSERTION_TYPE
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import service as audit_service
from gateway.audit.events import AuditEvent
from gateway.clients import repository
from gateway.clients.models import Client
from gateway.clients.schemas import TokenResponse
from gateway.core.clock import utcnow
from gateway.core.errors import InsufficientScope, InvalidRequest, InvalidToken
from gateway.core.ids import new_id
from gateway.core.inputs import has_control_characters, is_client_id, is_safe_text
from gateway.crypto import jose
from gateway.runtime.context import GatewayContext
from gateway.security import dpop
from gateway.security.principals import ClientKind, ClientStatus
from gateway.security.replay import spend_dpop_proof
from gateway.security.tokens import CLIENT_TOKEN_USE

log = structlog.get_logger()

DEFAULT_SCOPES = {
    ClientKind.LENDER: ("consents:write", "features:read"),
    ClientKind.REGULATOR: ("audit:read", "audit:cosign"),
}
SIGNING_KEYS = {("OKP", "Ed25519"), ("EC", "P-256")}
ENCRYPTION_KEYS = {("OKP", "X25519")}


class ClientRegistrationError(ValueError):
    """A JWKS or client description that cannot be registered."""


class UnknownClient(ClientRegistrationError):
    """An operator's change names a client this database does not hold."""


def signing_keys(jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The JWKS restricted to the client's signature keys."""
    return {
        "keys": [
            key
            for key in jwks.get("keys", [])
            if key.get("use", "sig") == "sig" and (key.get("kty"), key.get("crv")) in SIGNING_KEYS
        ]
    }


def encryption_keys(jwks: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The client's X25519 keys, oldest first."""
    return [
        dict(key)
        for key in jwks.get("keys", [])
        if key.get("use") == "enc" and (key.get("kty"), key.get("crv")) in ENCRYPTION_KEYS
    ]


def encryption_key(jwks: Mapping[str, Any]) -> dict[str, Any] | None:
    """The X25519 key releases are encrypted to: the newest one registered."""
    keys = encryption_keys(jwks)
    return keys[-1] if keys else None


def _client_kind(kind: str) -> ClientKind:
    try:
        return ClientKind(kind)
    except ValueError:
        raise ClientRegistrationError(f"kind must be one of {', '.join(ClientKind)}") from None


def validate_jwks(kind: ClientKind, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """Check a client's public JWKS: public keys only, a signature key, an enc key for lenders."""
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ClientRegistrationError("the JWKS has no keys")
    for key in keys:
        _check_public_key(key)
    kids = [key["kid"] for key in keys]
    if len(set(kids)) != len(kids):
        raise ClientRegistrationError("two keys share one `kid`")
    if not signing_keys(jwks)["keys"]:
        raise ClientRegistrationError("the JWKS needs a `sig` key (Ed25519 or P-256)")
    if kind == ClientKind.LENDER and encryption_key(jwks) is None:
        raise ClientRegistrationError("a lender's JWKS needs an X25519 `enc` key")
    return {"keys": [dict(key) for key in keys]}


def _check_public_key(key: Any) -> None:
    if not isinstance(key, dict) or not isinstance(key.get("kid"), str) or not key["kid"]:
        raise ClientRegistrationError("every key needs a `kid`")
    if any(member in key for member in ("d", "p", "q", "k", "dp", "dq", "qi", "oth")):
        raise ClientRegistrationError(f"key {key['kid']} holds private material")


async def register(
    session: AsyncSession,
    *,
    name: str,
    kind: str,
    jwks: Mapping[str, Any],
    actor: str,
    dpop_required: bool = False,
) -> Client:
    """Register a client from its public JWKS; the registration is an audit event.

    `dpop_required`: every token of the client must be DPoP-bound (RFC 9449).
    """
    registered_as = _client_kind(kind)
    public_jwks = validate_jwks(registered_as, jwks)
    prefix = "lnd" if registered_as == ClientKind.LENDER else "reg"
    client = Client(
        id=new_id(prefix, nbytes=10),
        name=name,
        kind=registered_as,
        jwks=public_jwks,
        scopes=" ".join(DEFAULT_SCOPES[registered_as]),
        dpop_required=dpop_required,
    )
    session.add(client)
    await session.flush()
    await _record(
        session,
        client,
        "admin.client_added",
        actor,
        f"{kind} registered" + (", DPoP required" if dpop_required else ""),
    )
    return client


async def add_keys(
    session: AsyncSession, client_id: str, jwks: Mapping[str, Any], *, actor: str
) -> list[str]:
    """Add public keys to a client (rotation: the old ones keep working until retired).

    A new `enc` key becomes the one releases are encrypted to; a new `sig` key is
    accepted for assertions at once, beside the old one.
    """
    client = await _client_for_operator(session, client_id)
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ClientRegistrationError("the JWKS has no keys")
    registered = {key["kid"] for key in client.jwks["keys"]}
    for key in keys:
        _check_public_key(key)
        if key["kid"] in registered:
            raise ClientRegistrationError(f"key {key['kid']} is already registered")
        registered.add(key["kid"])
        kind_of_key = (key.get("kty"), key.get("crv"))
        is_sig = key.get("use", "sig") == "sig" and kind_of_key in SIGNING_KEYS
        is_enc = (
            client.kind == ClientKind.LENDER
            and key.get("use") == "enc"
            and kind_of_key in ENCRYPTION_KEYS
        )
        if not (is_sig or is_enc):
            raise ClientRegistrationError(
                f"key {key['kid']} is neither a `sig` key (Ed25519 or P-256)"
                + (" nor an X25519 `enc` key" if client.kind == ClientKind.LENDER else "")
            )
    client.jwks = {"keys": [*client.jwks["keys"], *(dict(key) for key in keys)]}
    await session.flush()
    added = [str(key["kid"]) for key in keys]
    for kid in added:
        await _record(session, client, "admin.client_key_added", actor, f"key {kid}")
    return added


async def retire_key(session: AsyncSession, client_id: str, kid: str, *, actor: str) -> None:
    """Remove a key from a client; its last signing key (or a lender's last enc key) stays."""
    client = await _client_for_operator(session, client_id)
    remaining = [key for key in client.jwks["keys"] if key.get("kid") != kid]
    if len(remaining) == len(client.jwks["keys"]):
        raise ClientRegistrationError(f"the client has no key {kid}")
    if not signing_keys({"keys": remaining})["keys"]:
        raise ClientRegistrationError("that is the client's last signing key; add another first")
    if client.kind == ClientKind.LENDER and encryption_key({"keys": remaining}) is None:
        raise ClientRegistrationError("that is the lender's last `enc` key; add another first")
    client.jwks = {"keys": remaining}
    await session.flush()
    await _record(session, client, "admin.client_key_retired", actor, f"key {kid}")


async def suspend(session: AsyncSession, client_id: str, *, actor: str) -> Client:
    """Suspend a client: no new tokens, and its existing tokens stop working at once."""
    return await _set_status(
        session, client_id, ClientStatus.SUSPENDED, "admin.client_suspended", actor
    )


async def resume(session: AsyncSession, client_id: str, *, actor: str) -> Client:
    """Lift a suspension."""
    return await _set_status(session, client_id, ClientStatus.ACTIVE, "admin.client_resumed", actor)


async def _set_status(
    session: AsyncSession, client_id: str, status: ClientStatus, event: str, actor: str
) -> Client:
    client = await _client_for_operator(session, client_id)
    if client.status == status:
        raise ClientRegistrationError(f"the client is already {status}")
    client.status = status
    await session.flush()
    await _record(session, client, event, actor, f"{client.kind} {status}")
    return client


async def list_clients(session: AsyncSession) -> list[Client]:
    """Every registered client, oldest first (the operator's list)."""
    return await repository.list_all(session)


async def _client_for_operator(session: AsyncSession, client_id: str) -> Client:
    client = await repository.get(session, client_id, for_update=True)
    if client is None:
        raise UnknownClient(f"no client {client_id}")
    return client


async def _record(
    session: AsyncSession, client: Client, event: str, actor: str, reason: str
) -> None:
    await audit_service.append(
        session,
        AuditEvent(
            type=event,
            actor=actor,
            lender_id=client.id if client.kind == ClientKind.LENDER else None,
            reason=reason,
        ),
    )


async def issue_token(
    session: AsyncSession,
    context: GatewayContext,
    *,
    grant_type: str,
    assertion_type: str | None,
    assertion: str | None,
    scope: str | None,
    dpop_proofs: list[str] | None = None,
) -> TokenResponse:
    """Exchange a valid, unused client assertion for a short-lived access token.

    With a DPoP proof the token is bound to the proof's key (`cnf.jkt`, `token_type`
    DPoP); a client registered with DPoP gets no token without one.
    """
    fields = (grant_type, assertion_type, assertion, scope)
    if any(has_control_characters(field) for field in fields if field is not None):
        # Hostile bytes in a credential request are a refused credential, on record.
        refusal = InvalidToken("The token request's fields may not carry control characters.")
        _record_refusal(session, None, refusal)
        raise refusal
    if grant_type != "client_credentials":
        raise InvalidRequest("grant_type must be client_credentials.")
    if assertion_type != ASSERTION_TYPE or not assertion:
        raise InvalidRequest(f"client_assertion_type must be {ASSERTION_TYPE}.")
    client = None
    try:
        client = await _claimed_client(session, assertion)
        # The proof first: its `jti` is spent in the shared store, which must not wait on
        # this request's own write (the assertion's `jti`).
        jkt = await _confirmation_key(context, client, dpop_proofs or [])
        claims = await _verify_assertion(session, context, client, assertion)
    except InvalidToken as refusal:
        _record_refusal(session, client, refusal)
        raise

    registered = client.scopes.split()
    granted = registered if scope is None else scope.split()
    if not granted or not set(granted) <= set(registered):
        raise InsufficientScope("The requested scope exceeds the client's registration.")

    now = utcnow()
    ttl = context.settings.access_token_ttl_seconds
    token_claims: dict[str, Any] = {
        "iss": context.settings.issuer,
        "sub": client.id,
        "aud": context.settings.issuer,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + ttl,
        "jti": secrets.token_urlsafe(16),
        "scope": " ".join(granted),
        "client_kind": client.kind,
        "token_use": CLIENT_TOKEN_USE,
    }
    if jkt is not None:
        token_claims["cnf"] = {"jkt": jkt}
    token = jose.sign_jwt(
        token_claims,
        context.keys.signing_key.private_key,
        context.keys.signing_key.kid,
        typ="at+jwt",
    )
    log.info(
        "token.issued",
        client_id=client.id,
        scope=" ".join(granted),
        jti=claims["jti"],
        dpop=jkt is not None,
    )
    return TokenResponse(
        access_token=token,
        token_type="DPoP" if jkt is not None else "Bearer",
        expires_in=ttl,
        scope=" ".join(granted),
    )


def _record_refusal(session: AsyncSession, client: Client | None, refusal: InvalidToken) -> None:
    """Put a refused token request on record (written even though the request rolls back)."""
    # Only a registered client's id goes on record: an unverified `iss` is anyone's text.
    audit_service.append_if_refused(
        session,
        AuditEvent(
            type="token.refused",
            actor=f"client:{client.id}" if client else "client:unknown",
            lender_id=client.id if client and client.kind == ClientKind.LENDER else None,
            outcome="denied",
            reason=refusal.detail,
        ),
    )


async def _confirmation_key(
    context: GatewayContext, client: Client, proofs: list[str]
) -> str | None:
    """The thumbprint a new token is bound to (a checked, unspent DPoP proof), or None."""
    if not proofs:
        if client.dpop_required:
            raise InvalidToken(
                "This client must bind its tokens with a DPoP proof.",
                headers={"WWW-Authenticate": dpop.CHALLENGE},
            )
        return None
    if len(proofs) != 1:
        raise InvalidToken(
            "Send exactly one DPoP proof.", headers={"WWW-Authenticate": dpop.CHALLENGE}
        )
    settings = context.settings
    proof = dpop.verify_proof(
        proofs[0],
        method="POST",
        url=settings.token_endpoint,
        access_token=None,
        max_age_seconds=settings.dpop_proof_max_age_seconds,
        leeway_seconds=settings.clock_skew_seconds,
    )
    await spend_dpop_proof(context.shared_store, settings, proof)
    return proof.jkt


async def _claimed_client(session: AsyncSession, assertion: str) -> Client:
    """The active client an assertion claims to come from (not yet verified)."""
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise InvalidToken("The client assertion is not a JWT.") from error
    client_id = unverified.get("iss")
    client = await repository.get(session, client_id) if is_client_id(client_id) else None
    if client is None or client.status is not ClientStatus.ACTIVE:
        raise InvalidToken("Unknown client.")
    return client


async def _verify_assertion(
    session: AsyncSession, context: GatewayContext, client: Client, assertion: str
) -> dict[str, Any]:
    """The assertion's claims once its signature, audience, lifetime and `jti` check out."""
    settings = context.settings
    claims = jose.verify_jwt(
        assertion,
        signing_keys(client.jwks),
        audience=[settings.token_endpoint, settings.issuer],
        issuer=client.id,
        leeway=settings.clock_skew_seconds,
        required=("exp", "iat", "jti", "sub"),
    )
    if claims["sub"] != client.id:
        raise InvalidToken("The assertion's `sub` must equal its `iss`.")
    if not isinstance(claims["jti"], str) or not is_safe_text(claims["jti"], max_length=256):
        raise InvalidToken("The assertion's `jti` must be a short string of printable characters.")
    now = utcnow()
    skew = settings.clock_skew_seconds
    lifetime = settings.client_assertion_max_lifetime_seconds
    issued_at, expires = int(claims["iat"]), int(claims["exp"])
    # PyJWT refused an `iat` or `nbf` ahead of now + skew; the window is bounded here too.
    if issued_at > now.timestamp() + skew:
        raise InvalidToken("The assertion is issued in the future.")
    if expires - issued_at > lifetime:
        raise InvalidToken("The assertion lives longer than the gateway accepts.")
    expires_at = datetime.fromtimestamp(expires, UTC)
    if expires_at > now + timedelta(seconds=lifetime + skew):
        raise InvalidToken("The assertion's `exp` is too far ahead.")
    if not await repository.spend_assertion(
        session, client.id, str(claims["jti"]), expires_at, now
    ):
        raise InvalidToken("This client assertion was already used.")
    return claims
