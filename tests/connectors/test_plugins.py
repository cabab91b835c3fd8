"""Sources as plug-ins: registration, and the fourth source (utility) from schema to feature."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from connectors import registry
from connectors.base import Month, MonthRange, SourceRecord
from connectors.definition import SourceDefinition
from connectors.http import HttpSourceConnector
from connectors.registry import SourceRegistry, build_connectors, close_all, load_sources
from connectors.simulators.app import create_simulator_app
from connectors.simulators.population import Population
from connectors.sources.utility import SOURCE as UTILITY
from connectors.sources.utility.connector import UtilityConnector
from gateway.core.errors import SourceUnavailable
from gateway.core.settings import Settings
from policies.loading import load_catalog
from policies.release import derive_features

TODAY = date(2026, 11, 23)
MONTHS = MonthRange.ending(Month(2026, 10), 6)


class MedicalInsuranceConnector(HttpSourceConnector):
    source = "medical_insurance"
    schema = frozenset({"insured_status"})


MEDICAL_INSURANCE = SourceDefinition(
    connector=MedicalInsuranceConnector,
    title_zh="医保",
    title_en="Medical insurance",
    record_builder=lambda person, as_of: None,
    default_port=8105,
    development_credential="dev-medical-insurance-key",
    retention_months=60,
)


def test_every_source_folder_is_registered_with_its_defaults() -> None:
    sources = load_sources()
    settings = sources.configure(Settings(environment="test"))

    assert list(sources) == ["social_insurance", "housing_fund", "credit_bureau", "utility"]
    assert set(settings.source_urls) == set(settings.simulator_ports) == set(sources)
    assert dict(settings.source_credentials) == dict(sources.development_credentials)
    assert settings.source_urls["utility"] == "http://127.0.0.1:8104"
    assert settings.simulator_ports["utility"] == 8104
    assert sources["utility"] is UTILITY and UTILITY.connector is UtilityConnector
    assert sources.titles["utility"] == {"zh": "水电燃气缴费", "en": "Utility payments"}
    assert sources.retention_months["utility"] == 36


def test_settings_the_operator_gave_keep_their_meaning() -> None:
    settings = Settings(
        environment="test",
        source_urls={"housing_fund": "http://fund.example"},
        simulator_ports={"housing_fund": 9102},
    )

    configured = load_sources().configure(settings)

    assert configured.source_urls == {"housing_fund": "http://fund.example"}
    assert configured.simulator_ports == {"housing_fund": 9102}
    assert configured.source_credentials["housing_fund"] == "dev-housing-fund-key"


def test_the_registry_cannot_be_changed() -> None:
    sources = load_sources()

    with pytest.raises(TypeError):
        sources["medical_insurance"] = MEDICAL_INSURANCE  # type: ignore[index]
    assert load_sources() is sources


def test_a_source_has_one_definition_and_one_port() -> None:
    moved = SourceDefinition(
        connector=MedicalInsuranceConnector,
        title_zh="医保",
        title_en="Medical insurance",
        record_builder=UTILITY.record_builder,
        default_port=UTILITY.default_port,
        development_credential="dev-medical-insurance-key",
        retention_months=60,
    )

    with pytest.raises(ValueError, match="'utility' is declared twice"):
        SourceRegistry([UTILITY, UTILITY])
    with pytest.raises(ValueError, match="share port 8104"):
        SourceRegistry([UTILITY, moved])


def test_a_plug_in_from_outside_brings_its_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    class EntryPoint:
        @staticmethod
        def load() -> SourceDefinition:
            return MEDICAL_INSURANCE

    monkeypatch.setattr(
        registry,
        "entry_points",
        lambda group: [EntryPoint()] if group == registry.ENTRY_POINT_GROUP else [],
    )

    sources = load_sources.__wrapped__()

    assert list(sources)[-1] == "medical_insurance"
    assert sources.schemas["medical_insurance"] == frozenset({"insured_status"})
    assert set(sources) > set(load_sources())


async def test_a_planned_source_without_a_connector_is_unavailable() -> None:
    settings = Settings(
        environment="test", source_urls={"housing_fund": "http://127.0.0.1:9"}, source_retries=0
    )
    connectors = build_connectors(settings)
    try:
        with pytest.raises(SourceUnavailable) as caught:
            await registry.fetch_all(connectors, "x", {"utility": ["arrears_amount"]}, MONTHS)
    finally:
        await close_all(connectors)

    assert caught.value.detail == "Source utility is not connected to this gateway."


async def test_the_utility_connector_reads_its_simulator() -> None:
    population = Population.generate(3, 50, today=TODAY)
    app = create_simulator_app("utility", credential="ut-key", population=population)
    connector = UtilityConnector(
        "http://ut.test", "ut-key", client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    )
    try:
        record = await connector.fetch(
            "440304199001010011", ["arrears_months", "bill_records.paid"], MONTHS
        )
    finally:
        await connector.aclose()

    assert record.fields["arrears_months"] == 1
    assert [item["month"] for item in record.fields["bill_records"]] == [
        str(month) for month in MONTHS for _ in ("ELECTRICITY", "WATER")
    ]
    assert record.fields["bill_records"][-1] == {"month": "2026-10", "paid": False}


# -- the two utility features, hand-computed -----------------------------------------------------


def utility(found: bool = True, **fields: object) -> dict[str, SourceRecord]:
    return {"utility": SourceRecord("utility", Month(2026, 10), found, fields if found else {})}


def bill(month: str, on_time: bool, kind: str = "WATER") -> dict[str, object]:
    return {"month": month, "utility_type": kind, "paid_on_time": on_time}


@pytest.mark.parametrize(
    ("bills", "expected"),
    [
        ([], 0),
        ([bill(f"2026-{m:02d}", True) for m in range(5, 11)], 6),
        # a month with one late bill of two is not on time
        (
            [bill("2026-09", True), bill("2026-09", False, "GAS"), bill("2026-10", True)],
            1,
        ),
        # months outside the range (sent anyway) do not count; months without bills neither
        ([bill("2026-04", True), bill("2026-06", True), bill("2026-10", True)], 2),
    ],
)
def test_on_time_months(bills: list[dict[str, object]], expected: int) -> None:
    catalog = load_catalog()

    features = derive_features(catalog, ["ut_on_time_months"], utility(bill_records=bills), MONTHS)

    assert features == {"ut_on_time_months": expected}


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (utility(arrears_amount=0), False),
        (utility(arrears_amount=0.0), False),
        (utility(arrears_amount=12.5), True),
        (utility(found=False), False),
    ],
)
def test_in_arrears(records: dict[str, SourceRecord], expected: bool) -> None:
    assert derive_features(load_catalog(), ["ut_in_arrears"], records, MONTHS) == {
        "ut_in_arrears": expected
    }


@pytest.mark.parametrize(
    "records",
    [
        utility(arrears_amount="a lot"),
        utility(arrears_amount=-3),
        utility(),
    ],
)
def test_a_malformed_arrears_amount_is_source_unavailable(
    records: dict[str, SourceRecord],
) -> None:
    with pytest.raises(SourceUnavailable) as caught:
        derive_features(load_catalog(), ["ut_in_arrears"], records, MONTHS)

    assert caught.value.detail == "utility answered a malformed `arrears_amount`."


def test_the_utility_features_are_offered_to_a_purpose() -> None:
    catalog = load_catalog()

    offering = [
        code
        for code, purpose in catalog.purposes.items()
        if {"ut_on_time_months", "ut_in_arrears"} <= set(purpose.features)
    ]

    assert offering == ["consumer_installment_underwriting"]
    assert catalog.feature("ut_in_arrears").source_fields == {"utility": ("arrears_amount",)}
