"""Minimization proven at the sources: what each release asks, seen from the simulators' side.

The gateway here is `stack`'s own (same settings, keys and database) with its connectors
rebuilt over the same simulator apps, each wrapped in a recording ASGI middleware that keeps
every `POST /v1/query` body exactly as the source receives it. A test can then assert what
crossed the wire, not what the gateway meant to send: per purpose, one requested feature
means one query, to one source, for exactly that feature's fields and the consented months,
and the `source.fetched` event says so.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from faker import Faker
from lendgate_sdk import LendgateAPIError, LendgateClient
from lendgate_sdk.claims import ReleaseClaims
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.base import Month, MonthRange
from connectors.people.histories import Person
from connectors.registry import build_connectors, close_all
from consent.budget import CHINA_STANDARD_TIME
from consent.models import Consent
from gateway.app import create_app
from tests.support.stack import Stack

ZHANG_SAN = "11010519491231002X"
"""The sandbox's 张三: a clean, long credit file (DESIGN.md)."""


@dataclass(frozen=True)
class SourceQuery:
    """One query as a source received it."""

    source: str
    id_number: str
    fields: list[str]
    from_month: str
    to_month: str


class SourceRecorder:
    """Wraps simulator ASGI apps; keeps every query body they receive, then lets it through."""

    def __init__(self) -> None:
        self.queries: list[SourceQuery] = []

    def wrap(self, source: str, app: ASGIApp) -> ASGIApp:
        """`app`, recording each `POST /v1/query` it is sent."""

        async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"] != "/v1/query":
                await app(scope, receive, send)
                return
            messages: list[Message] = []
            body = b""
            while True:
                message = await receive()
                messages.append(message)
                body += message.get("body", b"")
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            asked = json.loads(body)
            self.queries.append(
                SourceQuery(
                    source=source,
                    id_number=asked["id_number"],
                    fields=asked["fields"],
                    from_month=asked["from_month"],
                    to_month=asked["to_month"],
                )
            )
            pending = iter(messages)

            async def replay() -> Message:
                return next(pending, None) or await receive()

            await app(scope, replay, send)

        return recorded


@dataclass
class RecordedStack:
    """A gateway whose sources record what they are asked."""

    stack: Stack
    recorder: SourceRecorder


@pytest.fixture(scope="module")
async def recorded(stack: Stack) -> AsyncIterator[RecordedStack]:
    """`stack`'s gateway (same settings, keys and database) whose sources record every query."""
    recorder = SourceRecorder()
    transports = {
        source: httpx.ASGITransport(app=recorder.wrap(source, app))
        for source, app in stack.simulators.items()
    }
    connectors = build_connectors(stack.context.settings, transports)
    context = dataclasses.replace(stack.context, connectors=connectors)
    app = create_app(context)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            yield RecordedStack(
                Stack(
                    app=app,
                    context=context,
                    http=http,
                    population=stack.population,
                    simulators=stack.simulators,
                ),
                recorder,
            )
    finally:
        # Only the recording connectors are this fixture's; the rest is `stack`'s.
        await close_all(connectors)


def consented_months(data_range_months: int) -> MonthRange:
    """The months a release made now covers: up to the last complete month, Beijing time."""
    last = Month.of(datetime.now(CHINA_STANDARD_TIME).date()).shift(-1)
    return MonthRange.ending(last, data_range_months)


def terms_for(purpose: str, feature: str, data_range_months: int) -> dict[str, Any]:
    """Consent terms inside `purpose`'s ceilings asking for `feature` alone."""
    now = datetime.now(UTC)
    periodic = purpose == "post_loan_monitoring"
    return {
        "purpose": purpose,
        "features": [feature],
        "fetch_type": "PERIODIC" if periodic else "ONETIME",
        "valid_until": (now + timedelta(days=365 if periodic else 5)).isoformat(),
        "data_range_months": data_range_months,
        "data_life_days": 30,
    }


