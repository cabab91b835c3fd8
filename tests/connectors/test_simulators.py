"""The source simulators over HTTP: protocol, projection, month ranges and the sandbox profiles."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import httpx
import pytest

from connectors.people.sandbox import SANDBOX_ID_NUMBERS
from connectors.protocol import auth_headers
from connectors.registry import load_sources
from connectors.simulators.app import create_simulator_app
from connectors.simulators.population import Population
from connectors.simulators.server import SimulatorServer, build_simulator_servers
from gateway.core.settings import Settings

TODAY = date(2026, 11, 23)
AS_OF = "2026-10"
LAST_24 = ("2024-11", AS_OF)
KEYS = {
    "social_insurance": "test-si-key",
    "housing_fund": "test-hf-key",
    "credit_bureau": "test-cb-key",
    "utility": "test-ut-key",
}
ZHANG_SAN = "11010519491231002X"
LI_SI = "440304199001010011"
WANG_WU = "310101198506150024"
ZHAO_LIU = "510107199203080030"
NOBODY = "999999999999999999"


@pytest.fixture(scope="module")
def population() -> Population:
    """A seeded population on a fixed day."""
    return Population.generate(99, 300, today=TODAY)


@pytest.fixture(scope="module")
async def simulators(population: Population) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """An HTTP client for each simulator, in process."""
    clients = {
        source: httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=create_simulator_app(source, credential=key, population=population)
            ),
            base_url=f"http://{source}.test",
        )
        for source, key in KEYS.items()
    }
    yield clients
    for client in clients.values():
        await client.aclose()


@pytest.fixture(scope="module")
def insured_person(population: Population) -> str:
    """A generated person insured since before 2020."""
    for person in population:
        record = population.record("social_insurance", person.id_number)
        generated = person.id_number not in SANDBOX_ID_NUMBERS
        if generated and record and record["first_insured_month"] < "2020-01":
            return person.id_number
    raise AssertionError("population has nobody insured since before 2020")


async def post(
    simulators: dict[str, httpx.AsyncClient], source: str, content: bytes
) -> httpx.Response:
    """A query carrying the source's credential the way it wants it (API key or signature)."""
    headers = auth_headers(
        load_sources()[source].auth_scheme, KEYS[source], "POST", "/v1/query", content
    )
    return await simulators[source].post(
        "/v1/query", content=content, headers={**headers, "Content-Type": "application/json"}
    )


async def ask(
    simulators: dict[str, httpx.AsyncClient],
    source: str,
    id_number: str,
    fields: list[str],
    months: tuple[str, str] = LAST_24,
) -> httpx.Response:
    body = {
        "id_number": id_number,
        "fields": fields,
        "from_month": months[0],
        "to_month": months[1],
    }
    return await post(simulators, source, json.dumps(body).encode())


async def record_of(
    simulators: dict[str, httpx.AsyncClient],
    source: str,
    id_number: str,
    fields: list[str],
    months: tuple[str, str] = LAST_24,
) -> dict[str, Any]:
    response = await ask(simulators, source, id_number, fields, months)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["found"] is True
    record: dict[str, Any] = answer["record"]
    return record


async def test_health(simulators: dict[str, httpx.AsyncClient]) -> None:
    for client in simulators.values():
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


async def test_answer_holds_only_the_requested_fields(
    simulators: dict[str, httpx.AsyncClient], insured_person: str
) -> None:
    response = await ask(simulators, "social_insurance", insured_person, ["insured_status"])

    assert response.status_code == 200
    answer = response.json()
    assert answer["source"] == "social_insurance"
    assert answer["as_of"] == AS_OF
    assert answer["found"] is True
    assert list(answer["record"]) == ["insured_status"]
    assert answer["record"]["insured_status"] in {"NORMAL", "SUSPENDED", "TERMINATED"}


async def test_nested_projection_keeps_one_key_and_the_month(
    simulators: dict[str, httpx.AsyncClient], insured_person: str
) -> None:
    record = await record_of(
        simulators, "social_insurance", insured_person, ["contribution_records.paid"]
    )

    assert list(record) == ["contribution_records"]
    assert len(record["contribution_records"]) == 24
    for item in record["contribution_records"]:
        assert set(item) == {"month", "paid"}


async def test_nested_projection_of_accounts_and_dated_lists(
    simulators: dict[str, httpx.AsyncClient],
) -> None:
    record = await record_of(
        simulators,
        "credit_bureau",
        ZHAO_LIU,
        ["card_accounts.credit_limit", "card_accounts.used_amount", "inquiries.reason"],
    )

    assert set(record) == {"card_accounts", "inquiries"}
    assert all(set(card) == {"credit_limit", "used_amount"} for card in record["card_accounts"])
    assert all(set(inquiry) == {"date", "reason"} for inquiry in record["inquiries"])


