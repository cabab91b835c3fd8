"""The borrower's whole journey in a real headless Chromium, against a gateway on a socket."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gateway.sdk.lender import LendgateAPIError, LendgateClient
from tests.portal.conftest import PHONE_VIEWPORT, LiveGateway

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05
FUNDER = "示例消费金融有限公司"


def _until(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=POLL_SECONDS).until(
        condition, f"timed out waiting for {what}"
    )


def _visible(driver: WebDriver, selector: str) -> WebElement:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    element: WebElement = _until(
        driver, ec.visibility_of_element_located((By.CSS_SELECTOR, selector)), selector
    )
    return element


def _clickable(driver: WebDriver, selector: str) -> WebElement:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    element: WebElement = _until(
        driver, ec.element_to_be_clickable((By.CSS_SELECTOR, selector)), selector
    )
    return element


def _status(driver: WebDriver, status: str) -> WebElement:
    return _visible(driver, f'#consent-status[data-status="{status}"]')


def _newest_code(live: LiveGateway, phone: str, after: str | None) -> str:
    """The newest code texted to `phone`, waiting until it differs from `after`."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        code = live.stack.last_code(phone)
        if code != after:
            return code
        if time.monotonic() > deadline:
            raise AssertionError("no new one-time code arrived in the SMS outbox")
        time.sleep(POLL_SECONDS)


def _console_errors(driver: WebDriver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    # The browser blocks; the live gateway runs on its own loop, but the test's loop
    # still serves the twin, so blocking work goes to a thread.
    return await asyncio.to_thread(function, *args)


async def test_borrower_logs_in_approves_and_revokes_in_a_browser(
    live_gateway: LiveGateway, browser: WebDriver, tmp_path: Path
) -> None:
    started = time.monotonic()
    live = live_gateway
    registered = await live.stack.register("lender", name="示例银行")
    person = live.stack.person()
    async with LendgateClient(
        live.base_url, registered.client_id, registered.private_jwks
    ) as lender:
        requested = await lender.request_consent(
            live.stack.consent_body(person, on_behalf_of=FUNDER)
        )
        consent_id = requested["consent_id"]
        assert requested["approval_url"] == f"{live.base_url}/portal/consents/{consent_id}"

        def log_in_and_approve() -> None:
            browser.get(requested["approval_url"])
            _visible(browser, "#phone").send_keys(person.phone)
            _clickable(browser, "#phone-form button[type=submit]").click()
            _visible(browser, "#login-code").send_keys(_newest_code(live, person.phone, None))
            login_code = live.stack.last_code(person.phone)
            _clickable(browser, "#code-form button[type=submit]").click()

            _status(browser, "PENDING")
            assert _visible(browser, "#lender-name").text == "示例银行"
            assert FUNDER in _visible(browser, "#on-behalf-of").text
            assert "先消费后还款" in _visible(browser, "#consent-title").text
            sources = _visible(browser, ".chips").text
            assert "社保" in sources and "公积金" in sources and "征信" in sources
            assert "138****" not in browser.page_source or person.phone.startswith("138")

            _clickable(browser, '[data-action="approve"]').click()
            step_up = _newest_code(live, person.phone, login_code)
            _visible(browser, "#approve-code").send_keys(step_up)
            _clickable(browser, '[data-action="confirm-approve"]').click()
            assert _status(browser, "ACTIVE").text == "已生效"
            assert _visible(browser, "#notice").text == "您已同意，授权已生效。"

        await _in_thread(log_in_and_approve)
        assert (await lender.get_consent(consent_id))["status"] == "ACTIVE"
        release = await lender.release(consent_id)

        def see_the_access_then_revoke() -> None:
            browser.refresh()
            access = _visible(browser, f'.access[data-release-id="{release.release_id}"]')
            assert f"获取了 {len(release.features)} 项结果" in access.text
            _clickable(browser, '[data-action="revoke"]').click()
            _clickable(browser, '[data-action="confirm-revoke"]').click()
            assert _status(browser, "REVOKED").text == "已撤回"
            assert "已随数据密钥一并销毁" in _visible(browser, ".access").text
            assert not browser.find_elements("css selector", "[data-action]")

        await _in_thread(see_the_access_then_revoke)

        with pytest.raises(LendgateAPIError) as refused:
            await lender.release(consent_id)
        assert refused.value.code == "ConsentRevoked"
        assert (await lender.get_consent(consent_id))["status"] == "REVOKED"

    types = await live.stack.audit_types(consent_id)
    assert types[:2] == ["consent.requested", "consent.approved"]
    assert {"consent.revoked", "key.shredded"} <= set(types)
    assert await live.stack.release_count(consent_id) == 1

    screenshot = Path(os.environ.get("LENDGATE_PORTAL_SCREENSHOT", tmp_path / "portal.png"))

    def take_screenshot() -> None:
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(PHONE_VIEWPORT[0], max(PHONE_VIEWPORT[1], int(height)))
        assert browser.save_screenshot(str(screenshot))

    await _in_thread(take_screenshot)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000
    assert _console_errors(browser) == []
    assert time.monotonic() - started < 20
