"""Every refusal of the main flow: the exact code, nothing released, and the event on record."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from lendgate_sdk import LendgateAPIError, jose
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from consent.models import Consent
from gateway.borrowers.models import OtpChallenge
from tests.support.stack import Stack


async def refused(call: Any) -> LendgateAPIError:
    """The API error a call ends in."""
    with pytest.raises(LendgateAPIError) as caught:
        await call
    return caught.value


async def last_leaf(stack: Stack, **match: Any) -> dict[str, Any]:
    """The newest audit leaf whose fields equal `match`."""
    leaves = [
        leaf
        for leaf in await stack.audit_leaves()
        if all(leaf.get(key) == value for key, value in match.items())
    ]
    assert leaves, f"no audit leaf with {match}"
    return leaves[-1]


async def consents_of(stack: Stack, lender_id: str) -> int:
    async with stack.context.sessionmaker() as session:
        query = select(func.count()).select_from(Consent).where(Consent.lender_id == lender_id)
        return int(await session.scalar(query) or 0)


# -- consents that cannot be used ---------------------------------------------------------------


async def test_unknown_and_foreign_consents_are_indistinguishable(stack: Stack) -> None:
    owner, other = await stack.register(), await stack.register(name="另一家机构")
    async with stack.lender_client(owner) as lender_a, stack.lender_client(other) as lender_b:
        consent_id, _, _ = await stack.active_consent(lender_a)
        foreign = await refused(lender_b.release(consent_id))
        missing = await refused(lender_b.release("cns_" + "0" * 24))
        foreign_read = await refused(lender_b.get_consent(consent_id))
    assert (
        (foreign.status, foreign.code, foreign.detail)
        == (
            missing.status,
            missing.code,
            missing.detail,
        )
        == (404, "ConsentNotFound", foreign_read.detail)
    )
    assert await stack.release_count(consent_id) == 0
    denied = await last_leaf(stack, type="release.denied", lender_id=other.client_id)
    assert denied["reason"] == "ConsentNotFound"
    assert denied["outcome"] == "denied"


async def test_release_before_approval_is_consent_pending(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent = await lender.request_consent(stack.consent_body(stack.person()))
        error = await refused(lender.release(consent["consent_id"]))
    assert (error.status, error.code) == (403, "ConsentPending")
    assert await stack.release_count(consent["consent_id"]) == 0
    assert (await stack.audit_types(consent["consent_id"]))[-1] == "release.denied"


async def test_one_time_consent_releases_once(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        await lender.release(consent_id)
        error = await refused(lender.release(consent_id))
    assert (error.status, error.code) == (429, "FrequencyExceeded")
    assert await stack.release_count(consent_id) == 1


async def test_consent_not_yet_valid(stack: Stack) -> None:
    start = datetime.now(UTC) + timedelta(days=2)
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(
            lender,
            valid_from=start.isoformat(),
            valid_until=(start + timedelta(days=10)).isoformat(),
        )
        error = await refused(lender.release(consent_id))
    assert (error.status, error.code) == (403, "ConsentNotYetValid")
    assert await stack.release_count(consent_id) == 0


async def test_paused_then_resumed(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, auth = await stack.active_consent(lender)
        paused = await stack.http.post(f"/v1/borrower/consents/{consent_id}/pause", headers=auth)
        assert paused.json()["status"] == "PAUSED"
        error = await refused(lender.release(consent_id))
        assert error.code == "ConsentPaused"
        resumed = await stack.http.post(f"/v1/borrower/consents/{consent_id}/resume", headers=auth)
        assert resumed.json()["status"] == "ACTIVE"
        await lender.release(consent_id)
    types = await stack.audit_types(consent_id)
    assert "consent.paused" in types and "consent.resumed" in types


async def test_rejected_consent(stack: Stack) -> None:
    person = stack.person()
    async with stack.lender_client(await stack.register()) as lender:
        consent = await lender.request_consent(stack.consent_body(person))
        auth = await stack.borrower_login(person.phone)
        rejected = await stack.http.post(
            f"/v1/borrower/consents/{consent['consent_id']}/reject", headers=auth
        )
        assert rejected.json()["status"] == "REJECTED"
        error = await refused(lender.release(consent["consent_id"]))
    assert error.code == "ConsentRejected"
    again = await stack.approve(consent["consent_id"], person.phone, auth)
    assert again.status_code == 403
    assert again.json()["error"] == "ConsentRejected"


async def test_lender_revokes_its_consent(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        decision = await lender.revoke(consent_id)
        assert decision["status"] == "REVOKED"
        error = await refused(lender.release(consent_id))
    assert error.code == "ConsentRevoked"
    assert "key.shredded" in await stack.audit_types(consent_id)


# -- purpose and policy ---------------------------------------------------------------------------


async def test_feature_outside_the_purpose_is_refused_at_request(stack: Stack) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        body = stack.consent_body(stack.person(), features=["si_active", "no_such_feature"])
        error = await refused(lender.request_consent(body))
    assert (error.status, error.code) == (422, "PurposeViolation")
    assert await consents_of(stack, registered.client_id) == 0
    denied = await last_leaf(stack, type="consent.request_denied", lender_id=registered.client_id)
    assert denied["reason"] == "PurposeViolation"
    assert denied["features"] == ["si_active"]


async def test_terms_above_the_purpose_ceilings_are_refused(stack: Stack) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        for overrides in (
            {"data_range_months": 60},
            {"data_life_days": 3650},
            {"valid_until": (datetime.now(UTC) + timedelta(days=400)).isoformat()},
        ):
            error = await refused(
                lender.request_consent(stack.consent_body(stack.person(), **overrides))
            )
            assert error.code == "PurposeViolation", overrides
    assert await consents_of(stack, registered.client_id) == 0


async def test_release_asking_beyond_the_consent(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender, features=["si_active", "hf_status"])
        outside_purpose = await refused(lender.release(consent_id, features=["no_such_feature"]))
        outside_consent = await refused(lender.release(consent_id, features=["income_proxy_band"]))
    assert outside_purpose.code == "PurposeViolation"
    assert outside_consent.code == "PolicyViolation"
    assert await stack.release_count(consent_id) == 0
    reasons = [
        leaf["reason"]
        for leaf in await stack.audit_leaves(consent_id)
        if leaf["type"] == "release.denied"
    ]
    assert reasons == ["PurposeViolation", "PolicyViolation"]


# -- malformed input ------------------------------------------------------------------------------


async def test_malformed_json_is_invalid_request_and_writes_nothing(stack: Stack) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        token = await lender.access_token()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    broken = await stack.http.post(
        "/v1/consent-requests", content=b'{"borrower": ', headers=headers
    )
    assert broken.status_code == 422
    assert broken.json()["error"] == "InvalidRequest"
    person = stack.person()
    body = stack.consent_body(person, unexpected_field=True)
    body["borrower"]["id_number"] = person.id_number[:-1] + (
        "0" if person.id_number[-1] != "0" else "1"
    )
    invalid = await stack.http.post("/v1/consent-requests", json=body, headers=headers)
    assert invalid.status_code == 422
    assert invalid.json()["error"] == "InvalidRequest"
    assert person.id_number[:-1] not in invalid.text
    assert await consents_of(stack, registered.client_id) == 0


# -- one-time codes -------------------------------------------------------------------------------


async def test_wrong_code_then_too_many_attempts(stack: Stack) -> None:
    person = stack.person()
    await stack.http.post("/v1/borrower/otp", json={"phone": person.phone})
    good = stack.last_code(person.phone)
    bad = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(stack.context.settings.otp_max_attempts):
        wrong = await stack.http.post(
            "/v1/borrower/session", json={"phone": person.phone, "code": bad}
        )
        assert (wrong.status_code, wrong.json()["error"]) == (401, "InvalidToken")
    locked = await stack.http.post(
        "/v1/borrower/session", json={"phone": person.phone, "code": good}
    )
    assert (locked.status_code, locked.json()["error"]) == (429, "RateLimited")
    assert "access_token" not in locked.json()
    failures = [
        leaf for leaf in await stack.audit_leaves() if leaf["type"] == "borrower.login_failed"
    ]
    assert failures and failures[-1]["reason"] == "RateLimited"


async def test_expired_code_is_refused(stack: Stack) -> None:
    person = stack.person()
    await stack.http.post("/v1/borrower/otp", json={"phone": person.phone})
    async with stack.context.sessionmaker() as session, session.begin():
        await session.execute(
            update(OtpChallenge).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    answer = await stack.http.post(
        "/v1/borrower/session", json={"phone": person.phone, "code": stack.last_code(person.phone)}
    )
    assert (answer.status_code, answer.json()["error"]) == (401, "InvalidToken")
    assert "expired" in answer.json()["detail"]


async def test_approval_needs_the_code_sent_for_that_consent(stack: Stack) -> None:
    person = stack.person()
    async with stack.lender_client(await stack.register()) as lender:
        consent = await lender.request_consent(stack.consent_body(person))
    consent_id = consent["consent_id"]
    auth = await stack.borrower_login(person.phone)
    # The login code is spent and no approval code was asked for: nothing can approve.
    answer = await stack.http.post(
        f"/v1/borrower/consents/{consent_id}/approve",
        json={"code": stack.last_code(person.phone)},
        headers=auth,
    )
    assert (answer.status_code, answer.json()["error"]) == (401, "InvalidToken")
    assert (await stack.audit_types(consent_id))[-1] == "consent.approval_failed"
    view = await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)
    assert view.json()["status"] == "PENDING"


async def test_another_borrower_cannot_see_or_decide(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
    stranger = stack.person()
    auth = await stack.borrower_login(stranger.phone)
    seen = await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)
    revoke = await stack.http.post(f"/v1/borrower/consents/{consent_id}/revoke", headers=auth)
    assert seen.status_code == revoke.status_code == 404
    assert seen.json()["error"] == revoke.json()["error"] == "ConsentNotFound"
    listed = await stack.http.get("/v1/borrower/consents", headers=auth)
    assert consent_id not in listed.text


# -- client assertions ----------------------------------------------------------------------------


def assertion(client_id: str, private_jwks: dict[str, Any], **claims: Any) -> str:
    """A client assertion for the test gateway, with `claims` overriding the defaults."""
    now = int(time.time())
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": "http://testserver/oauth/token",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    key = jose.find_key(private_jwks, "sig")
    return jose.sign_jwt(body, jose.signing_key_from_jwk(key), key["kid"])


async def ask_token(stack: Stack, client_assertion: str) -> Any:
    return await stack.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion,
        },
    )


async def test_token_for_a_valid_assertion(stack: Stack) -> None:
    registered = await stack.register()
    answer = await ask_token(stack, assertion(registered.client_id, registered.private_jwks))
    assert answer.status_code == 200
    token = answer.json()
    assert token["token_type"] == "Bearer"
    assert set(token["scope"].split()) == {"consents:write", "features:read"}
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300


async def test_replayed_assertion_is_refused(stack: Stack) -> None:
    registered = await stack.register()
    once = assertion(registered.client_id, registered.private_jwks)
    assert (await ask_token(stack, once)).status_code == 200
    replay = await ask_token(stack, once)
    assert (replay.status_code, replay.json()["error"]) == (401, "InvalidToken")
    assert "access_token" not in replay.json()
    refusal = await last_leaf(stack, type="token.refused", actor=f"client:{registered.client_id}")
    assert refusal["outcome"] == "denied"


async def test_tampered_assertion_is_refused(stack: Stack) -> None:
    registered = await stack.register()
    header, payload, signature = assertion(registered.client_id, registered.private_jwks).split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    answer = await ask_token(stack, f"{header}.{payload}.{flipped}")
    assert (answer.status_code, answer.json()["error"]) == (401, "InvalidToken")


@pytest.mark.parametrize(
    "claims",
    [
        lambda now: {"aud": "https://elsewhere.example/oauth/token"},
        lambda now: {"exp": now - 120},
        lambda now: {"exp": now + 3600},
    ],
    ids=["wrong-audience", "expired", "too-long-lived"],
)
async def test_defective_assertions_are_refused(
    stack: Stack, claims: Callable[[int], dict[str, Any]]
) -> None:
    registered = await stack.register()
    # Dated when the test runs, not when it is collected: an assertion ages.
    answer = await ask_token(
        stack, assertion(registered.client_id, registered.private_jwks, **claims(int(time.time())))
    )
    assert (answer.status_code, answer.json()["error"]) == (401, "InvalidToken")


async def test_assertion_signed_by_another_key_is_refused(stack: Stack) -> None:
    registered = await stack.register()
    impostor_private, _ = jose.generate_client_jwks("lender")
    answer = await ask_token(stack, assertion(registered.client_id, impostor_private))
    assert (answer.status_code, answer.json()["error"]) == (401, "InvalidToken")


async def test_lender_token_cannot_read_the_audit_log(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        token = await lender.access_token()
    answer = await stack.http.get("/v1/audit/entries", headers={"Authorization": f"Bearer {token}"})
    assert (answer.status_code, answer.json()["error"]) == (403, "InsufficientScope")
    anonymous = await stack.http.get("/v1/audit/entries")
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "InvalidToken")


# -- failures inside the pipeline -----------------------------------------------------------------


async def test_source_failure_releases_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.core.errors import SourceUnavailable
    from gateway.releases import service as releases_service

    async def failing_fetch(*_: Any, **__: Any) -> Any:
        raise SourceUnavailable("Source housing_fund did not answer in time.")

    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        monkeypatch.setattr(releases_service, "fetch_all", failing_fetch)
        error = await refused(lender.release(consent_id))
    assert (error.status, error.code) == (503, "SourceUnavailable")
    assert await stack.release_count(consent_id) == 0
    assert (await last_leaf(stack, consent_id=consent_id))["reason"] == "SourceUnavailable"


async def test_personal_data_in_features_is_blocked(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.releases import service as releases_service

    async with stack.lender_client(await stack.register()) as lender:
        consent_id, person, _ = await stack.active_consent(lender)
        monkeypatch.setattr(
            releases_service,
            "derive_features",
            lambda *_: {"si_active": True, "hf_status": f"备注 身份证{person.id_number}"},
        )
        error = await refused(lender.release(consent_id))
    assert (error.status, error.code) == (502, "EgressBlocked")
    assert person.id_number not in error.detail
    assert await stack.release_count(consent_id) == 0
    denied = await last_leaf(stack, consent_id=consent_id)
    assert (denied["type"], denied["reason"]) == ("release.denied", "EgressBlocked")
    assert person.id_number not in str(denied)


async def test_audit_failure_releases_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.audit import repository as audit_repository

    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        real_reserve = audit_repository.reserve_seq

        async def broken_reserve(session: Any, count: int = 1) -> int:
            raise OperationalError("INSERT", {}, Exception("disk full"))

        monkeypatch.setattr(audit_repository, "reserve_seq", broken_reserve)
        error = await refused(lender.release(consent_id))
        monkeypatch.setattr(audit_repository, "reserve_seq", real_reserve)
    assert (error.status, error.code) == (503, "AuditUnavailable")
    assert await stack.release_count(consent_id) == 0
    async with stack.context.sessionmaker() as session:
        consent = await session.get(Consent, consent_id)
        assert consent is not None and consent.release_count == 0


async def test_commit_failure_releases_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit entry commits before the response leaves: no commit, no JWE."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from gateway.releases import service as releases_service

    real_commit, real_record = AsyncSession.commit, releases_service.record_release

    async def record_then_doom_the_commit(session: AsyncSession, *args: Any) -> Any:
        session.info["test.fail_commit"] = True
        return await real_record(session, *args)

    async def failing_commit(session: AsyncSession) -> None:
        if session.info.pop("test.fail_commit", False):
            raise OperationalError("COMMIT", {}, Exception("connection lost"))
        await real_commit(session)

    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        monkeypatch.setattr(releases_service, "record_release", record_then_doom_the_commit)
        monkeypatch.setattr(AsyncSession, "commit", failing_commit)
        error = await refused(lender.release(consent_id))
        monkeypatch.undo()
    assert (error.status, error.code) == (503, "AuditUnavailable")
    assert await stack.release_count(consent_id) == 0
    assert "release.granted" not in await stack.audit_types(consent_id)


async def test_no_approval_code_for_someone_elses_consent(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent = await lender.request_consent(stack.consent_body(stack.person()))
    stranger = stack.person()
    auth = await stack.borrower_login(stranger.phone)
    outbox = stack.context.settings.sms_outbox
    assert outbox is not None
    codes_before = outbox.read_text().count("\n")
    answer = await stack.http.post(
        "/v1/borrower/otp",
        json={"phone": stranger.phone, "purpose": "approve", "consent_id": consent["consent_id"]},
        headers=auth,
    )
    assert (answer.status_code, answer.json()["error"]) == (404, "ConsentNotFound")
    assert outbox.read_text().count("\n") == codes_before
