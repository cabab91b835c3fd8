"""The simulators' population: deterministic, well-formed, and one history per person."""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import date

import pytest

from connectors.base import Month
from connectors.people.sandbox import SANDBOX_ID_NUMBERS
from connectors.registry import load_sources
from connectors.simulators.population import Population
from gateway.core.settings import Settings

TODAY = date(2026, 11, 23)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@pytest.fixture(scope="module")
def population() -> Population:
    """A seeded population on a fixed day, so every run sees the same histories."""
    return Population.generate(20261123, 400, today=TODAY)


def gb11643_valid(id_number: str) -> bool:
    """GB 11643 as the standard states it: weight of position i is 2^(i-1) mod 11."""
    if not re.fullmatch(r"[0-9]{17}[0-9X]", id_number):
        return False
    total = sum(int(digit) * pow(2, 17 - i, 11) for i, digit in enumerate(id_number[:17]))
    return "10X98765432"[total % 11] == id_number[17]


def gb32100_valid(code: str) -> bool:
    """GB 32100: weight of position i is 3^(i-1) mod 31 over the 31-character alphabet."""
    if len(code) != 18 or any(char not in USCC_ALPHABET for char in code):
        return False
    total = sum(USCC_ALPHABET.index(char) * pow(3, i, 31) for i, char in enumerate(code[:17]))
    return USCC_ALPHABET[(31 - total % 31) % 31] == code[17]


def identities(population: Population) -> list[tuple[str, str, str]]:
    return [(person.name, person.id_number, person.phone) for person in population]


def test_same_seed_gives_the_same_people_and_histories() -> None:
    first = Population.generate(7, 60, today=TODAY)
    again = Population.generate(7, 60, today=TODAY)

    assert identities(first) == identities(again)
    for id_number in first.id_numbers():
        for source in ("social_insurance", "housing_fund", "credit_bureau"):
            assert first.record(source, id_number) == again.record(source, id_number)


def test_different_seed_gives_different_people() -> None:
    first = {person.id_number for person in Population.generate(7, 60, today=TODAY)}
    other = {person.id_number for person in Population.generate(8, 60, today=TODAY)}

    assert first & other == set(SANDBOX_ID_NUMBERS)


def test_people_keep_their_identity_as_days_pass() -> None:
    earlier = Population.generate(7, 60, today=TODAY)
    later = Population.generate(7, 60, today=date(2027, 3, 2))

    assert identities(earlier) == identities(later)
    assert later.as_of == Month(2027, 2)


def test_population_holds_size_people_plus_the_sandbox(population: Population) -> None:
    ids = population.id_numbers()

    assert len(population) == len(ids) == len(set(ids)) == 404
    assert ids[:4] == list(SANDBOX_ID_NUMBERS)
    assert population.get("999999999999999999") is None


def test_sandbox_identities_are_exactly_the_contract(population: Population) -> None:
    contract = {
        "11010519491231002X": ("张三", "13800138000"),
        "440304199001010011": ("李四", "13900139000"),
        "310101198506150024": ("王五", "13700137000"),
        "510107199203080030": ("赵六", "13600136000"),
    }
    for id_number, (name, phone) in contract.items():
        person = population.get(id_number)
        assert person is not None
        assert (person.name, person.phone) == (name, phone)
        assert gb11643_valid(id_number)


def test_generated_identities_are_well_formed(population: Population) -> None:
    for person in population:
        assert gb11643_valid(person.id_number), person.id_number
        birth = date(
            int(person.id_number[6:10]), int(person.id_number[10:12]), int(person.id_number[12:14])
        )
        assert birth == person.birth_date
        assert (TODAY - birth).days >= 18 * 365
        assert not person.id_number[:6].endswith("00")
        assert re.fullmatch(r"1[3-9][0-9]{9}", person.phone)
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", person.name)


def test_employer_codes_are_organisation_codes(population: Population) -> None:
    codes = set()
    for id_number in population.id_numbers():
        record = population.record("social_insurance", id_number)
        for item in record["contribution_records"] if record else []:
            if item["employer_code"]:
                codes.add(item["employer_code"])

    assert len(codes) > 50
    for code in codes:
        assert gb32100_valid(code), code
        # Enterprises (91…), never the 18-digit shape of a resident ID.
        assert code.startswith("91")


