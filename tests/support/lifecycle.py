"""Helpers of the consent-lifecycle tests: consents put in each state, a lender's receiver."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from lendgate_sdk import LendgateClient, jose
from sqlalchemy import select, update

from connectors.people.histories import Person
from consent.models import Consent
from consent.notifications.models import ConsentNotification
from tests.support.stack import Stack

STATES = ("PENDING", "ACTIVE", "PAUSED", "REJECTED", "REVOKED", "EXPIRED")


async def set_consent(stack: Stack, consent_id: str, **values: Any) -> None:
    """Change a consent row behind the gateway's back (to put it where the clock would)."""
    async with stack.context.sessionmaker() as session, session.begin():
        await session.execute(update(Consent).where(Consent.id == consent_id).values(**values))


async def stored(stack: Stack, consent_id: str) -> Consent:
    """The consent row as the database holds it now."""
    async with stack.context.sessionmaker() as session:
        consent = await session.get(Consent, consent_id)
        assert consent is not None
        return consent


async def consent_in_state(
    stack: Stack, lender: LendgateClient, state: str, **overrides: Any
) -> tuple[str, Person, dict[str, str]]:
    """A fresh consent brought to `state` the way its parties would; EXPIRED by the clock."""
    person = stack.person()
    consent = await lender.request_consent(stack.consent_body(person, **overrides))
    consent_id = consent["consent_id"]
    auth = await stack.borrower_login(person.phone)
    if state in ("ACTIVE", "PAUSED", "REVOKED", "EXPIRED"):
        approved = await stack.approve(consent_id, person.phone, auth)
        assert approved.status_code == 200, approved.text
    action = {"PAUSED": "pause", "REVOKED": "revoke", "REJECTED": "reject"}.get(state)
    if action is not None:
        path = f"/v1/borrower/consents/{consent_id}/{action}"
        decided = await stack.http.post(path, headers=auth)
        assert decided.status_code == 200, decided.text
    if state == "EXPIRED":
        await set_consent(stack, consent_id, valid_until=datetime.now(UTC) - timedelta(seconds=1))
        # The first read records the expiry; the tests below start from a settled consent.
        seen = await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)
        assert seen.json()["status"] == "EXPIRED"
    return consent_id, person, auth


async def notifications_of(stack: Stack, consent_id: str) -> list[ConsentNotification]:
    """The outbox rows of a consent, in order."""
    async with stack.context.sessionmaker() as session:
        query = (
            select(ConsentNotification)
            .where(ConsentNotification.consent_id == consent_id)
            .order_by(ConsentNotification.seq)
        )
        return list((await session.scalars(query)).all())


def callback_url() -> str:
    """A receiver address of its own, so each test's lender is told apart."""
    return f"https://receiver-{secrets.token_hex(4)}.example/hooks/lendgate"


@dataclass
class Receiver:
    """The lender's webhook endpoint: answers from a script, records what it got."""

    url: str
    script: list[int] = field(default_factory=list)
    """Status codes of the first calls, in order; 200 once the script runs out."""
    calls: list[httpx.Request] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    raise_error: Callable[[httpx.Request], Exception] | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one POST."""
        self.calls.append(request)
        if self.raise_error is not None:
            raise self.raise_error(request)
        status = self.script.pop(0) if self.script else 200
        if status < 300:
            self.accepted.append({"jws": request.content.decode(), "headers": request.headers})
        return httpx.Response(status, json={"ok": status < 300})

    def events(self, jwks: dict[str, Any], audience: str) -> list[dict[str, Any]]:
        """The accepted events, each verified against the gateway's JWKS."""
        return [
            jose.verify_jwt(
                item["jws"],
                jwks,
                audience=audience,
                issuer="lendgate",
                required=("iat", "jti", "sub"),
                typ="consent-event+jwt",
            )
            for item in self.accepted
        ]


def transport_for(*receivers: Receiver) -> httpx.MockTransport:
    """A transport that hands each receiver its own calls and accepts anything else."""
    by_url = {receiver.url: receiver for receiver in receivers}

    def handle(request: httpx.Request) -> httpx.Response:
        receiver = by_url.get(str(request.url))
        if receiver is None:
            return httpx.Response(204)
        return receiver.handle(request)

    return httpx.MockTransport(handle)


def body_of(response: httpx.Response) -> dict[str, Any]:
    """A JSON answer, with its text in the failure message."""
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    return dict(json.loads(response.text))
