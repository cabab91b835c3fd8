"""Borrower login and step-up: one-time codes, checked in constant time, with an attempt limit."""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from consent import repository as consent_repository
from gateway import jose, pseudonyms
from gateway.audit import service as audit_service
from gateway.audit.events import AuditEvent
from gateway.auth import BORROWER_TOKEN_USE, BorrowerPrincipal
from gateway.borrowers import repository
from gateway.borrowers.models import OtpChallenge
from gateway.borrowers.schemas import BorrowerSession, CodeRequest, CodeSent, SessionRequest
from gateway.context import GatewayContext
from gateway.db import on_rollback, utcnow
from gateway.errors import ConsentNotFound, InvalidRequest, InvalidToken, LendgateError, RateLimited

log = structlog.get_logger()


async def send_code(
    session: AsyncSession,
    context: GatewayContext,
    request: CodeRequest,
    borrower: BorrowerPrincipal | None,
) -> CodeSent:
    """Create a challenge and text its code; `approve` codes need the borrower's session."""
    phone_index = pseudonyms.phone_index(context.keys, request.phone)
    if request.purpose == "approve":
        if borrower is None:
            raise InvalidToken("Log in before asking for an approval code.")
        if borrower.phone_index != phone_index or not request.consent_id:
            raise InvalidRequest("An approval code is sent to your own phone, for one consent.")
        consent = await consent_repository.get(session, request.consent_id)
        if consent is None or consent.phone_index != phone_index:
            raise ConsentNotFound()
    challenge_id = uuid.uuid4().hex
    code = f"{secrets.randbelow(1_000_000):06d}"
    ttl = context.settings.otp_ttl_seconds
    session.add(
        OtpChallenge(
            id=challenge_id,
            phone_index=phone_index,
            purpose=request.purpose,
            consent_id=request.consent_id if request.purpose == "approve" else None,
            code_hash=pseudonyms.code_digest(context.keys, challenge_id, code),
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
    )
    await session.flush()
    await context.sms.send_code(request.phone, code)
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
    """Consume the open challenge if `code` matches; otherwise count the try and refuse."""
    challenge = await repository.latest_open(session, phone_index, purpose, consent_id)
    if challenge is None:
        raise InvalidToken("No code is waiting; request a new one.")
    if challenge.expires_at <= utcnow():
        raise InvalidToken("The code has expired; request a new one.")
    if challenge.attempts >= context.settings.otp_max_attempts:
        raise RateLimited("Too many wrong codes; request a new one.")
    expected = pseudonyms.code_digest(context.keys, challenge.id, code)
    if not hmac.compare_digest(expected, challenge.code_hash):
        challenge_id = challenge.id

        async def count_wrong_try(fresh: AsyncSession) -> None:
            await repository.count_attempt(fresh, challenge_id)

        on_rollback(session, count_wrong_try)
        raise InvalidToken("Wrong code.")
    challenge.consumed_at = utcnow()
    await session.flush()


async def open_session(
    session: AsyncSession, context: GatewayContext, request: SessionRequest
) -> BorrowerSession:
    """Log a borrower in with the code sent to their phone."""
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
    now = int(utcnow().timestamp())
    ttl = context.settings.borrower_session_ttl_seconds
    token = jose.sign_jwt(
        {
            "iss": context.settings.issuer,
            "aud": context.settings.issuer,
            "sub": phone_index,
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(16),
            "token_use": BORROWER_TOKEN_USE,
        },
        context.keys.signing_key.private_key,
        context.keys.signing_key.kid,
        typ="borrower+jwt",
    )
    log.info("borrower.session_opened")
    return BorrowerSession(access_token=token, expires_in=ttl)
