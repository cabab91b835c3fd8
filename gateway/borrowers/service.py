"""Borrower login and step-up: one-time codes and the sessions they open.

Codes are checked in constant time against a keyed hash, with an attempt limit per
code and a lockout per phone across codes; sending is rate-limited per phone and per
client address. Sessions live server-side (`borrower_sessions`), so logout and expiry
end them at once whether the token travels as a bearer header or as a cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import service as audit_service
from gateway.audit.events import AuditEvent
from gateway.borrowers import repository
from gateway.borrowers.models import LoginSession, OtpChallenge
from gateway.borrowers.schemas import CodeRequest, CodeSent, SessionRequest
from gateway.core.db import on_rollback
from gateway.core.errors import (
    InvalidRequest,
    InvalidToken,
    LendgateError,
    RateLimited,
    SourceUnavailable,
)
from gateway.core.ids import new_login_id
from gateway.core.metrics import OTP_LOCKOUTS, OTP_SENT
from gateway.crypto import jose, pseudonyms
from gateway.runtime.context import GatewayContext
from gateway.security.limits import enforce_rate_limit
from gateway.security.principals import BorrowerPrincipal
from gateway.security.store import SharedStore, StoreUnavailable
from gateway.security.store import outage_log as store_outage_log
from gateway.security.tokens import BORROWER_TOKEN_USE
from gateway.sms.senders import SmsDeliveryFailed

log = structlog.get_logger()


@dataclass(frozen=True)
class OpenedSession:
    """A session just opened: its token (header or cookie) and when it ends."""

    session_id: str
    token: str
    delivery: str
    expires_in: int
    expires_at: datetime


def address_index(context: GatewayContext, address: str) -> str:
    """A keyed hash of a client address: rate-limit keys never hold the address itself."""
    secret = context.keys.secret("rate-limit:address")
    return hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()[:32]


def _failures_key(phone_index: str) -> str:
    return f"otp-failures:{phone_index}"


async def _refuse_if_locked_out(
    store: SharedStore, context: GatewayContext, phone_index: str
) -> None:
    try:
        window = await store.peek(_failures_key(phone_index))
    except StoreUnavailable as error:
        store_outage_log.failure("borrower.lockout_unavailable", error)
        return
    if window.count >= context.settings.otp_lockout_failures:
        OTP_LOCKOUTS.inc()
        raise RateLimited(
            "Too many wrong codes for this phone; try again later.",
            headers={"Retry-After": str(max(1, math.ceil(window.resets_in)))},
        )


def approval_consent_id(
    context: GatewayContext, request: CodeRequest, borrower: BorrowerPrincipal
) -> str:
    """The consent an approval code is asked for: one consent, texted to the borrower's own phone.

    Whether that consent names the borrower is the consent layer's to check.
    """
    phone_index = pseudonyms.phone_index(context.keys, request.phone)
    if borrower.phone_index != phone_index or not request.consent_id:
        raise InvalidRequest("An approval code is sent to your own phone, for one consent.")
    return request.consent_id


async def send_code(
    session: AsyncSession, context: GatewayContext, request: CodeRequest, client_address: str
) -> CodeSent:
    """Create a challenge and text its code (an `approve` code's consent is checked already)."""
    phone_index = pseudonyms.phone_index(context.keys, request.phone)
    # Limits before anything is written: the shared store commits on its own connection.
    settings, store = context.settings, context.shared_store
    await _refuse_if_locked_out(store, context, phone_index)
    await enforce_rate_limit(
        store,
        f"otp-send:address:{address_index(context, client_address)}",
        limit=settings.otp_send_limit_per_ip,
        window_seconds=settings.otp_send_window_seconds,
        detail="Too many codes asked for from this address; retry after the time given.",
    )
    await enforce_rate_limit(
        store,
        f"otp-send:phone:{phone_index}",
        limit=settings.otp_send_limit_per_phone,
        window_seconds=settings.otp_send_window_seconds,
        detail="Too many codes sent to this phone; retry after the time given.",
    )
    challenge_id = new_login_id()
    code = f"{secrets.randbelow(1_000_000):06d}"
    ttl = settings.otp_ttl_seconds
    session.add(
        OtpChallenge(
            id=challenge_id,
            phone_index=phone_index,
            purpose=request.purpose,
            consent_id=request.consent_id if request.purpose == "approve" else None,
            code_hash=pseudonyms.code_digest(context.keys, challenge_id, code),
            expires_at=context.clock.now() + timedelta(seconds=ttl),
        )
    )
    await session.flush()
    try:
        await context.sms.send_code(request.phone, code)
    except SmsDeliveryFailed as failure:
        # The text message service is a system the gateway depends on, like a data source:
        # its outage is a 503 to retry, not a defect. The code is not kept (rolled back).
        log.warning("borrower.code_not_sent", challenge_id=challenge_id, error=str(failure))
        raise SourceUnavailable(
            "The text message service did not take the code; retry shortly.",
            headers={"Retry-After": "5"},
        ) from failure
    OTP_SENT.labels(request.purpose).inc()
    log.info("borrower.code_sent", challenge_id=challenge_id, purpose=request.purpose)
    return CodeSent(expires_in=ttl)


async def check_code(
    session: AsyncSession,
    context: GatewayContext,
    *,
    phone_index: str,
    purpose: str,
    consent_id: str | None,
    code: str,
) -> None:
    """Consume the open challenge if `code` matches; otherwise count the try and refuse.

    Wrong codes also count against the phone across challenges: a phone with too many
    of them is locked out for a while, right code or not.
    """
    store = context.shared_store
    await _refuse_if_locked_out(store, context, phone_index)
    challenge = await repository.latest_open(session, phone_index, purpose, consent_id)
    if challenge is None:
        raise InvalidToken("No code is waiting; request a new one.")
    if challenge.expires_at <= context.clock.now():
        raise InvalidToken("The code has expired; request a new one.")
    if challenge.attempts >= context.settings.otp_max_attempts:
        raise RateLimited("Too many wrong codes; request a new one.")
    expected = pseudonyms.code_digest(context.keys, challenge.id, code)
    if not hmac.compare_digest(expected, challenge.code_hash):
        challenge_id = challenge.id

        async def count_wrong_try(fresh: AsyncSession) -> None:
            await repository.count_attempt(fresh, challenge_id)

        on_rollback(session, count_wrong_try)
        try:
            await store.hit(_failures_key(phone_index), context.settings.otp_lockout_seconds)
        except StoreUnavailable as error:
            store_outage_log.failure("borrower.lockout_unavailable", error)
        raise InvalidToken("Wrong code.")
    challenge.consumed_at = context.clock.now()
    await session.flush()


async def open_session(
    session: AsyncSession, context: GatewayContext, request: SessionRequest
) -> OpenedSession:
    """Log a borrower in with the code sent to their phone; the session is kept server-side."""
    phone_index = pseudonyms.phone_index(context.keys, request.phone)
    try:
        await check_code(
            session,
            context,
            phone_index=phone_index,
            purpose="login",
            consent_id=None,
            code=request.code,
        )
    except LendgateError as refusal:
        audit_service.append_if_refused(
            session,
            AuditEvent(
                type="borrower.login_failed",
                actor="borrower",
                outcome="denied",
                reason=refusal.code,
            ),
        )
        raise
    now = context.clock.now()
    ttl = context.settings.borrower_session_ttl_seconds
    record = LoginSession(
        id=new_login_id(),
        phone_index=phone_index,
        delivery=request.delivery,
        expires_at=now + timedelta(seconds=ttl),
    )
    session.add(record)
    await session.flush()
    issued = int(now.timestamp())
    token = jose.sign_jwt(
        {
            "iss": context.settings.issuer,
            "aud": context.settings.issuer,
            "sub": phone_index,
            "sid": record.id,
            "iat": issued,
            "exp": issued + ttl,
            "jti": secrets.token_urlsafe(16),
            "token_use": BORROWER_TOKEN_USE,
        },
        context.keys.signing_key.private_key,
        context.keys.signing_key.kid,
        typ="borrower+jwt",
    )
    log.info("borrower.session_opened", delivery=request.delivery)
    return OpenedSession(
        session_id=record.id,
        token=token,
        delivery=request.delivery,
        expires_in=ttl,
        expires_at=record.expires_at,
    )


async def log_out(
    session: AsyncSession, context: GatewayContext, borrower: BorrowerPrincipal
) -> None:
    """End the borrower's session at once (its token or cookie no longer works anywhere)."""
    await repository.revoke_session(session, borrower.session_id, context.clock.now())
    log.info("borrower.logged_out")
