"""Consent requests under a lender's own product, on one gateway shared by two county banks.

The gateway's catalog is the shipped (province) one with the README's example products of
two county banks, `qingshan_rcb` and `baishui_rcu`. Each bank sees and may use exactly its
own products; the other's are as unknown as a product that does not exist.
"""

from __future__ import annotations

from typing import Any

import pytest
from lendgate_sdk import LendgateAPIError, LendgateClient
from sqlalchemy import func, select

from consent.models import Consent
from tests.support.products import FUNDER_PRODUCTS, Banks, product_body, register_products
from tests.support.stack import Stack

QINGSHAN = {"jinyan_easy_loan", "housing_fund_easy_loan"}
BAISHUI = {"huinong_credit_line"}


async def consents_of(stack: Stack, lender_id: str) -> int:
    """How many consents the lender's requests created."""
    async with stack.context.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(Consent).where(Consent.lender_id == lender_id)
        )
    return int(count or 0)


async def test_each_lender_sees_exactly_its_own_products(stack: Stack, banks: Banks) -> None:
    qingshan = await banks.qingshan.catalog(own_products=True)
    baishui = await banks.baishui.catalog(own_products=True)
    assert {product["code"] for product in qingshan["products"]} == QINGSHAN
    assert {product["code"] for product in baishui["products"]} == BAISHUI
    # The same purposes, features and version for both: one platform.
    assert qingshan["purposes"] == baishui["purposes"]
    assert qingshan["policy_version"] == baishui["policy_version"]
    loan = next(p for p in qingshan["products"] if p["code"] == "jinyan_easy_loan")
    assert loan["title"] == {"zh": "金燕e贷·随享贷", "en": "Jinyan e-loan (spend-as-you-go)"}
    assert (loan["purpose"], loan["max_validity_days"], loan["max_data_life_days"]) == (
        "consumer_installment_underwriting",
        15,
        15,
    )
    # Without a token nobody's products are listed; a regulator is no lender either.
    anonymous = await stack.http.get("/v1/catalog")
    assert anonymous.status_code == 200
    assert anonymous.json()["products"] == []
    assert "jinyan_easy_loan" not in anonymous.text
    assert "huinong_credit_line" not in anonymous.text
    regulator = await stack.register("regulator", name="监管机构")
    async with stack.regulator_client(regulator) as reg:
        token = await reg.access_token()
    seen = await stack.http.get("/v1/catalog", headers={"Authorization": f"Bearer {token}"})
    assert seen.status_code == 200
    assert seen.json()["products"] == []


async def test_a_bad_token_on_the_catalog_is_refused_not_ignored(
    stack: Stack, banks: Banks
) -> None:
    answer = await stack.http.get("/v1/catalog", headers={"Authorization": "Bearer nonsense"})
    assert answer.status_code == 401
    assert answer.json()["error"] == "InvalidToken"
    assert "products" not in answer.json()


@pytest.mark.parametrize(
    ("asker", "product"),
    [("qingshan", "huinong_credit_line"), ("baishui", "jinyan_easy_loan")],
)
async def test_neither_lender_can_request_the_others_product(
    stack: Stack, banks: Banks, asker: str, product: str
) -> None:
    lender: LendgateClient = getattr(banks, asker)
    body = product_body(stack, product, purpose="consumer_installment_underwriting")
    with pytest.raises(LendgateAPIError) as refused:
        await lender.request_consent(body)
    assert (refused.value.status, refused.value.code) == (422, "PurposeViolation")
    # The same answer as for a product nobody has: the other's catalog is not revealed.
    assert refused.value.detail == f"Unknown product '{product}'."
    assert await consents_of(stack, getattr(banks, f"{asker}_id")) == 0


async def test_a_request_under_a_product_implies_its_purpose_and_keeps_the_product(
    stack: Stack, banks: Banks
) -> None:
    body = product_body(stack, "jinyan_easy_loan")
    created = await banks.qingshan.request_consent(body)
    consent = await banks.qingshan.get_consent(created["consent_id"])
    assert consent["terms"]["product"] == "jinyan_easy_loan"
    assert consent["terms"]["purpose"] == "consumer_installment_underwriting"
    async with stack.context.sessionmaker() as session:
        stored = await session.get(Consent, created["consent_id"])
    assert stored is not None and stored.product_terms is not None
    assert stored.product_terms["client_name"] == "qingshan_rcb"
    assert stored.product_terms["client_id"] == banks.qingshan_id
    assert stored.product_terms["max_validity_days"] == 15
    assert stored.policy_version == stack.context.catalog.version