def test_sources_tell_one_consistent_story(population: Population) -> None:
    checked_bases = checked_gaps = checked_loans = 0
    for id_number in population.id_numbers():
        insured = population.record("social_insurance", id_number)
        fund = population.record("housing_fund", id_number)
        credit = population.record("credit_bureau", id_number)
        if insured is None or fund is None:
            continue
        contributions = {item["month"]: item for item in insured["contribution_records"]}
        for deposit in fund["deposit_records"]:
            contribution = contributions.get(deposit["month"])
            if contribution is None or not contribution["paid"]:
                # A month without social insurance is a month without deposits.
                assert not deposit["paid"]
                checked_gaps += contribution is not None
                continue
            if (
                fund["account_status"] == "NORMAL"
                and deposit["paid"]
                and contribution["employer_code"] == insured["current_employer_code"]
            ):
                base = contribution["base"]
                expected = round(base * fund["personal_rate"]) + round(base * fund["unit_rate"])
                assert deposit["amount"] == expected
                checked_bases += 1
        if fund["account_status"] == "NORMAL":
            latest = insured["contribution_records"][-1]
            assert latest["employer_code"] == insured["current_employer_code"]
            assert fund["deposit_base"] == latest["base"]
        if fund["loan_status"] == "REPAYING":
            assert credit is not None
            mirrored = [a for a in credit["loan_accounts"] if a["account_type"] == "HOUSING_FUND"]
            assert [a["balance"] for a in mirrored] == [fund["loan_outstanding"]]
            checked_loans += 1

    assert checked_bases > 1000 and checked_gaps > 50 and checked_loans > 5


def test_the_default_population_is_ten_thousand_people_generated_quickly() -> None:
    size = Settings(environment="test").simulator_population
    started = time.perf_counter()
    population = Population.generate(1, size, today=TODAY)
    elapsed = time.perf_counter() - started

    assert size >= 10_000
    assert len(population) == size + 4
    # Simulators start with the gateway and the demo; a slow start shows.
    assert elapsed < 2.0


def test_same_seed_gives_the_same_population_byte_for_byte() -> None:
    first = Population.generate(2026, 60, today=TODAY)
    again = Population.generate(2026, 60, today=TODAY)
    # Read in another order: a person is drawn the same whoever was looked up first.
    for id_number in reversed(again.id_numbers()):
        again.get(id_number)

    dump = list(first.canonical_dump())
    assert dump == list(again.canonical_dump())
    assert again.digest() == hashlib.sha256(b"".join(line + b"\n" for line in dump)).hexdigest()
    assert Population.generate(2027, 60, today=TODAY).digest(30) != first.digest(30)
    # The dump holds every source's record, so a change in any of them shows.
    assert set(json.loads(dump[0])["records"]) == set(load_sources())


def test_every_person_has_every_schema_field(population: Population) -> None:
    """Each source's record holds exactly its schema's fields, list items exactly its keys."""
    for source, schema in load_sources().schemas.items():
        top = {path for path in schema if "." not in path}
        found = 0
        for id_number in population.id_numbers():
            record = population.record(source, id_number)
            if record is None:
                continue
            found += 1
            assert set(record) == top, source
            for name in top:
                keys = {path.split(".", 1)[1] for path in schema if path.startswith(name + ".")}
                if keys:
                    assert all(set(item) == keys for item in record[name]), (source, name)
        assert found > 200, source


def test_contribution_shares_and_deposits_add_up(population: Population) -> None:
    for id_number in population.id_numbers()[:150]:
        insured = population.record("social_insurance", id_number)
        for item in insured["contribution_records"] if insured else []:
            if item["paid"]:
                assert item["personal_amount"] == round(item["base"] * 0.105, 2)
                assert item["unit_amount"] == round(item["base"] * 0.245, 2)
            else:
                assert item["personal_amount"] is item["unit_amount"] is None
        fund = population.record("housing_fund", id_number)
        for item in fund["deposit_records"] if fund else []:
            assert item["amount"] == item["personal_amount"] + item["unit_amount"]
        if fund and fund["account_status"] == "NORMAL":
            assert insured is not None
            assert fund["employer_code"] == insured["current_employer_code"]
            assert fund["monthly_deposit"] == fund["deposit_records"][-1]["amount"]


def test_credit_accounts_carry_status_codes_that_agree(population: Population) -> None:
    seen_overdue = 0
    for id_number in population.id_numbers():
        credit = population.record("credit_bureau", id_number)
        for account in (credit["loan_accounts"] + credit["card_accounts"]) if credit else []:
            for entry in account["repayment_history"]:
                expected = (
                    "N" if entry["overdue_months"] == 0 else str(min(7, entry["overdue_months"]))
                )
                assert entry["status"] == expected
                seen_overdue += entry["status"] != "N"
            if account.get("status") == "SETTLED":
                assert account["balance"] == 0
    assert seen_overdue > 0


def test_utility_bills_run_late_more_often_out_of_work(population: Population) -> None:
    late = {True: 0, False: 0}
    bills = {True: 0, False: 0}
    as_of = population.as_of
    for id_number in population.id_numbers()[4:]:
        person = population.get(id_number)
        record = population.record("utility", id_number)
        assert person is not None
        if record is None:
            continue
        assert record["arrears_amount"] == round(
            sum(bill["amount"] for bill in record["bill_records"] if not bill["paid"]), 2
        )
        for bill in record["bill_records"]:
            month = Month.parse(bill["month"])
            assert month <= as_of
            assert not (bill["paid_on_time"] and not bill["paid"])
            working = person.spell_in(month) is not None
            bills[working] += 1
            late[working] += bill["paid"] and not bill["paid_on_time"]

    assert bills[False] > 100
    assert late[False] / bills[False] > 1.5 * late[True] / bills[True]
