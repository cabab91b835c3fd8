"""Lenders' products: loaded from `products/<client name>.yaml`, never wider than their purpose.

The refusals of a widening product, line by line, are the `product_widens` fixture of
test_policy_check; here: the example catalog of the README, how ceilings resolve, the
version, start-up, and consent terms held to a product on top of its purpose.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.core.errors import PurposeViolation
from gateway.core.settings import Settings
from gateway.runtime.context import build_context
from policies.catalog import Catalog
from policies.evaluation import ConsentTerms, check_terms
from policies.loading import CatalogError, check_catalog, load_catalog
from tests.support.products import province_folder

WIDENS = Path(__file__).resolve().parent / "fixtures" / "product_widens"
START = datetime(2026, 12, 1, tzinfo=datetime.now().astimezone().tzinfo)


def province(folder: Path) -> Path:
    """The README's example: the shipped (province) catalogs and two county banks' products."""
    return province_folder(folder)


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return load_catalog(province(tmp_path))


def terms(**changes: object) -> ConsentTerms:
    values: dict[str, object] = {
        "purpose": "consumer_installment_underwriting",
        "features": ("si_active", "income_proxy_band"),
        "fetch_type": "ONETIME",
        "frequency_unit": "MONTH",
        "frequency_value": 1,
        "valid_from": START,
        "valid_until": START + timedelta(days=10),
        "data_range_months": 24,
        "data_life_days": 10,
    }
    return ConsentTerms(**(values | changes))  # type: ignore[arg-type]


def test_the_example_products_load_for_their_own_client(catalog: Catalog) -> None:
    assert set(catalog.products) == {"qingshan_rcb", "baishui_rcu"}
    qingshan = catalog.client_products("qingshan_rcb")
    assert set(qingshan) == {"jinyan_easy_loan", "housing_fund_easy_loan"}
    assert set(catalog.client_products("baishui_rcu")) == {"huinong_credit_line"}
    assert catalog.client_products("nobody") == {}
    loan = qingshan["jinyan_easy_loan"]
    assert loan.client == "qingshan_rcb"
    assert loan.title.zh == "金燕e贷·随享贷"
    # Ceilings it sets are its own; those it leaves out are the purpose's.
    base = catalog.purposes["consumer_installment_underwriting"]
    assert (loan.max_validity_days, loan.max_data_life_days) == (15, 15)
    assert loan.max_data_range_months == base.max_data_range_months
    assert loan.max_frequency == base.max_frequency
    assert loan.fetch_types == base.fetch_types
    assert loan.sources == ("social_insurance", "housing_fund", "credit_bureau")
    assert qingshan["housing_fund_easy_loan"].max_data_range_months == 12


def test_policy_version_covers_the_products(tmp_path: Path) -> None:
    with_products = load_catalog(province(tmp_path))
    assert with_products.version != load_catalog().version
    product_file = tmp_path / "products" / "baishui_rcu.yaml"
    product_file.write_text(
        product_file.read_text(encoding="utf-8").replace(
            "max_data_life_days: 60", "max_data_life_days: 45"
        ),
        encoding="utf-8",
    )
    changed = load_catalog(tmp_path)
    assert changed.version != with_products.version
    assert changed.client_products("baishui_rcu")["huinong_credit_line"].version != (
        with_products.client_products("baishui_rcu")["huinong_credit_line"].version
    )
    # A folder without products keeps the version of its two catalogs.
    shutil.rmtree(tmp_path / "products")
    assert load_catalog(tmp_path).version == load_catalog().version


def test_a_widening_product_stops_the_gateway_before_it_starts(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, policy_dir=WIDENS)
    with pytest.raises(CatalogError) as refused:
        build_context(settings)
    assert refused.value.problems == check_catalog(WIDENS)
    assert any("widens purpose `small_loan`" in p for p in refused.value.problems)
    assert list(tmp_path.iterdir()) == []  # no keys, no database


def test_terms_within_the_product_pass(catalog: Catalog) -> None:
    product = catalog.client_products("qingshan_rcb")["jinyan_easy_loan"]
    check_terms(catalog, terms(), product)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"valid_until": START + timedelta(days=20)},
            "exceeds the maximum of product 'jinyan_easy_loan', 15 days",
        ),
        (
            {"data_life_days": 20},
            "`data_life_days` 20 exceeds the maximum of product 'jinyan_easy_loan'",
        ),
        (
            {"features": ("si_active", "hf_status")},
            "Product 'jinyan_easy_loan' does not offer feature 'hf_status'",
        ),
    ],
)
def test_terms_within_the_purpose_but_beyond_the_product_are_refused_naming_it(
    catalog: Catalog, changes: dict[str, object], message: str
) -> None:
    product = catalog.client_products("qingshan_rcb")["jinyan_easy_loan"]
    check_terms(catalog, terms(**changes))  # the purpose alone allows them
    with pytest.raises(PurposeViolation) as refused:
        check_terms(catalog, terms(**changes), product)
    assert message in refused.value.detail


def test_a_product_of_another_purpose_is_refused(catalog: Catalog) -> None:
    product = catalog.client_products("qingshan_rcb")["housing_fund_easy_loan"]
    with pytest.raises(PurposeViolation) as refused:
        check_terms(catalog, terms(), product)
    assert "Product 'housing_fund_easy_loan' is for purpose 'housing_fund_loan'" in (
        refused.value.detail
    )