async def test_whole_field_wins_over_a_key_of_it(
    simulators: dict[str, httpx.AsyncClient],
) -> None:
    record = await record_of(
        simulators, "housing_fund", ZHANG_SAN, ["deposit_records.paid", "deposit_records"]
    )

    keys = {"month", "amount", "paid", "personal_amount", "unit_amount"}
    assert all(set(item) == keys for item in record["deposit_records"])


async def test_lists_are_cut_to_the_month_range(
    simulators: dict[str, httpx.AsyncClient], insured_person: str
) -> None:
    months = ("2025-01", "2025-06")
    insured = await record_of(
        simulators, "social_insurance", insured_person, ["contribution_records"], months
    )
    credit = await record_of(
        simulators, "credit_bureau", LI_SI, ["card_accounts", "inquiries"], ("2026-03", AS_OF)
    )

    assert [item["month"] for item in insured["contribution_records"]] == [
        f"2025-0{month}" for month in range(1, 7)
    ]
    for card in credit["card_accounts"]:
        assert [entry["month"] for entry in card["repayment_history"]] == [
            f"2026-{month:02d}" for month in range(3, 11)
        ]
    assert credit["inquiries"]
    assert all("2026-03" <= inquiry["date"][:7] <= AS_OF for inquiry in credit["inquiries"])


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ("social_insurance", "salary"),
        ("social_insurance", "deposit_base"),  # another source's field
        ("credit_bureau", "card_accounts.card_number"),
        ("housing_fund", "deposit_records.month.year"),
    ],
)
async def test_unknown_field_is_refused(
    simulators: dict[str, httpx.AsyncClient], source: str, field: str
) -> None:
    response = await ask(simulators, source, ZHANG_SAN, ["name", field])

    assert response.status_code == 400
    assert response.json() == {"error": "UnknownField", "detail": f"unknown field: {field}"}


@pytest.mark.parametrize(
    "headers", [{}, {"X-Api-Key": "wrong"}, {"X-Api-Key": KEYS["housing_fund"]}]
)
async def test_wrong_or_missing_key_is_refused(
    simulators: dict[str, httpx.AsyncClient], headers: dict[str, str]
) -> None:
    response = await simulators["social_insurance"].post(
        "/v1/query",
        headers=headers,
        json={"id_number": ZHANG_SAN, "fields": ["name"], "from_month": AS_OF, "to_month": AS_OF},
    )

    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    assert "张三" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"id_number": "999999999999999999", "fields": ["name"], "from_month": "2026-01"}',
        b'{"id_number": 1, "fields": ["name"], "from_month": "2026-01", "to_month": "2026-02"}',
        b'{"id_number": "x", "fields": "name", "from_month": "2026-01", "to_month": "2026-02"}',
        b'{"id_number": "x", "fields": ["name"], "from_month": "2026-13", "to_month": "2026-02"}',
        b'{"id_number": "x", "fields": ["name"], "from_month": "2026-1", "to_month": "2026-02"}',
        b'{"id_number": "x", "fields": ["name"], "from_month": "2026-03", "to_month": "2026-02"}',
        b'{"id_number": "x", "fields": [], "from_month": "2026-01", "to_month": "2026-02", "y": 1}',
    ],
)
async def test_malformed_body_is_refused(
    simulators: dict[str, httpx.AsyncClient], body: bytes
) -> None:
    response = await post(simulators, "credit_bureau", body)

    assert response.status_code == 400
    assert response.json()["error"] == "BadRequest"
    assert "999999999999999999" not in response.text


async def test_unknown_person_is_not_found(simulators: dict[str, httpx.AsyncClient]) -> None:
    for source in KEYS:
        response = await ask(simulators, source, NOBODY, ["name"])
        assert response.status_code == 200
        assert response.json() == {"source": source, "as_of": AS_OF, "found": False, "record": {}}


# -- the sandbox identities ----------------------------------------------------------------------


def overdue_cards(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        card
        for card in record["card_accounts"]
        if any(entry["overdue_months"] > 0 for entry in card["repayment_history"])
    ]


