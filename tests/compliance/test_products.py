"""The compliance report per lender product, judging each release by its product as it was then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from consent.models import Consent
from policies.catalog import document_version
from policies.loading import load_catalog
from tests.support.products import (
    EXAMPLE_PRODUCTS,
    FUNDER_PRODUCTS,
    Banks,
    product_body,
    register_products,
)
from tests.support.stack import Stack


async def report(stack: Stack, since: datetime, **filters: Any) -> dict[str, Any]:
    regulator = await stack.register("regulator", name="监管机构")
    until = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    async with stack.regulator_client(regulator) as client:
        return await client.compliance_report(since.isoformat(), until, **filters)


async def test_a_release_beyond_its_products_ceiling_is_flagged_with_its_leaf(
    stack: Stack, banks: Banks, province_catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    qingshan_consent, _, _ = await stack.active_consent(
        banks.qingshan, **_without_person(product_body(stack, "jinyan_easy_loan"))
    )
    qingshan_release = await banks.qingshan.release(qingshan_consent)
    baishui_consent, _, _ = await stack.active_consent(
        banks.baishui,
        **_without_person(
            product_body(
                stack,
                "huinong_credit_line",
                purpose="credit_line_assessment",
                features=["si_paid_months", "hf_status"],
            )
        ),
    )
    baishui_release = await banks.baishui.release(baishui_consent)

    # Both compliant as released.
    clean = await report(stack, since, product="jinyan_easy_loan")
    assert [r["leaf_index"] for r in clean["releases"]] == [qingshan_release.audit["leaf_index"]]
    assert clean["releases"][0]["checks"]["product"] is True
    assert clean["findings"] == []

    # A database where the consent's data life was raised to 20 days: inside the purpose's
    # 30, beyond the product's 15.
    async with stack.context.sessionmaker() as session, session.begin():
        await session.execute(
            update(Consent).where(Consent.id == qingshan_consent).values(data_life_days=20)
        )
    # The county bank has since widened its product file to 30 days; the release is still
    # judged by the product as it was when the consent was asked.
    widened = province_catalog / "products" / "qingshan_rcb.yaml"
    widened.write_text(
        widened.read_text(encoding="utf-8").replace(
            "max_data_life_days: 15", "max_data_life_days: 30"
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(stack.context, "catalog", load_catalog(province_catalog))

    body = await report(stack, since, product="jinyan_easy_loan")
    assert body["product"] == "jinyan_easy_loan"
    assert [r["leaf_index"] for r in body["releases"]] == [qingshan_release.audit["leaf_index"]]
    assert body["releases"][0]["checks"]["product"] is False
    assert not body["releases"][0]["compliant"]
    (finding,) = [f for f in body["findings"] if f["kind"] == "outside_product"]
    assert finding["leaf_indexes"] == [qingshan_release.audit["leaf_index"]]
    assert finding["consent_id"] == qingshan_consent
    assert (
        "`data_life_days` 20 exceeds the maximum of product 'jinyan_easy_loan', 15"
        in (finding["detail"])
    )

    # The other bank's product: its release only, compliant.
    other = await report(stack, since, product="huinong_credit_line")
    assert [r["leaf_index"] for r in other["releases"]] == [baishui_release.audit["leaf_index"]]
    assert other["releases"][0]["compliant"]
    assert other["findings"] == []
    # Unfiltered, the report holds both releases and the one finding.
    everything = await report(stack, since)
    leaves = {r["leaf_index"] for r in everything["releases"]}
    assert {qingshan_release.audit["leaf_index"], baishui_release.audit["leaf_index"]} <= leaves
    assert [f["consent_id"] for f in everything["findings"] if f["kind"] == "outside_product"] == [
        qingshan_consent
    ]


def _without_person(body: dict[str, Any]) -> dict[str, Any]:
    """`active_consent` overrides: the request's terms (it picks the borrower itself, and
    keeps a `purpose`, which must then be the product's)."""
    return {key: value for key, value in body.items() if key != "borrower"}


