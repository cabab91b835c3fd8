"""One gateway, two county banks: the province's catalog with the README's example products.

`province_catalog` makes the running gateway's catalog the shipped (province) one with the
products of `qingshan_rcb` and `baishui_rcu` (policies/examples/products); `banks`
registers both banks under those names, each with its lender SDK; `FUNDER_PRODUCTS` and
`register_products` give a lender with no file products of its own (`lendgate products set`).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lendgate_sdk import LendgateClient

from gateway.clients.products import set_products
from policies.loading import DEFAULT_DIRECTORY, load_catalog
from tests.support.stack import Stack

EXAMPLE_PRODUCTS = DEFAULT_DIRECTORY / "examples" / "products"


def province_folder(folder: Path) -> Path:
    """`folder` made a policy folder: the shipped catalogs and the example products."""
    for name in ("features.yaml", "purposes.yaml"):
        shutil.copy(DEFAULT_DIRECTORY / name, folder / name)
    shutil.copytree(EXAMPLE_PRODUCTS, folder / "products")
    return folder


@pytest.fixture
def province_catalog(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The running gateway's catalog becomes the province's, with both banks' products."""
    folder = tmp_path / "policy"
    folder.mkdir()
    province_folder(folder)
    monkeypatch.setattr(stack.context, "catalog", load_catalog(folder))
    yield folder


@dataclass
class Banks:
    """Two county banks on one gateway, with their lender SDKs."""

    qingshan: LendgateClient
    baishui: LendgateClient
    qingshan_id: str
    baishui_id: str


@pytest.fixture
async def banks(stack: Stack, province_catalog: Path) -> AsyncIterator[Banks]:
    """Both county banks registered under the names their product files carry."""
    qingshan = await stack.register(name="qingshan_rcb")
    baishui = await stack.register(name="baishui_rcu")
    async with stack.lender_client(qingshan) as a, stack.lender_client(baishui) as b:
        yield Banks(a, b, qingshan.client_id, baishui.client_id)


def product_body(stack: Stack, product: str, **overrides: Any) -> dict[str, Any]:
    """A request under `product`: no purpose (the product's is implied), within its ceilings."""
    now = datetime.now(UTC)
    body = stack.consent_body(
        stack.person(),
        product=product,
        features=["si_active", "income_proxy_band"],
        valid_until=(now + timedelta(days=10)).isoformat(),
        data_life_days=10,
    )
    del body["purpose"]
    body.update(overrides)
    return body


# 青山's two products under codes of a funder's own, as a document to register.
FUNDER_PRODUCTS = (
    (EXAMPLE_PRODUCTS / "qingshan_rcb.yaml")
    .read_bytes()
    .replace(b"jinyan_easy_loan", b"funder_easy_loan")
    .replace(b"housing_fund_easy_loan", b"funder_housing_loan")
)


async def register_products(stack: Stack, client_id: str, document: bytes) -> None:
    """Register `document` as the lender's products, as `lendgate products set` does."""
    async with stack.context.sessionmaker() as session, session.begin():
        await set_products(
            session,
            stack.context.catalog,
            client_id,
            document,
            Path("registered.yaml"),
            actor="operator:test",
        )
