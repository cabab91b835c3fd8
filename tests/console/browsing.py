"""Driving the console in headless Chromium: waits, the regulator's token, screenshots."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver
    from selenium.webdriver.remote.webelement import WebElement

WAIT_SECONDS = 15.0
POLL_SECONDS = 0.05
DESKTOP = (1280, 900)
TOKEN_KEY = "lendgate.regulator.token"


def until(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    """Wait for `condition` to hold (a truthy answer), or fail naming `what`."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.wait import WebDriverWait

    # The script replaces what it shows (a pending verdict by its outcome): look again.
    return WebDriverWait(
        driver,
        WAIT_SECONDS,
        poll_frequency=POLL_SECONDS,
        ignored_exceptions=(StaleElementReferenceException,),
    ).until(condition, f"timed out waiting for {what}")


def visible(driver: WebDriver, selector: str) -> WebElement:
    """The element matching `selector`, once it is on screen."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    element: WebElement = until(
        driver, ec.visibility_of_element_located((By.CSS_SELECTOR, selector)), selector
    )
    return element


def clickable(driver: WebDriver, selector: str) -> WebElement:
    """The element matching `selector`, once it can be clicked."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    element: WebElement = until(
        driver, ec.element_to_be_clickable((By.CSS_SELECTOR, selector)), selector
    )
    return element


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


def desktop(driver: WebDriver) -> None:
    """A desk-sized window until the next page load (the shared fixture emulates a phone,
    and chromedriver applies that again on every navigation)."""
    width, height = DESKTOP
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def sign_in(driver: WebDriver, token: str) -> None:
    """Paste the token into the sign-in form, as a regulator does."""
    visible(driver, "#token").send_keys(token)
    clickable(driver, "#token-form button[type=submit]").click()
    visible(driver, "#session-info")


def screenshot(driver: WebDriver, path: Path, *, desk: bool = True) -> Path:
    """The whole page as a PNG, at a desk's width unless `desk` is false."""
    if desk:
        desktop(driver)
        # Two frames: the page lays out (and redraws what it draws for its width) first.
        driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "requestAnimationFrame(() => requestAnimationFrame(() => done()));"
        )
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    width = metrics["cssLayoutViewport"]["clientWidth"]
    height = metrics["cssContentSize"]["height"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: `LENDGATE_CONSOLE_SCREENSHOTS` keeps them for a person to look at."""
    shots = Path(os.environ.get("LENDGATE_CONSOLE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def console_errors(driver: WebDriver) -> list[str]:
    """Errors in the browser's console: script errors, CSP violations, failed loads."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def horizontal_overflow(driver: WebDriver) -> int:
    """How many CSS pixels the page is wider than the window."""
    overflow: int = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return overflow


async def in_thread(steps: Callable[[], Any]) -> Any:
    """Run blocking Selenium steps off the event loop, which serves the twin gateway."""
    return await asyncio.to_thread(steps)
