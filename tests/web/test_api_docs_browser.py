"""`/docs` in a real headless Chromium: it renders from the gateway alone, with Authorize."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tests.support.browser import LiveGateway, clickable, desktop, in_thread, until, visible

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver


async def test_the_docs_render_from_the_gateway_alone_with_authorize(
    live_gateway: LiveGateway, browser: WebDriver
) -> None:
    gateway = urlsplit(live_gateway.base_url).netloc

    def visit() -> tuple[list[str], str, str]:
        desktop(browser)
        browser.get(f"{live_gateway.base_url}/docs")
        title = visible(browser, ".swagger-ui .info .title").text
        clickable(browser, "button.btn.authorize")
        # Open the consent request: its example body is the one the gateway accepts.
        operation = '[id$="-create_consent_request_v1_consent_requests_post"]'
        clickable(browser, f"{operation} .opblock-summary").click()
        example = until(
            browser,
            lambda driver: next(
                (
                    element.text
                    for element in driver.find_elements(
                        "css selector", f"{operation} .opblock-body"
                    )
                    if "consumer_installment_underwriting" in element.text
                ),
                None,
            ),
            "the consent request's example",
        )
        fetched = browser.execute_script(
            "return performance.getEntriesByType('resource').map(entry => entry.name)"
        )
        return [str(url) for url in fetched], title, example

    fetched, title, example = await in_thread(visit)
    assert title.startswith("Lendgate")
    assert fetched, "the page fetched nothing"
    # Everything the page loaded came from the gateway: nothing from any other host.
    assert {urlsplit(url).netloc for url in fetched} == {gateway}
    assert "consumer_installment_underwriting" in example and "11010519491231002X" in example