async def fetched_leaves(stack: Stack, consent_id: str) -> list[dict[str, Any]]:
    return [
        leaf for leaf in await stack.audit_leaves(consent_id) if leaf["type"] == "source.fetched"
    ]


ONE_FEATURE_PER_PURPOSE = [
    pytest.param(
        "consumer_installment_underwriting",
        "cb_hard_inquiries_6m",
        24,
        "credit_bureau",
        ["inquiries.reason"],
        id="consumer_installment_underwriting",
    ),
    pytest.param(
        "credit_line_assessment",
        "si_contribution_base_band",
        12,
        "social_insurance",
        ["contribution_records.base", "contribution_records.paid"],
        id="credit_line_assessment",
    ),
    pytest.param(
        "housing_fund_loan",
        "hf_monthly_deposit_band",
        6,
        "housing_fund",
        ["deposit_records.amount", "deposit_records.paid"],
        id="housing_fund_loan",
    ),
    pytest.param(
        "post_loan_monitoring",
        "cb_loan_balance_band",
        36,
        "credit_bureau",
        ["loan_accounts.balance"],
        id="post_loan_monitoring",
    ),
    pytest.param(
        "identity_match",
        "identity_name_match",
        1,
        "credit_bureau",
        ["name"],
        id="identity_match",
    ),
]


@pytest.mark.parametrize(
    ("purpose", "feature", "data_range_months", "source", "fields"), ONE_FEATURE_PER_PURPOSE
)
async def test_one_feature_fetches_exactly_its_fields_from_exactly_one_source(
    recorded: RecordedStack,
    purpose: str,
    feature: str,
    data_range_months: int,
    source: str,
    fields: list[str],
) -> None:
    stack, recorder = recorded.stack, recorded.recorder
    catalog = stack.context.catalog
    assert dict(catalog.features[feature].source_fields) == {source: tuple(fields)}
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, person, _ = await stack.active_consent(
            lender, **terms_for(purpose, feature, data_range_months)
        )
        before = len(recorder.queries)
        release = await lender.release(consent_id)
        asked = recorder.queries[before:]

    months = consented_months(data_range_months)
    # At the source: one query, to this source only, for exactly these fields and months.
    assert asked == [
        SourceQuery(
            source=source,
            id_number=person.id_number,
            fields=sorted(fields),
            from_month=str(months.first),
            to_month=str(months.last),
        )
    ]
    # What the lender got: that feature, from that source, under the catalog in force.
    assert list(release.payload["features"]) == [feature]
    assert set(release.payload["sources"]) == {source}
    assert release.payload["policy_version"] == catalog.version
    # On record: the fetch names exactly the fields asked for, and so does the release.
    qualified = sorted(f"{source}.{name}" for name in fields)
    fetched = await fetched_leaves(stack, consent_id)
    assert len(fetched) == 1
    assert fetched[0]["source_fields"] == qualified
    assert fetched[0]["features"] == [feature]
    assert fetched[0]["policy_version"] == catalog.version
    granted = [
        leaf for leaf in await stack.audit_leaves(consent_id) if leaf["type"] == "release.granted"
    ]
    assert [leaf["source_fields"] for leaf in granted] == [qualified]


async def test_a_narrowed_release_asks_only_the_sources_its_features_need(
    recorded: RecordedStack,
) -> None:
    stack, recorder = recorded.stack, recorded.recorder
    features = ["si_active", "hf_status", "income_proxy_band", "cb_overdue_accounts_24m"]
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender, features=features)
        before = len(recorder.queries)
        release = await lender.release(consent_id, features=["income_proxy_band", "si_active"])
        asked = recorder.queries[before:]
    # Two sources for the two features; the credit bureau is never contacted.
    assert {query.source: query.fields for query in asked} == {
        "social_insurance": [
            "contribution_records.base",
            "contribution_records.paid",
            "insured_status",
        ],
        "housing_fund": ["account_status", "deposit_base"],
    }
    assert len(asked) == 2
    assert set(release.payload["features"]) == {"income_proxy_band", "si_active"}
    fetched = sorted(leaf["source_fields"] for leaf in await fetched_leaves(stack, consent_id))
    assert fetched == [
        ["housing_fund.account_status", "housing_fund.deposit_base"],
        [
            "social_insurance.contribution_records.base",
            "social_insurance.contribution_records.paid",
            "social_insurance.insured_status",
        ],
    ]