async def test_zhang_san_contributes_for_years_with_clean_credit(
    simulators: dict[str, httpx.AsyncClient],
) -> None:
    insured = await record_of(
        simulators,
        "social_insurance",
        ZHANG_SAN,
        ["insured_status", "first_insured_month", "contribution_records.paid"],
    )
    fund = await record_of(simulators, "housing_fund", ZHANG_SAN, ["account_status"])
    credit = await record_of(
        simulators,
        "credit_bureau",
        ZHANG_SAN,
        ["name", "phone", "loan_accounts", "card_accounts", "inquiries"],
    )

    assert insured["insured_status"] == "NORMAL"
    assert insured["first_insured_month"] <= "2016-10"
    assert all(item["paid"] for item in insured["contribution_records"])
    assert fund == {"account_status": "NORMAL"}
    assert (credit["name"], credit["phone"]) == ("张三", "13800138000")
    accounts = credit["loan_accounts"] + credit["card_accounts"]
    assert all(account["five_class"] == "NORMAL" for account in accounts)
    assert all(
        entry["overdue_months"] == 0
        for account in accounts
        for entry in account["repayment_history"]
    )
    assert len(credit["inquiries"]) <= 2


async def test_li_si_has_a_sealed_fund_a_gap_and_two_overdue_cards(
    simulators: dict[str, httpx.AsyncClient],
) -> None:
    insured = await record_of(simulators, "social_insurance", LI_SI, ["contribution_records.paid"])
    fund = await record_of(
        simulators, "housing_fund", LI_SI, ["account_status", "deposit_records.paid"]
    )
    credit = await record_of(simulators, "credit_bureau", LI_SI, ["card_accounts"])

    unpaid = [item["month"] for item in insured["contribution_records"] if not item["paid"]]
    assert unpaid and all(month.startswith(f"{TODAY.year - 1}-") for month in unpaid)
    assert fund["account_status"] == "SEALED"
    assert not any(item["paid"] for item in fund["deposit_records"] if item["month"] in unpaid)
    assert len(overdue_cards(credit)) == 2


async def test_wang_wu_has_no_fund_a_thin_file_and_many_recent_inquiries(
    simulators: dict[str, httpx.AsyncClient],
) -> None:
    fund = await ask(simulators, "housing_fund", WANG_WU, ["account_status"])
    credit = await record_of(
        simulators, "credit_bureau", WANG_WU, ["loan_accounts", "card_accounts", "inquiries"]
    )
    insured = await record_of(simulators, "social_insurance", WANG_WU, ["insured_status"])

    assert fund.json() == {"source": "housing_fund", "as_of": AS_OF, "found": False, "record": {}}
    assert credit["loan_accounts"] == [] and len(credit["card_accounts"]) <= 1
    hard = [
        inquiry
        for inquiry in credit["inquiries"]
        if inquiry["reason"] in {"LOAN_APPROVAL", "CARD_APPROVAL"}
        and inquiry["date"][:7] >= "2026-08"
    ]
    assert len(hard) >= 3
    assert insured["insured_status"] == "NORMAL"


async def test_zhao_liu_repays_a_fund_loan_with_cards_nearly_maxed(
    simulators: dict[str, httpx.AsyncClient],
) -> None:
    fund = await record_of(
        simulators, "housing_fund", ZHAO_LIU, ["loan_status", "loan_outstanding"]
    )
    credit = await record_of(
        simulators,
        "credit_bureau",
        ZHAO_LIU,
        ["card_accounts.credit_limit", "card_accounts.used_amount"],
    )
    insured = await record_of(simulators, "social_insurance", ZHAO_LIU, ["insured_status"])

    assert fund["loan_status"] == "REPAYING" and fund["loan_outstanding"] > 0
    used = sum(card["used_amount"] for card in credit["card_accounts"])
    limit = sum(card["credit_limit"] for card in credit["card_accounts"])
    assert used / limit > 0.8
    assert insured["insured_status"] == "NORMAL"


def test_servers_listen_on_loopback_at_the_configured_ports(population: Population) -> None:
    ports = {"social_insurance": 19101, "housing_fund": 19102, "credit_bureau": 19103}
    settings = Settings(environment="test", simulator_ports=ports)

    servers = build_simulator_servers(settings, population)

    assert [(source, url) for source, url, _ in servers] == [
        (source, f"http://127.0.0.1:{port}") for source, port in ports.items()
    ]
    for source, _, server in servers:
        assert isinstance(server, SimulatorServer)
        assert (server.config.host, server.config.port) == ("127.0.0.1", ports[source])
        assert server.config.log_level == "warning" and not server.config.access_log


# -- credentials ---------------------------------------------------------------------------------


def signed(content: bytes, **changes: str) -> dict[str, str]:
    headers = auth_headers("signed", KEYS["credit_bureau"], "POST", "/v1/query", content)
    return {**headers, **changes, "Content-Type": "application/json"}


