"""Driving the console in headless Chromium: the regulator's token and the verdicts.

The waits and captures every browser test uses are in `tests/support/browser.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.support.browser import clickable, until, visible

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver
    from selenium.webdriver.remote.webelement import WebElement

TOKEN_KEY = "lendgate.regulator.token"
SCREENSHOTS = "LENDGATE_CONSOLE_SCREENSHOTS"


def settled(driver: WebDriver, selector: str) -> WebElement:
    """A verdict (`data-state`) once it is no longer pending."""
    return until(
        driver,
        lambda page: next(
            (
                element
                for element in page.find_elements("css selector", selector)
                if element.get_attribute("data-state") not in (None, "pending")
            ),
            False,
        ),
        f"{selector} to settle",
    )


def sign_in(driver: WebDriver, token: str) -> None:
    """Paste the token into the sign-in form, as a regulator does."""
    visible(driver, "#token").send_keys(token)
    clickable(driver, "#token-form button[type=submit]").click()
    visible(driver, "#session-info")
