"""The consent lifecycle over HTTP: every decision in every state, expiry, terms, every refusal.

Each table row starts from a fresh consent brought to its state by its parties
(EXPIRED by moving its window into the past), then checks what the caller is
told, what the database holds, what the audit log and the lender's outbox got —
and, for refusals, that nothing was written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from lendgate_sdk import LendgateAPIError, LendgateClient
from sqlalchemy import func, select

from consent.budget import interval_start
from consent.models import Consent
from consent.states import TRANSITIONS, ConsentAction, ConsentStatus, is_repeat
from gateway.audit import repository as audit_repository
from gateway.core.clock import ManualClock
from gateway.releases import service as releases_service
from gateway.releases.models import Release
from tests.support.lifecycle import (
    STATES,
    consent_in_state,
    notifications_of,
    set_consent,
    stored,
)
from tests.support.stack import Stack

BORROWER_ACTIONS = ("approve", "reject", "pause", "resume", "revoke")
STATE_CODES = {
    "PENDING": "ConsentPending",
    "ACTIVE": "PolicyViolation",
    "PAUSED": "ConsentPaused",
    "REJECTED": "ConsentRejected",
    "REVOKED": "ConsentRevoked",
    "EXPIRED": "ConsentExpired",
}
EVENT_OF = {
    ("PENDING", "approve"): ["consent.approved"],
    ("PENDING", "reject"): ["consent.rejected", "key.shredded"],
    ("ACTIVE", "pause"): ["consent.paused"],
    ("ACTIVE", "revoke"): ["consent.revoked", "key.shredded"],
    ("PAUSED", "resume"): ["consent.resumed"],
    ("PAUSED", "revoke"): ["consent.revoked", "key.shredded"],
}


def expectation(state: str, action: str) -> tuple[str, str | None]:
    """(`moves`|`repeat`|`refused`, the new state or the refusal code)."""
    status, verb = ConsentStatus(state), ConsentAction(action)
    if (status, verb) in TRANSITIONS:
        return "moves", TRANSITIONS[(status, verb)]
    if is_repeat(status, verb):
        return "repeat", state
    return "refused", STATE_CODES[state]


async def decide(
    stack: Stack, consent_id: str, phone: str, auth: dict[str, str], action: str
) -> httpx.Response:
    if action == "approve":
        return await stack.approve(consent_id, phone, auth)
    return await stack.http.post(f"/v1/borrower/consents/{consent_id}/{action}", headers=auth)


@pytest.mark.parametrize(
    ("state", "action"), [(state, action) for state in STATES for action in BORROWER_ACTIONS]
)
async def test_every_borrower_decision_in_every_state(
    stack: Stack, state: str, action: str
) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, person, auth = await consent_in_state(stack, lender, state)
    leaves_before = await stack.audit_types(consent_id)
    outbox_before = await notifications_of(stack, consent_id)
    kind, outcome = expectation(state, action)

    answer = await decide(stack, consent_id, person.phone, auth, action)

    leaves_after = await stack.audit_types(consent_id)
    outbox_after = await notifications_of(stack, consent_id)
    if kind == "refused":
        assert answer.status_code in (403, 422), answer.text
        assert answer.json()["error"] == outcome
        assert state in answer.json()["detail"]
        assert (await stored(stack, consent_id)).status == state
        assert leaves_after == leaves_before
        assert len(outbox_after) == len(outbox_before)
        return
    assert answer.status_code == 200, answer.text
    decision = answer.json()
    assert decision["status"] == outcome
    assert (await stored(stack, consent_id)).status == outcome
    if kind == "repeat":
        assert decision["changed"] is False
        assert leaves_after == leaves_before
        assert len(outbox_after) == len(outbox_before)
        return
    assert decision["changed"] is True
    assert leaves_after == leaves_before + EVENT_OF[(state, action)]
    [new] = outbox_after[len(outbox_before) :]
    assert (new.event, new.seq) == (EVENT_OF[(state, action)][0], outbox_before[-1].seq + 1)


@pytest.mark.parametrize("state", STATES)
async def test_the_lender_revokes_in_every_state(stack: Stack, state: str) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        consent_id, _, _ = await consent_in_state(stack, lender, state)
        before = await stack.audit_types(consent_id)
        kind, outcome = expectation(state, "revoke")
        if kind == "refused":
            with pytest.raises(LendgateAPIError) as refused:
                await lender.revoke(consent_id)
            assert refused.value.code == outcome
            assert await stack.audit_types(consent_id) == before
            return
        decision = await lender.revoke(consent_id)
    assert decision["status"] == "REVOKED"
    assert decision["changed"] is (kind == "moves")
    if kind == "moves":
        revoked = (await stack.audit_leaves(consent_id))[len(before)]
        assert (revoked["type"], revoked["actor"]) == (
            "consent.revoked",
            f"lender:{registered.client_id}",
        )
        # The borrower is handed a withdrawal receipt either way.
        assert decision["receipt"]["event"] == {
            "type": "withdrawn",
            "by": "lender",
            "at": decision["receipt"]["timestamps"]["withdrawn_at"],
        }
    else:
        assert await stack.audit_types(consent_id) == before


async def test_a_repeated_approval_answers_the_artefact_and_receipt_again(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        person = stack.person()
        consent = await lender.request_consent(stack.consent_body(person))
        auth = await stack.borrower_login(person.phone)
        first = (await stack.approve(consent["consent_id"], person.phone, auth)).json()
        # A double tap: the second request carries a code already spent, and needs none.
        again = await stack.http.post(
            f"/v1/borrower/consents/{consent['consent_id']}/approve",
            json={"code": "000000"},
            headers=auth,
        )
    assert again.status_code == 200, again.text
    assert again.json()["changed"] is False
    assert again.json()["artefact"] == first["artefact"]
    assert again.json()["receipt_jws"] == first["receipt_jws"]
    types = await stack.audit_types(consent["consent_id"])
    assert types.count("consent.approved") == 1


# -- expiry ---------------------------------------------------------------------------------


async def expired_leaves(stack: Stack, consent_id: str) -> list[dict[str, Any]]:
    return [
        leaf for leaf in await stack.audit_leaves(consent_id) if leaf["type"] == "consent.expired"
    ]


async def test_an_expiry_found_by_concurrent_reads_is_recorded_once(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, auth = await stack.active_consent(lender)
        ended = datetime.now(UTC) - timedelta(minutes=1)
        await set_consent(stack, consent_id, valid_until=ended)
        assert (await stored(stack, consent_id)).status == "ACTIVE"
        reads: list[Awaitable[Any]] = [
            *(
                stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)
                for _ in range(3)
            ),
            *(lender.get_consent(consent_id) for _ in range(3)),
            stack.http.get("/v1/borrower/consents", headers=auth),
        ]
        answers = await asyncio.gather(*reads)
    for answer in answers:
        body = answer.json() if isinstance(answer, httpx.Response) else answer
        statuses = [c["status"] for c in body.get("consents", [body])]
        assert "EXPIRED" in statuses
    row = await stored(stack, consent_id)
    assert (row.status, row.ended_at) == ("EXPIRED", ended)
    [leaf] = await expired_leaves(stack, consent_id)
    assert (leaf["actor"], leaf["reason"]) == ("gateway", "the validity window ended")
    assert [n.event for n in await notifications_of(stack, consent_id)][-1] == "consent.expired"
    assert [n.event for n in await notifications_of(stack, consent_id)].count(
        "consent.expired"
    ) == 1


async def test_a_refused_release_still_records_the_expiry_it_found(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        await set_consent(stack, consent_id, valid_until=datetime.now(UTC) - timedelta(seconds=1))
        with pytest.raises(LendgateAPIError) as refused:
            await lender.release(consent_id)
        again = await lender.get_consent(consent_id)
    assert (refused.value.status, refused.value.code) == (403, "ConsentExpired")
    assert again["status"] == "EXPIRED"
    types = await stack.audit_types(consent_id)
    # The expiry committed on its own although the release was rolled back; then the denial.
    assert types[-2:] == ["consent.expired", "release.denied"]
    assert len(await expired_leaves(stack, consent_id)) == 1
    assert await stack.release_count(consent_id) == 0


async def test_a_release_at_valid_until_is_refused_and_one_just_before_is_granted(
    stack: Stack, clock: ManualClock
) -> None:
    # Close enough to the real clock for the lender to accept the release's `iat`.
    end = datetime.now(UTC) + timedelta(seconds=10)
    async with stack.lender_client(await stack.register()) as lender:
        just_before, _, _ = await stack.active_consent(lender, valid_until=end.isoformat())
        at_the_end, _, _ = await stack.active_consent(lender, valid_until=end.isoformat())
        clock.at = end - timedelta(microseconds=1)
        granted = await lender.release(just_before)
        clock.at = end
        with pytest.raises(LendgateAPIError) as refused:
            await lender.release(at_the_end)
    assert granted.consent_id == just_before
    assert refused.value.code == "ConsentExpired"
    assert await stack.release_count(at_the_end) == 0


async def test_a_pending_request_expires_after_the_configured_wait(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack.context.settings, "pending_consent_ttl_hours", 0.0005)  # 1.8 s
    person = stack.person()
    async with stack.lender_client(await stack.register()) as lender:
        consent = await lender.request_consent(stack.consent_body(person))
        consent_id = consent["consent_id"]
        created = datetime.fromisoformat(consent["created_at"])
        lapse = datetime.fromisoformat(consent["request_expires_at"])
        assert timedelta(seconds=1.7) < lapse - created < timedelta(seconds=1.9)
        auth = await stack.borrower_login(person.phone)
        assert (await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()[
            "status"
        ] == "PENDING"
        await set_consent(stack, consent_id, request_expires_at=datetime.now(UTC))
        late = await stack.approve(consent_id, person.phone, auth)
        assert (late.status_code, late.json()["error"]) == (403, "ConsentExpired")
        assert (await lender.get_consent(consent_id))["status"] == "EXPIRED"
    assert await stack.audit_types(consent_id) == ["consent.requested", "consent.expired"]
    [leaf] = await expired_leaves(stack, consent_id)
    assert leaf["reason"] == "the request was not answered in time"


async def test_a_request_never_waits_beyond_its_window(stack: Stack) -> None:
    soon = datetime.now(UTC) + timedelta(hours=2)
    async with stack.lender_client(await stack.register()) as lender:
        consent = await lender.request_consent(
            stack.consent_body(stack.person(), valid_until=soon.isoformat())
        )
    assert datetime.fromisoformat(consent["request_expires_at"]) == soon


async def test_the_schedule_records_expiries_nobody_looked_at(stack: Stack) -> None:
    from consent import expiry

    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
    await set_consent(stack, consent_id, valid_until=datetime.now(UTC) - timedelta(seconds=1))
    recorded = await expiry.expire_due(stack.context, limit=10_000)
    assert consent_id in recorded
    assert consent_id not in await expiry.expire_due(stack.context, limit=10_000)
    assert len(await expired_leaves(stack, consent_id)) == 1


# -- terms --------------------------------------------------------------------------------------


async def test_a_consent_may_start_in_the_future(stack: Stack) -> None:
    start = datetime.now(UTC) + timedelta(days=3)
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, auth = await stack.active_consent(
            lender,
            valid_from=start.isoformat(),
            valid_until=(start + timedelta(days=7)).isoformat(),
        )
        with pytest.raises(LendgateAPIError) as early:
            await lender.release(consent_id)
    assert (early.value.status, early.value.code) == (403, "ConsentNotYetValid")
    view = (await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
    assert view["status"] == "ACTIVE"
    assert datetime.fromisoformat(view["terms"]["valid_from"]) == start


async def test_a_periodic_budget_counts_calendar_months_in_beijing(
    stack: Stack, clock: ManualClock
) -> None:
    now = datetime.now(UTC)
    month_start = interval_start(now, "MONTH")  # 00:00 on the 1st, Beijing time
    earlier = month_start - timedelta(days=20)
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(
            lender,
            purpose="post_loan_monitoring",
            features=["si_active", "hf_status"],
            fetch_type="PERIODIC",
            frequency={"unit": "MONTH", "value": 1},
            valid_from=(earlier - timedelta(days=1)).isoformat(),
            valid_until=(now + timedelta(days=30)).isoformat(),
        )
        clock.at = earlier
        await lender.release(consent_id)
        # One second before midnight in Beijing is still last month: the budget is spent.
        clock.at = month_start - timedelta(seconds=1)
        with pytest.raises(LendgateAPIError) as spent:
            await lender.release(consent_id)
        clock.at = month_start
        await lender.release(consent_id)
        with pytest.raises(LendgateAPIError) as spent_again:
            await lender.release(consent_id)
        use_count = (await lender.get_consent(consent_id))["use_count"]
    assert spent.value.code == spent_again.value.code == "FrequencyExceeded"
    assert await stack.release_count(consent_id) == use_count == 2


FUNDER_CODE = "91110000100000000R"
"""A fictional unified social credit code whose GB 32100 check character is right."""


async def test_on_behalf_of_is_shown_to_the_borrower_and_named_in_receipts(stack: Stack) -> None:
    funder = "某某消费金融有限公司"
    institution = {"name": funder, "credit_code": FUNDER_CODE}
    async with stack.lender_client(await stack.register(name="某助贷平台")) as lender:
        consent_id, _, auth = await stack.active_consent(lender, on_behalf_of=institution)
        release = await lender.release(consent_id)
        terms = (await lender.get_consent(consent_id))["terms"]
    assert terms["on_behalf_of"] == institution
    view = (await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
    assert view["on_behalf_of"] == funder
    assert funder in view["notice"]["summary"]["zh"] and funder in view["notice"]["summary"]["en"]
    receipt = await stack.http.get(f"/v1/borrower/consents/{consent_id}/receipt", headers=auth)
    controllers = receipt.json()["consent_receipt"]["claims"]["controllers"]
    assert [(c["name"], c["role"], c["receives_data"]) for c in controllers] == [
        ("某助贷平台", "controller", True),
        (funder, "funding_institution", False),
    ]
    assert controllers[1]["id"] == FUNDER_CODE
    # Features go to the requesting client only.
    assert release.payload["aud"] == lender.client_id


@pytest.mark.parametrize(
    ("on_behalf_of", "problem"),
    [
        ("某某消费金融有限公司", "a bare name"),
        ({"name": "某某消费金融有限公司"}, "no credit code"),
        ({"name": "某某消费金融有限公司", "credit_code": "91110000100000000A"}, "bad check"),
        ({"name": "某某消费金融有限公司", "credit_code": "9111000010000000"}, "too short"),
        ({"name": "资金方 11010519491231002X", "credit_code": FUNDER_CODE}, "resident id"),
        ({"name": "联系13800138000", "credit_code": FUNDER_CODE}, "mobile number"),
        ({"name": "资金方 91110000100000000R", "credit_code": FUNDER_CODE}, "code in name"),
        ({"name": "资金方<script>", "credit_code": FUNDER_CODE}, "markup"),
        ({"name": "某某消费金融", "credit_code": FUNDER_CODE, "phone": "x"}, "extra field"),
    ],
)
async def test_on_behalf_of_must_name_an_institution_and_no_person(
    stack: Stack, on_behalf_of: Any, problem: str
) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        with pytest.raises(LendgateAPIError) as refused:
            await lender.request_consent(
                stack.consent_body(stack.person(), on_behalf_of=on_behalf_of)
            )
    assert (refused.value.status, refused.value.code) == (422, "InvalidRequest"), problem
    for personal in ("11010519491231002X", "13800138000"):
        assert personal not in refused.value.detail
    async with stack.context.sessionmaker() as session:
        query = select(func.count()).select_from(Consent)
        assert await session.scalar(query.where(Consent.lender_id == registered.client_id)) == 0


async def test_a_request_whose_window_has_passed_is_refused(stack: Stack) -> None:
    registered = await stack.register()
    past = datetime.now(UTC) - timedelta(hours=1)
    async with stack.lender_client(registered) as lender:
        with pytest.raises(LendgateAPIError) as refused:
            await lender.request_consent(
                stack.consent_body(
                    stack.person(),
                    valid_from=(past - timedelta(days=1)).isoformat(),
                    valid_until=past.isoformat(),
                )
            )
    assert (refused.value.status, refused.value.code) == (422, "InvalidRequest")
    async with stack.context.sessionmaker() as session:
        query = select(func.count()).where(Consent.lender_id == registered.client_id)
        assert await session.scalar(query) == 0


async def test_a_one_time_request_needs_no_frequency(stack: Stack) -> None:
    body = stack.consent_body(stack.person())
    del body["frequency"]
    async with stack.lender_client(await stack.register()) as lender:
        requested = await lender.request_consent(body)
        auth = await stack.borrower_login(body["borrower"]["phone"])
        approved = await stack.approve(requested["consent_id"], body["borrower"]["phone"], auth)
        assert approved.status_code == 200, approved.text
        release = await lender.release(requested["consent_id"])
        with pytest.raises(LendgateAPIError) as again:
            await lender.release(requested["consent_id"])
    assert requested["terms"]["fetch_type"] == "ONETIME"
    assert requested["terms"]["frequency"] == {"unit": "YEAR", "value": 1}
    assert set(release.features) == set(body["features"])
    assert again.value.code == "FrequencyExceeded"


async def test_a_periodic_request_without_frequency_is_refused_saying_what_to_send(
    stack: Stack,
) -> None:
    registered = await stack.register()
    body = stack.consent_body(
        stack.person(),
        purpose="post_loan_monitoring",
        features=["si_active", "hf_status"],
        fetch_type="PERIODIC",
    )
    del body["frequency"]
    async with stack.lender_client(registered) as lender:
        with pytest.raises(LendgateAPIError) as refused:
            await lender.request_consent(body)
    assert (refused.value.status, refused.value.code) == (422, "InvalidRequest")
    assert "a PERIODIC consent needs `frequency`" in refused.value.detail
    assert '{"unit": "MONTH", "value": 1}' in refused.value.detail
    async with stack.context.sessionmaker() as session:
        query = select(func.count()).where(Consent.lender_id == registered.client_id)
        assert await session.scalar(query) == 0


# -- every release refusal ----------------------------------------------------------------------

Setup = Callable[[Stack, LendgateClient, pytest.MonkeyPatch], Awaitable[tuple[str, Any]]]


async def _in_state(stack: Stack, lender: LendgateClient, state: str) -> str:
    consent_id, _, _ = await consent_in_state(stack, lender, state)
    return consent_id


async def _foreign(stack: Stack, lender: LendgateClient, _monkeypatch: pytest.MonkeyPatch) -> Any:
    async with stack.lender_client(await stack.register(name="另一家机构")) as other:
        consent_id, _, _ = await stack.active_consent(other)
    return consent_id, lender.release(consent_id)


def _state(state: str) -> Setup:
    async def setup(stack: Stack, lender: LendgateClient, _monkeypatch: pytest.MonkeyPatch) -> Any:
        consent_id = await _in_state(stack, lender, state)
        return consent_id, lender.release(consent_id)

    return setup


async def _not_yet_valid(
    stack: Stack, lender: LendgateClient, _monkeypatch: pytest.MonkeyPatch
) -> Any:
    start = datetime.now(UTC) + timedelta(days=1)
    consent_id, _, _ = await stack.active_consent(
        lender,
        valid_from=start.isoformat(),
        valid_until=(start + timedelta(days=2)).isoformat(),
    )
    return consent_id, lender.release(consent_id)


async def _spent(stack: Stack, lender: LendgateClient, _monkeypatch: pytest.MonkeyPatch) -> Any:
    consent_id, _, _ = await stack.active_consent(lender)
    await lender.release(consent_id)
    return consent_id, lender.release(consent_id)


async def _outside_purpose(
    stack: Stack, lender: LendgateClient, _monkeypatch: pytest.MonkeyPatch
) -> Any:
    consent_id, _, _ = await stack.active_consent(lender)
    return consent_id, lender.release(consent_id, features=["no_such_feature"])


async def _outside_consent(
    stack: Stack, lender: LendgateClient, _monkeypatch: pytest.MonkeyPatch
) -> Any:
    consent_id, _, _ = await stack.active_consent(lender, features=["si_active"])
    return consent_id, lender.release(consent_id, features=["hf_status"])


async def _no_features(
    stack: Stack, lender: LendgateClient, _monkeypatch: pytest.MonkeyPatch
) -> Any:
    consent_id, _, _ = await stack.active_consent(lender)
    return consent_id, lender.release(consent_id, features=[])


async def _egress(stack: Stack, lender: LendgateClient, monkeypatch: pytest.MonkeyPatch) -> Any:
    consent_id, person, _ = await stack.active_consent(lender)
    monkeypatch.setattr(
        releases_service,
        "derive_features",
        lambda *_: {"si_active": True, "hf_status": f"备注 身份证{person.id_number}"},
    )
    return consent_id, lender.release(consent_id)


async def _source(stack: Stack, lender: LendgateClient, monkeypatch: pytest.MonkeyPatch) -> Any:
    from gateway.core.errors import SourceUnavailable

    async def failing_fetch(*_: Any, **__: Any) -> Any:
        raise SourceUnavailable("Source credit_bureau did not answer in time.")

    consent_id, _, _ = await stack.active_consent(lender)
    monkeypatch.setattr(releases_service, "fetch_all", failing_fetch)
    return consent_id, lender.release(consent_id)


async def _audit(stack: Stack, lender: LendgateClient, monkeypatch: pytest.MonkeyPatch) -> Any:
    from sqlalchemy.exc import OperationalError

    async def broken_reserve(session: Any, count: int = 1) -> Any:
        raise OperationalError("INSERT", {}, Exception("disk full"))

    consent_id, _, _ = await stack.active_consent(lender)
    monkeypatch.setattr(audit_repository, "reserve_seq", broken_reserve)
    return consent_id, lender.release(consent_id)


async def _no_token(stack: Stack, lender: LendgateClient, _monkeypatch: pytest.MonkeyPatch) -> Any:
    consent_id, _, _ = await stack.active_consent(lender)

    async def call() -> None:
        answer = await stack.http.post(f"/v1/consents/{consent_id}/releases", json={})
        raise LendgateAPIError(answer.status_code, answer.json()["error"], answer.json()["detail"])

    return consent_id, call()


async def _narrow_scope(
    stack: Stack, lender: LendgateClient, _monkeypatch: pytest.MonkeyPatch
) -> Any:
    consent_id, _, _ = await stack.active_consent(lender)
    narrowed = LendgateClient(
        "http://testserver",
        lender.client_id,
        lender._private_jwks,
        transport=httpx.ASGITransport(app=stack.app),
        scope="consents:write",
    )

    async def call() -> Any:
        async with narrowed:
            return await narrowed.release(consent_id)

    return consent_id, call()


async def _malformed(stack: Stack, lender: LendgateClient, _monkeypatch: pytest.MonkeyPatch) -> Any:
    consent_id, _, _ = await stack.active_consent(lender)

    async def call() -> None:
        token = await lender.access_token()
        answer = await stack.http.post(
            f"/v1/consents/{consent_id}/releases",
            json={"features": "si_active", "extra": 1},
            headers={"Authorization": f"Bearer {token}"},
        )
        raise LendgateAPIError(answer.status_code, answer.json()["error"], answer.json()["detail"])

    return consent_id, call()


# code, status, setup, whether the pipeline ran far enough to put `release.denied` on record,
# and the releases the consent holds afterwards.
REFUSALS: list[tuple[str, int, Setup, bool, int]] = [
    ("ConsentNotFound", 404, _foreign, True, 0),
    ("ConsentPending", 403, _state("PENDING"), True, 0),
    ("ConsentRejected", 403, _state("REJECTED"), True, 0),
    ("ConsentPaused", 403, _state("PAUSED"), True, 0),
    ("ConsentRevoked", 403, _state("REVOKED"), True, 0),
    ("ConsentExpired", 403, _state("EXPIRED"), True, 0),
    ("ConsentNotYetValid", 403, _not_yet_valid, True, 0),
    ("FrequencyExceeded", 429, _spent, True, 1),
    ("PurposeViolation", 422, _outside_purpose, True, 0),
    ("PolicyViolation", 422, _outside_consent, True, 0),
    ("InvalidRequest", 422, _no_features, True, 0),
    ("EgressBlocked", 502, _egress, True, 0),
    ("SourceUnavailable", 503, _source, True, 0),
    ("AuditUnavailable", 503, _audit, False, 0),
    ("InvalidToken", 401, _no_token, False, 0),
    ("InsufficientScope", 403, _narrow_scope, False, 0),
    ("InvalidRequest", 422, _malformed, False, 0),
]


@pytest.mark.parametrize(
    ("code", "status", "setup", "on_record", "releases"),
    REFUSALS,
    ids=[f"{row[0]}-{row[2].__name__.strip('_')}" for row in REFUSALS],
)
async def test_every_release_refusal_code(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    code: str,
    status: int,
    setup: Setup,
    on_record: bool,
    releases: int,
) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        consent_id, call = await setup(stack, lender, monkeypatch)
        count_before = (await stored(stack, consent_id)).release_count
        with pytest.raises(LendgateAPIError) as refused:
            await call
        monkeypatch.undo()
    assert (refused.value.status, refused.value.code) == (status, code)
    assert await stack.release_count(consent_id) == releases
    assert (await stored(stack, consent_id)).release_count == count_before == releases
    async with stack.context.sessionmaker() as session:
        mine = select(func.count()).where(Release.lender_id == registered.client_id)
        assert await session.scalar(mine) == releases
    denials = [
        leaf
        for leaf in await stack.audit_leaves()
        if leaf["type"] == "release.denied" and leaf["lender_id"] == registered.client_id
    ]
    if on_record:
        assert denials and denials[-1]["reason"] == code
        assert denials[-1]["outcome"] == "denied"
    else:
        assert denials == []