# -- identity match: true/false per attribute, never a value ----------------------------

IDENTITY = ["identity_id_number_match", "identity_name_match", "identity_phone_match"]


def borrower(person: Person, **claimed: str) -> dict[str, str]:
    """The consent's borrower identity: `person`'s, with the `claimed` attributes changed."""
    return {"id_number": person.id_number, "phone": person.phone, "name": person.name, **claimed}


async def identity_release(
    stack: Stack, lender: LendgateClient, person: Person, identity: dict[str, str]
) -> tuple[str, ReleaseClaims]:
    """Ask for, approve (as the claimed phone's owner) and release an identity match."""
    body = stack.consent_body(
        person, borrower=identity, **terms_for("identity_match", IDENTITY[0], 1)
    )
    body["features"] = IDENTITY
    consent = await lender.request_consent(body)
    auth = await stack.borrower_login(identity["phone"])
    approved = await stack.approve(consent["consent_id"], identity["phone"], auth)
    assert approved.status_code == 200, approved.text
    release = await lender.release(consent["consent_id"])
    return consent["consent_id"], release.payload


@pytest.mark.parametrize(
    ("claimed", "answers"),
    [
        ({}, [True, True, True]),
        # Another sandbox person's name, then mobile, claimed with 张三's ID number.
        ({"name": "李四"}, [True, False, True]),
        ({"phone": "13900139000"}, [True, True, False]),
    ],
    ids=["all-match", "another-name", "another-phone"],
)
async def test_identity_match_answers_per_attribute_and_reveals_nothing(
    recorded: RecordedStack, claimed: dict[str, str], answers: list[bool]
) -> None:
    stack, recorder = recorded.stack, recorded.recorder
    zhang_san = stack.population.get(ZHANG_SAN)
    assert zhang_san is not None
    identity = borrower(zhang_san, **claimed)
    async with stack.lender_client(await stack.register()) as lender:
        before = len(recorder.queries)
        consent_id, payload = await identity_release(stack, lender, zhang_san, identity)
        asked = recorder.queries[before:]
    assert payload["features"] == dict(zip(IDENTITY, answers, strict=True))
    # One source, asked for the name and mobile on file — compared inside the gateway.
    assert [(query.source, query.fields) for query in asked] == [
        ("credit_bureau", ["name", "phone"])
    ]
    released = json.dumps(payload, ensure_ascii=False)
    for value in (zhang_san.name, zhang_san.phone, zhang_san.id_number, *claimed.values()):
        assert value not in released
    leaves = json.dumps(await stack.audit_leaves(consent_id), ensure_ascii=False)
    for value in (zhang_san.name, zhang_san.phone, zhang_san.id_number, *claimed.values()):
        assert value not in leaves
    fetched = await fetched_leaves(stack, consent_id)
    assert [leaf["source_fields"] for leaf in fetched] == [
        ["credit_bureau.name", "credit_bureau.phone"]
    ]


async def test_an_id_number_on_no_file_matches_nothing(recorded: RecordedStack) -> None:
    stack = recorded.stack
    fake = Faker("zh_CN")
    fake.seed_instance("lendgate-identity-match")
    stranger = Person(
        name=fake.name(),
        id_number=fake.ssn(),
        phone=fake.phone_number(),
        birth_date=datetime(1990, 1, 1).date(),
    )
    assert stranger.id_number not in stack.population
    async with stack.lender_client(await stack.register()) as lender:
        _, payload = await identity_release(stack, lender, stranger, borrower(stranger))
    assert payload["features"] == dict.fromkeys(IDENTITY, False)