async def test_the_regulator_reads_the_log_of_one_product(stack: Stack, banks: Banks) -> None:
    qingshan_consent, _, _ = await stack.active_consent(
        banks.qingshan, **_without_person(product_body(stack, "jinyan_easy_loan"))
    )
    await banks.qingshan.release(qingshan_consent)
    plain_consent, _, _ = await stack.active_consent(banks.qingshan)  # no product
    await banks.qingshan.release(plain_consent)
    regulator = await stack.register("regulator", name="监管机构")
    async with stack.regulator_client(regulator) as client:
        page = await client.audit_entries(product="jinyan_easy_loan", lender_id=banks.qingshan_id)
        every_lender = await client.audit_entries(product="jinyan_easy_loan", limit=500)
        others = await client.audit_entries(product="huinong_credit_line")
    leaves = [entry["leaf"] for entry in page["entries"]]
    assert {leaf["consent_id"] for leaf in leaves} == {qingshan_consent}
    assert {"consent.requested", "consent.approved", "release.granted"} <= {
        leaf["type"] for leaf in leaves
    }
    # Across lenders: only consents under a product of that code, never one without.
    async with stack.context.sessionmaker() as session:
        under = {
            consent.id: consent.product
            for consent in (await session.scalars(select(Consent))).all()
        }
    named = {entry["leaf"]["consent_id"] for entry in every_lender["entries"]}
    assert qingshan_consent in named and plain_consent not in named
    assert {under[consent_id] for consent_id in named} == {"jinyan_easy_loan"}
    assert all(under[e["leaf"]["consent_id"]] == "huinong_credit_line" for e in others["entries"])
    read = (await stack.audit_leaves())[-1]
    assert read["type"] == "audit.read"
    assert "product=huinong_credit_line" in read["reason"]


async def test_a_damaged_product_record_is_a_finding_not_a_skipped_check(
    stack: Stack, banks: Banks
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    consent_id, _, _ = await stack.active_consent(
        banks.qingshan, **_without_person(product_body(stack, "jinyan_easy_loan"))
    )
    release = await banks.qingshan.release(consent_id)
    async with stack.context.sessionmaker() as session, session.begin():
        await session.execute(
            update(Consent)
            .where(Consent.id == consent_id)
            .values(product_terms={"code": "jinyan_easy_loan"})
        )
    body = await report(stack, since, product="jinyan_easy_loan", lender_id=banks.qingshan_id)
    (finding,) = [f for f in body["findings"] if f["kind"] == "product_record_unreadable"]
    assert finding["leaf_indexes"] == [release.audit["leaf_index"]]
    assert body["releases"][0]["checks"]["product"] is False


async def test_the_regulator_sees_which_products_each_lender_had_when(
    stack: Stack, banks: Banks
) -> None:
    funder_client = await stack.register(name="funder_c")
    shipped = (EXAMPLE_PRODUCTS / "qingshan_rcb.yaml").read_bytes()
    first = FUNDER_PRODUCTS
    second = first.split(b"\n  - code: funder_housing_loan")[0] + b"\n"
    for document in (first, second):
        await register_products(stack, funder_client.client_id, document)
    set_leaves = [
        leaf["seq"]
        for leaf in await stack.audit_leaves()
        if leaf["type"] == "admin.product_set" and leaf["lender_id"] == funder_client.client_id
    ]
    regulator = await stack.register("regulator", name="监管机构")
    async with stack.regulator_client(regulator) as client:
        token = {"Authorization": f"Bearer {await client.access_token()}"}
    answer = await stack.http.get("/v1/audit/products", headers=token)
    assert answer.status_code == 200, answer.text
    history = answer.json()
    assert history["policy_version"] == stack.context.catalog.version
    lenders = {lender["lender_id"]: lender for lender in history["lenders"]}
    qingshan = lenders[banks.qingshan_id]
    assert qingshan["lender_name"] == "qingshan_rcb"
    assert {p["code"] for p in qingshan["policy_folder"]} == {
        "jinyan_easy_loan",
        "housing_fund_easy_loan",
    }
    assert {p["version"] for p in qingshan["policy_folder"]} == {document_version(shipped)}
    assert qingshan["registrations"] == []
    assert [p["code"] for p in lenders[banks.baishui_id]["policy_folder"]] == [
        "huinong_credit_line"
    ]
    funder = lenders[funder_client.client_id]
    assert funder["policy_folder"] == []
    versions = [
        (v["version"], v["codes"], v["in_force"], v["leaf_index"]) for v in funder["registrations"]
    ]
    assert versions == [
        (
            document_version(first),
            ["funder_easy_loan", "funder_housing_loan"],
            False,
            set_leaves[0],
        ),
        (document_version(second), ["funder_easy_loan"], True, set_leaves[1]),
    ]
    registered = [datetime.fromisoformat(v["registered_at"]) for v in funder["registrations"]]
    assert registered == sorted(registered)

    # One lender only; the read itself is on the log.
    async with stack.regulator_client(regulator) as client:
        one = await client.product_history(funder_client.client_id)
    assert [lender["lender_id"] for lender in one["lenders"]] == [funder_client.client_id]
    reads = [leaf for leaf in await stack.audit_leaves() if leaf["type"] == "audit.read"]
    assert reads[-1]["actor"] == f"regulator:{regulator.client_id}"
    assert reads[-1]["reason"] == f"product history lender_id={funder_client.client_id}"
    assert reads[-2]["reason"] == "product history"