@pytest.mark.parametrize(
    ("overrides", "detail"),
    [
        (
            {"data_life_days": 20},
            "`data_life_days` 20 exceeds the maximum of product 'jinyan_easy_loan'",
        ),
        ({"features": ["si_active", "hf_status"]}, "does not offer feature 'hf_status'"),
        (
            {"purpose": "housing_fund_loan"},
            "Product 'jinyan_easy_loan' is for purpose 'consumer_installment_underwriting'",
        ),
    ],
)
async def test_terms_beyond_the_product_are_a_purpose_violation_naming_it(
    stack: Stack, banks: Banks, overrides: dict[str, Any], detail: str
) -> None:
    body = product_body(stack, "jinyan_easy_loan", **overrides)
    with pytest.raises(LendgateAPIError) as refused:
        await banks.qingshan.request_consent(body)
    assert (refused.value.status, refused.value.code) == (422, "PurposeViolation")
    assert detail in refused.value.detail
    assert await consents_of(stack, banks.qingshan_id) == 0


async def test_the_same_terms_without_the_product_fit_the_purpose(
    stack: Stack, banks: Banks
) -> None:
    body = product_body(stack, "jinyan_easy_loan", data_life_days=20)
    del body["product"]
    body["purpose"] = "consumer_installment_underwriting"
    created = await banks.qingshan.request_consent(body)
    consent = await banks.qingshan.get_consent(created["consent_id"])
    assert consent["terms"]["product"] is None


async def test_no_purpose_and_no_product_is_an_invalid_request(stack: Stack, banks: Banks) -> None:
    body = product_body(stack, "jinyan_easy_loan")
    del body["product"]
    with pytest.raises(LendgateAPIError) as refused:
        await banks.qingshan.request_consent(body)
    assert (refused.value.status, refused.value.code) == (422, "InvalidRequest")
    assert await consents_of(stack, banks.qingshan_id) == 0


async def test_the_borrower_reads_the_product_and_the_bank_and_the_receipt_names_them(
    stack: Stack, banks: Banks
) -> None:
    body = product_body(stack, "jinyan_easy_loan")
    created = await banks.qingshan.request_consent(body)
    consent_id = created["consent_id"]
    phone = body["borrower"]["phone"]
    auth = await stack.borrower_login(phone)
    details = await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)
    assert details.status_code == 200, details.text
    notice = details.json()["notice"]
    assert notice["title"]["zh"] == "金燕e贷·随享贷"
    assert notice["text"]["zh"].startswith("青山县农商银行为审批您的“金燕e贷·随享贷”申请")
    assert "qingshan_rcb为其产品「金燕e贷·随享贷」" in notice["summary"]["zh"]
    assert "its product “Jinyan e-loan (spend-as-you-go)”" in notice["summary"]["en"]
    approved = await stack.approve(consent_id, phone, auth)
    assert approved.status_code == 200, approved.text
    product = approved.json()["receipt"]["purpose"]["product"]
    assert product["code"] == "jinyan_easy_loan"
    assert product["client_name"] == "qingshan_rcb"
    assert product["client_id"] == banks.qingshan_id
    assert product["title"]["en"] == "Jinyan e-loan (spend-as-you-go)"


async def test_registered_products_are_the_lenders_own_and_usable(
    stack: Stack, banks: Banks
) -> None:
    """`lendgate products set` for a funder with no file: it alone sees and uses them."""
    funder_client = await stack.register(name="funder_c")
    await register_products(stack, funder_client.client_id, FUNDER_PRODUCTS)
    async with stack.lender_client(funder_client) as funder:
        seen = await funder.catalog(own_products=True)
        assert {p["code"] for p in seen["products"]} == {
            "funder_easy_loan",
            "funder_housing_loan",
        }
        created = await funder.request_consent(product_body(stack, "funder_easy_loan"))
        consent = await funder.get_consent(created["consent_id"])
        assert consent["terms"]["product"] == "funder_easy_loan"
    # The county banks see only their own, and cannot use the funder's.
    qingshan = await banks.qingshan.catalog(own_products=True)
    assert {p["code"] for p in qingshan["products"]} == QINGSHAN
    with pytest.raises(LendgateAPIError) as refused:
        await banks.qingshan.request_consent(product_body(stack, "funder_easy_loan"))
    assert (refused.value.code, refused.value.detail) == (
        "PurposeViolation",
        "Unknown product 'funder_easy_loan'.",
    )
    assert await consents_of(stack, banks.qingshan_id) == 0


async def test_the_request_on_the_log_names_the_product_it_was_asked_under(
    stack: Stack, banks: Banks
) -> None:
    under = await banks.qingshan.request_consent(product_body(stack, "jinyan_easy_loan"))
    plain = product_body(stack, "jinyan_easy_loan")
    del plain["product"]
    plain["purpose"] = "consumer_installment_underwriting"
    without = await banks.qingshan.request_consent(plain)
    requested = {
        consent_id: [
            leaf["reason"]
            for leaf in await stack.audit_leaves(consent_id)
            if leaf["type"] == "consent.requested"
        ]
        for consent_id in (under["consent_id"], without["consent_id"])
    }
    assert requested == {
        under["consent_id"]: ["product=jinyan_easy_loan"],
        without["consent_id"]: [None],
    }