QUERY = json.dumps(
    {"id_number": ZHANG_SAN, "fields": ["name"], "from_month": AS_OF, "to_month": AS_OF}
).encode()


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        (lambda: {"X-Api-Key": KEYS["credit_bureau"]}, "request is not signed"),
        (lambda: signed(QUERY, **{"X-Signature": "0" * 64}), "wrong signature"),
        (lambda: signed(b"{}"), "wrong signature"),  # signed another body
        (lambda: signed(QUERY, **{"X-Timestamp": str(int(time.time()) - 60)}), "wrong signature"),
        (
            lambda: auth_headers(
                "signed", KEYS["credit_bureau"], "POST", "/v1/query", QUERY, now=1e9
            ),
            "signature timestamp is outside the accepted window",
        ),
        (
            lambda: auth_headers("signed", "another-secret", "POST", "/v1/query", QUERY),
            "wrong signature",
        ),
    ],
)
async def test_the_bureau_wants_a_fresh_signature_with_its_own_secret(
    simulators: dict[str, httpx.AsyncClient],
    headers: Callable[[], dict[str, str]],
    detail: str,
) -> None:
    # Signed when the test runs, not when it is collected: a signature ages.
    response = await simulators["credit_bureau"].post("/v1/query", content=QUERY, headers=headers())

    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized", "detail": detail}


async def test_a_signed_request_is_accepted_once(simulators: dict[str, httpx.AsyncClient]) -> None:
    headers = signed(QUERY)

    first = await simulators["credit_bureau"].post("/v1/query", content=QUERY, headers=headers)
    replayed = await simulators["credit_bureau"].post("/v1/query", content=QUERY, headers=headers)

    assert first.status_code == 200
    assert replayed.status_code == 401
    assert replayed.json()["detail"] == "nonce already used"


async def test_each_source_has_its_own_key(simulators: dict[str, httpx.AsyncClient]) -> None:
    for source in ("social_insurance", "housing_fund", "utility"):
        others = [key for name, key in KEYS.items() if name != source]
        for key in others:
            response = await simulators[source].post(
                "/v1/query", content=QUERY, headers={"X-Api-Key": key}
            )
            assert response.status_code == 401


# -- every field of every schema -----------------------------------------------------------------


@pytest.mark.parametrize("source", list(KEYS))
async def test_every_schema_field_can_be_asked_for_alone(
    simulators: dict[str, httpx.AsyncClient], source: str
) -> None:
    for path in sorted(load_sources()[source].schema):
        record = await record_of(simulators, source, ZHAO_LIU, [path])
        name, _, key = path.partition(".")
        assert list(record) == [name], path
        if key:
            assert all(key in item for item in record[name]), path


# -- the fourth source: utility payments ---------------------------------------------------------


async def test_utility_bills_are_kept_by_month(
    simulators: dict[str, httpx.AsyncClient],
) -> None:
    record = await record_of(
        simulators, "utility", ZHANG_SAN, ["bill_records.paid_on_time"], ("2026-05", AS_OF)
    )

    months = {item["month"] for item in record["bill_records"]}
    assert months == {f"2026-{month:02d}" for month in range(5, 11)}
    assert all(set(item) == {"month", "paid_on_time"} for item in record["bill_records"])
    assert all(item["paid_on_time"] for item in record["bill_records"])


async def test_the_sandbox_people_pay_their_bills_as_their_stories_say(
    simulators: dict[str, httpx.AsyncClient],
) -> None:
    fields = ["arrears_amount", "arrears_months", "bill_records.paid_on_time"]
    zhang_san = await record_of(simulators, "utility", ZHANG_SAN, fields)
    li_si = await record_of(simulators, "utility", LI_SI, fields)
    wang_wu = await record_of(simulators, "utility", WANG_WU, fields)
    zhao_liu = await record_of(simulators, "utility", ZHAO_LIU, fields)

    for on_time in (zhang_san, wang_wu, zhao_liu):
        assert on_time["arrears_amount"] == 0 and on_time["arrears_months"] == 0
        assert all(item["paid_on_time"] for item in on_time["bill_records"])
    # 李四: late while out of work last year, and last month's bills still unpaid.
    late = {item["month"] for item in li_si["bill_records"] if not item["paid_on_time"]}
    assert late == {f"{TODAY.year - 1}-06", f"{TODAY.year - 1}-08", AS_OF}
    assert li_si["arrears_months"] == 1 and li_si["arrears_amount"] > 0
