"""The egress guard inside a real release, with a source that plants personal data.

The 征信 source below answers like the simulator but plants the borrower's
resident ID (or mobile) in the free-text `reason` of an inquiry. The shipped
derivations only count inquiries, so the text never reaches a feature; the
guard is the last line for the day a derivation passes source text through,
which the tests simulate by wrapping `derive_features`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.people.histories import Person
from gateway.core.settings import Settings
from gateway.releases import service as releases_service
from gateway.runtime.context import build_context
from tests.support.stack import (
    FEATURES,
    LogCapture,
    RegisteredClient,
    Stack,
    gateway_stack,
    simulator_transports,
)

CREDIT_BUREAU = "credit_bureau"
# The consents ask for a feature that reads the inquiries, where the text is planted.
WITH_INQUIRIES = [*FEATURES, "cb_hard_inquiries_6m"]


def planting(app: FastAPI, text: Callable[[], str]) -> httpx.MockTransport:
    """The 征信 simulator behind a transport that adds an inquiry whose reason is `text()`."""
    inner = httpx.ASGITransport(app=app)
    # Inside the consented months, which end with the last complete month.
    day = (datetime.now(UTC).replace(day=1) - timedelta(days=20)).date().isoformat()

    async def handle(request: httpx.Request) -> httpx.Response:
        answer = await inner.handle_async_request(request)
        body = json.loads(await answer.aread())
        record = body.get("record")
        if isinstance(record, dict) and isinstance(record.get("inquiries"), list):
            record["inquiries"].append({"date": day, "reason": text()})
        return httpx.Response(answer.status_code, json=body)

    return httpx.MockTransport(handle)


@asynccontextmanager
async def gateway_with_planted_source(
    stack: Stack, text: Callable[[], str], settings: Settings | None = None
) -> AsyncIterator[Stack]:
    """A second gateway over the same database and keys whose 征信 source plants `text()`."""
    transports = simulator_transports(stack.simulators)
    transports[CREDIT_BUREAU] = planting(stack.simulators[CREDIT_BUREAU], text)
    async with gateway_stack(
        settings or stack.context.settings,
        stack.population,
        simulators=stack.simulators,
        transports=transports,
    ) as gateway:
        yield gateway


def leaking_inquiry_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """A defective derivation: the newest inquiry's free text becomes a feature value."""
    derive = releases_service.derive_features

    def leaky(*args: Any) -> dict[str, Any]:
        features = dict(derive(*args))
        records = args[2]
        inquiries = records[CREDIT_BUREAU].fields.get("inquiries") or [{}]
        features["cb_hard_inquiries_6m"] = inquiries[-1].get("reason")
        return features

    monkeypatch.setattr(releases_service, "derive_features", leaky)


async def release_raw(gateway: Stack, lender: RegisteredClient, consent_id: str) -> httpx.Response:
    """POST the release as the lender over plain HTTP, to see exactly what comes back."""
    async with gateway.lender_client(lender) as client:
        token = await client.access_token()
    return await gateway.http.post(
        f"/v1/consents/{consent_id}/releases",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_a_source_planted_resident_id_is_blocked_and_nothing_reaches_the_lender(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, captured_logs: LogCapture
) -> None:
    registered = await stack.register()
    person: Person | None = None
    async with gateway_with_planted_source(
        stack, lambda: f"其他 客户身份证号{person.id_number if person else ''}已核验"
    ) as gateway:
        async with gateway.lender_client(registered) as lender:
            consent_id, person, _ = await gateway.active_consent(lender, features=WITH_INQUIRIES)
        leaking_inquiry_text(monkeypatch)
        answer = await release_raw(gateway, registered, consent_id)

    assert answer.status_code == 502
    body = answer.json()
    assert set(body) == {"error", "detail"} and body["error"] == "EgressBlocked"
    assert "CN_RESIDENT_ID at features.cb_hard_inquiries_6m" in body["detail"]
    assert person.id_number not in answer.text and person.id_number[-4:] not in answer.text
    # Nothing released, nothing spent, nothing kept.
    assert await stack.release_count(consent_id) == 0
    lender_view = await stack.http.get(f"/v1/borrower/consents/{consent_id}")
    assert lender_view.status_code == 401  # (the borrower's view needs their session)
    leaves = await stack.audit_leaves(consent_id)
    blocked = [leaf for leaf in leaves if leaf["type"] == "egress.blocked"]
    assert [(leaf["outcome"], leaf["reason"]) for leaf in blocked] == [
        ("blocked", "personal data in the payload: CN_RESIDENT_ID")
    ]
    assert leaves[-1]["type"] == "release.denied" and leaves[-1]["reason"] == "EgressBlocked"
    assert "source.fetched" in [leaf["type"] for leaf in leaves]
    assert "release.granted" not in [leaf["type"] for leaf in leaves]
    everything = json.dumps(leaves, ensure_ascii=False) + "\n".join(captured_logs.lines())
    assert person.id_number not in everything


async def test_the_shipped_derivations_never_pass_the_planted_text_on(stack: Stack) -> None:
    registered = await stack.register()
    person: Person | None = None
    async with (
        gateway_with_planted_source(
            stack, lambda: f"其他 客户身份证号{person.id_number if person else ''}"
        ) as gateway,
        gateway.lender_client(registered) as lender,
    ):
        consent_id, person, _ = await gateway.active_consent(lender, features=WITH_INQUIRIES)
        release = await lender.release(consent_id)
    assert person.id_number not in json.dumps(release.payload, ensure_ascii=False)
    assert isinstance(release.features["cb_hard_inquiries_6m"], int)


async def test_a_purpose_may_be_allowed_an_entity_type_and_only_that_one(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    purpose = "consumer_installment_underwriting"
    settings = stack.context.settings.model_copy(
        update={"egress_allowed_entities": {purpose: ["CN_MOBILE"]}}
    )
    planted = {"text": ""}
    registered = await stack.register()
    async with gateway_with_planted_source(stack, lambda: planted["text"], settings) as gateway:
        async with gateway.lender_client(registered) as lender:
            first, person, _ = await gateway.active_consent(lender, features=WITH_INQUIRIES)
            second, _, _ = await gateway.active_consent(lender, features=WITH_INQUIRIES)
        leaking_inquiry_text(monkeypatch)
        planted["text"] = f"联系电话 {person.phone}"
        allowed = await release_raw(gateway, registered, first)
        planted["text"] = f"身份证 {person.id_number}"
        blocked = await release_raw(gateway, registered, second)
    assert allowed.status_code == 200, allowed.text
    assert (blocked.status_code, blocked.json()["error"]) == (502, "EgressBlocked")
    assert "CN_RESIDENT_ID" in blocked.json()["detail"]


def test_allowances_must_name_known_purposes_and_entity_types(stack: Stack) -> None:
    settings = stack.context.settings
    with pytest.raises(ValueError, match="unknown purposes: no_such_purpose"):
        build_context(
            settings.model_copy(update={"egress_allowed_entities": {"no_such_purpose": []}})
        )
    with pytest.raises(ValueError, match="unknown entity types: PASSPORT"):
        build_context(
            settings.model_copy(
                update={"egress_allowed_entities": {"post_loan_monitoring": ["PASSPORT"]}}
            )
        )