async def test_an_id_number_match_asks_the_source_for_no_field(recorded: RecordedStack) -> None:
    stack, recorder = recorded.stack, recorded.recorder
    zhang_san = stack.population.get(ZHANG_SAN)
    assert zhang_san is not None
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(
            lender, zhang_san, **terms_for("identity_match", "identity_id_number_match", 1)
        )
        before = len(recorder.queries)
        release = await lender.release(consent_id)
        asked = recorder.queries[before:]
    assert release.payload["features"] == {"identity_id_number_match": True}
    assert [(query.source, query.fields) for query in asked] == [("credit_bureau", [])]
    fetched = await fetched_leaves(stack, consent_id)
    assert [leaf["source_fields"] for leaf in fetched] == [[]]
    assert "credit_bureau" in fetched[0]["reason"]


# -- terms outside the purpose ----------------------------------------------------------


async def consents_of(stack: Stack, lender_id: str) -> int:
    async with stack.context.sessionmaker() as session:
        query = select(func.count()).select_from(Consent).where(Consent.lender_id == lender_id)
        return int(await session.scalar(query) or 0)


@pytest.mark.parametrize(
    ("purpose", "overrides", "named"),
    [
        ("consumer_installment_underwriting", {"data_range_months": 25}, "`data_range_months` 25"),
        ("consumer_installment_underwriting", {"data_life_days": 31}, "`data_life_days` 31"),
        ("consumer_installment_underwriting", {"validity_days": 31}, "The validity period"),
        (
            "consumer_installment_underwriting",
            {"frequency": {"unit": "DAY", "value": 1}},
            "`frequency` 1 per DAY",
        ),
        ("consumer_installment_underwriting", {"fetch_type": "PERIODIC"}, "`fetch_type` PERIODIC"),
        (
            "consumer_installment_underwriting",
            {"features": ["si_active", "hf_balance_band"]},
            "'hf_balance_band'",
        ),
        (
            "identity_match",
            {"features": ["identity_name_match", "cb_open_loan_count"]},
            "'cb_open_loan_count'",
        ),
        ("identity_match", {"data_range_months": 2}, "`data_range_months` 2"),
        ("identity_match", {"validity_days": 8}, "maximum of purpose 'identity_match', 7 days"),
        ("post_loan_monitoring", {"data_range_months": 37}, "`data_range_months` 37"),
    ],
)
async def test_a_term_outside_the_purpose_is_refused_naming_it(
    recorded: RecordedStack, purpose: str, overrides: dict[str, Any], named: str
) -> None:
    stack, recorder = recorded.stack, recorded.recorder
    registered = await stack.register()
    person = stack.person()
    terms = terms_for(purpose, stack.context.catalog.purpose(purpose).features[0], 1)
    changes = dict(overrides)
    if "validity_days" in changes:
        validity = timedelta(days=changes.pop("validity_days"))
        terms["valid_until"] = (datetime.now(UTC) + validity).isoformat()
    terms.update(changes)
    before = len(recorder.queries)
    async with stack.lender_client(registered) as lender:
        with pytest.raises(LendgateAPIError) as refused:
            await lender.request_consent(stack.consent_body(person, **terms))
    assert (refused.value.status, refused.value.code) == (422, "PurposeViolation")
    assert named in refused.value.detail
    assert f"'{purpose}'" in refused.value.detail
    # Nothing kept, nothing asked, and the refusal on record without the request's values.
    assert await consents_of(stack, registered.client_id) == 0
    assert len(recorder.queries) == before
    denied = [
        leaf
        for leaf in await stack.audit_leaves()
        if leaf["type"] == "consent.request_denied" and leaf["lender_id"] == registered.client_id
    ]
    assert [leaf["reason"] for leaf in denied] == ["PurposeViolation"]
    assert denied[0]["policy_version"] == stack.context.catalog.version
    assert person.id_number not in json.dumps(denied, ensure_ascii=False)
