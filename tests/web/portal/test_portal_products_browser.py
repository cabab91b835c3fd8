"""A consent under a county bank's own product, as the borrower reads it in Chromium."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from lendgate_sdk import LendgateClient

from gateway.clients.products import set_products
from tests.support.browser import (
    POLL_SECONDS,
    WAIT_SECONDS,
    LiveGateway,
    clickable,
    console_errors,
    in_thread,
    until,
    visible,
)
from tests.support.products import EXAMPLE_PRODUCTS, product_body

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver

BANK = "青山县农商银行"


def _code(live: LiveGateway, phone: str) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            return live.stack.last_code(phone)
        except (FileNotFoundError, IndexError):
            if time.monotonic() > deadline:
                raise AssertionError("no one-time code arrived in the SMS outbox") from None
            time.sleep(POLL_SECONDS)


async def test_the_portal_names_the_product_and_the_county_bank_in_zh_and_en(
    live_gateway: LiveGateway, browser: WebDriver
) -> None:
    live = live_gateway
    registered = await live.stack.register("lender", name=BANK)
    async with live.stack.context.sessionmaker() as session, session.begin():
        await set_products(
            session,
            live.stack.context.catalog,
            registered.client_id,
            (EXAMPLE_PRODUCTS / "qingshan_rcb.yaml").read_bytes(),
            Path("qingshan_rcb.yaml"),
            actor="operator:test",
        )
    body = product_body(live.stack, "jinyan_easy_loan")
    phone = body["borrower"]["phone"]
    async with LendgateClient(
        live.base_url, registered.client_id, registered.private_jwks
    ) as lender:
        requested = await lender.request_consent(body)

    def read_the_request() -> None:
        browser.get(requested["approval_url"])
        visible(browser, "#phone").send_keys(phone)
        clickable(browser, "#phone-form button[type=submit]").click()
        visible(browser, "#login-code").send_keys(_code(live, phone))
        clickable(browser, "#code-form button[type=submit]").click()
        visible(browser, '#consent-status[data-status="PENDING"]')
        assert visible(browser, "#consent-title").text == "金燕e贷·随享贷"
        assert visible(browser, "#lender-name").text == BANK
        # The summary of the consent's own terms names the bank and its product; the
        # product's free text, like a purpose's, is not restated over the terms.
        summary = visible(browser, "#notice-summary").text
        assert BANK in summary and "金燕e贷·随享贷" in summary
        clickable(browser, ".lang-switch").click()
        until(browser, lambda page: page.find_element("css selector", "html[lang=en]"), "en")
        until(
            browser,
            lambda page: (
                page.find_element("css selector", "#consent-title").text
                == "Jinyan e-loan (spend-as-you-go)"
            ),
            "the product's English title",
        )
        assert visible(browser, "#lender-name").text == BANK
        until(
            browser,
            lambda page: (
                "Jinyan e-loan (spend-as-you-go)"
                in page.find_element("css selector", "#notice-summary").text
            ),
            "the product's English title in the summary",
        )

    await in_thread(read_the_request)
    assert console_errors(browser, "javascript") == []
