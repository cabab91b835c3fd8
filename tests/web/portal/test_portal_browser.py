"""The borrower's whole journey in a real headless Chromium, against a gateway on a socket."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lendgate_sdk import LendgateAPIError, LendgateClient

from tests.support.browser import (
    POLL_SECONDS,
    WAIT_SECONDS,
    LiveGateway,
    both_sizes,
    clickable,
    codes_shown,
    console_errors,
    horizontal_overflow,
    in_thread,
    screenshot_dir,
    until,
    visible,
    visible_now,
)

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver
    from selenium.webdriver.remote.webelement import WebElement

FUNDER = "示例消费金融有限公司"
SCREENSHOTS = "LENDGATE_PORTAL_SCREENSHOTS"


def _status(driver: WebDriver, status: str) -> WebElement:
    return visible(driver, f'#consent-status[data-status="{status}"]')


def _newest_code(live: LiveGateway, phone: str, after: str | None) -> str:
    """The newest code texted to `phone`, waiting until it differs from `after`."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            code: str | None = live.stack.last_code(phone)
        except (FileNotFoundError, IndexError):
            code = None  # nothing texted to this phone yet
        if code is not None and code != after:
            return code
        if time.monotonic() > deadline:
            raise AssertionError("no new one-time code arrived in the SMS outbox")
        time.sleep(POLL_SECONDS)


def _in_view(driver: WebDriver, selector: str) -> bool:
    """Whether the element is wholly inside the window, without scrolling."""
    return bool(
        driver.execute_script(
            "const box = document.querySelector(arguments[0]).getBoundingClientRect();"
            "return box.top >= 0 && box.bottom <= window.innerHeight && box.height > 0;",
            selector,
        )
    )


def _assert_pictures(paths: list[Path]) -> None:
    """Each path holds a PNG with something drawn in it."""
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path.name
        assert path.stat().st_size > 20_000, path.name


async def test_borrower_logs_in_approves_and_revokes_in_a_browser(
    live_gateway: LiveGateway, browser: WebDriver, tmp_path: Path
) -> None:
    live = live_gateway
    shots = screenshot_dir(tmp_path, SCREENSHOTS)
    taken: list[Path] = []
    registered = await live.stack.register("lender", name="示例银行")
    person = live.stack.person()
    async with LendgateClient(
        live.base_url, registered.client_id, registered.private_jwks
    ) as lender:
        requested = await lender.request_consent(
            live.stack.consent_body(
                person, on_behalf_of={"name": FUNDER, "credit_code": "91110000100000000R"}
            )
        )
        consent_id = requested["consent_id"]
        assert requested["approval_url"] == f"{live.base_url}/portal/consents/{consent_id}"

        def log_in_and_approve() -> None:
            browser.get(requested["approval_url"])
            visible(browser, "#phone").send_keys(person.phone)
            taken.extend(both_sizes(browser, shots, "1-login"))
            clickable(browser, "#phone-form button[type=submit]").click()
            login_code = _newest_code(live, person.phone, None)
            resend = visible(browser, "#resend-login-code")
            assert "秒后可重新获取" in resend.text and not resend.is_enabled()
            visible(browser, "#login-code").send_keys(login_code)
            clickable(browser, "#code-form button[type=submit]").click()

            _status(browser, "PENDING")
            # On a phone, agree and reject stay in view from the first screen.
            assert _in_view(browser, '[data-action="approve"]')
            assert _in_view(browser, '[data-action="reject"]')
            masked = person.phone[:3] + "****" + person.phone[-4:]
            assert visible(browser, "#session-info").text.endswith(masked)
            assert person.phone not in visible(browser, "main").text
            assert visible(browser, "#lender-name").text == "示例银行"
            assert FUNDER in visible(browser, "#on-behalf-of").text
            assert "先消费后还款" in visible(browser, "#consent-title").text
            assert visible(browser, ".chips").text.split() == ["社保", "公积金", "征信"]
            assert codes_shown(browser) == []
            taken.extend(both_sizes(browser, shots, "2-pending"))

            # The letter is read before agreeing; a credit query's record is said plainly.
            assert "留下一条查询记录" in visible(browser, "#credit-note").text
            browser.get(str(visible(browser, "#letter-page").get_attribute("href")))
            assert visible(browser, "#letter-title").text == "征信查询及个人信息授权书"
            assert "同意后生成" in visible(browser, "#letter-closing").text
            assert codes_shown(browser) == []
            browser.back()
            _status(browser, "PENDING")

            clickable(browser, '[data-action="approve"]').click()
            step_up = _newest_code(live, person.phone, login_code)
            visible(browser, "#approve-code").send_keys(step_up)
            taken.extend(both_sizes(browser, shots, "3-step-up"))
            clickable(browser, '[data-action="confirm-approve"]').click()
            assert _status(browser, "ACTIVE").text == "已生效"
            assert visible(browser, "#notice").text == "您已同意，授权已生效。"
            # The answer is where the eyes are.
            until(browser, lambda page: _in_view(page, "#notice"), "the answer in view")

        await in_thread(log_in_and_approve)
        assert (await lender.get_consent(consent_id))["status"] == "ACTIVE"
        release = await lender.release(consent_id)

        def see_the_access_then_revoke() -> None:
            browser.refresh()
            access = visible(browser, f'.access[data-release-id="{release.release_id}"]')
            assert f"获取了 {len(release.features)} 项结果" in access.text
            access.find_element("css selector", "summary").click()
            shown = visible(browser, ".access .values").text
            # Every value in the catalog's words: yes/no and codes by label, bands with 元.
            assert "社保正常缴纳" in shown and codes_shown(browser) == []
            taken.extend(both_sizes(browser, shots, "4-active"))
            clickable(browser, '[data-action="revoke"]').click()
            clickable(browser, '[data-action="confirm-revoke"]')
            taken.extend(both_sizes(browser, shots, "5-confirm-revoke"))
            clickable(browser, '[data-action="confirm-revoke"]').click()
            assert _status(browser, "REVOKED").text == "已撤回"
            assert "已随数据密钥一并销毁" in visible(browser, ".access").text
            holds = visible(browser, "#lender-holds").text
            assert "对方仍可能保存 1 次获取的结果" in holds, holds
            assert "Lendgate 为您保存的副本销毁时间" in visible(browser, ".terms").text
            assert codes_shown(browser) == []
            assert not browser.find_elements("css selector", "[data-action]")
            taken.extend(both_sizes(browser, shots, "6-revoked"))

        await in_thread(see_the_access_then_revoke)

        with pytest.raises(LendgateAPIError) as refused:
            await lender.release(consent_id)
        assert refused.value.code == "ConsentRevoked"
        assert (await lender.get_consent(consent_id))["status"] == "REVOKED"

    types = await live.stack.audit_types(consent_id)
    assert types[:2] == ["consent.requested", "consent.approved"]
    assert {"consent.revoked", "key.shredded"} <= set(types)
    assert await live.stack.release_count(consent_id) == 1

    assert len(taken) == 12
    _assert_pictures(taken)
    assert console_errors(browser) == []
    assert horizontal_overflow(browser) == 0


async def test_refusals_read_as_plain_words_and_nothing_changes(
    live_gateway: LiveGateway, browser: WebDriver
) -> None:
    live = live_gateway
    registered = await live.stack.register("lender", name="示例银行")
    person = live.stack.person()
    async with LendgateClient(
        live.base_url, registered.client_id, registered.private_jwks
    ) as lender:
        requested = await lender.request_consent(live.stack.consent_body(person))
        consent_id = requested["consent_id"]

        def wrong_codes_then_a_lost_session() -> None:
            browser.get(requested["approval_url"])
            visible(browser, "#phone").send_keys(person.phone)
            clickable(browser, "#phone-form button[type=submit]").click()
            login_code = _newest_code(live, person.phone, None)
            wrong = f"{(int(login_code) + 1) % 1_000_000:06d}"
            visible(browser, "#login-code").send_keys(wrong)
            clickable(browser, "#code-form button[type=submit]").click()
            assert visible(browser, "#alert").text == "验证码错误或已过期"

            code_input = visible(browser, "#login-code")
            code_input.clear()
            code_input.send_keys(login_code)
            clickable(browser, "#code-form button[type=submit]").click()
            _status(browser, "PENDING")
            assert not visible_now(browser, "#alert")

            clickable(browser, '[data-action="approve"]').click()
            step_up = _newest_code(live, person.phone, login_code)
            visible(browser, "#approve-code").send_keys(f"{(int(step_up) + 1) % 1_000_000:06d}")
            clickable(browser, '[data-action="confirm-approve"]').click()
            assert visible(browser, "#alert").text == "验证码错误或已过期"
            assert _status(browser, "PENDING").text == "待您确认"

            clickable(browser, ".lang-switch").click()
            until(browser, lambda page: page.find_element("css selector", "html[lang=en]"), "en")
            assert _status(browser, "PENDING").text == "Awaiting your decision"

            # A session the gateway no longer accepts sends the borrower back to log in. The
            # session is an HttpOnly cookie the page's script cannot read; the driver can.
            cookie = browser.get_cookie("lendgate_session")
            assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert "lendgate_session" not in browser.execute_script("return document.cookie")
            browser.delete_cookie("lendgate_session")
            browser.add_cookie({**cookie, "value": cookie["value"][:-4] + "AAAA"})
            browser.refresh()
            visible(browser, "#phone")
            assert "Your session has ended" in visible(browser, "#alert").text
            assert not browser.find_elements("css selector", "#consent-status")

        await in_thread(wrong_codes_then_a_lost_session)
        # The refused calls show up as failed loads; the script itself must not fail.
        assert console_errors(browser, "javascript") == []
        assert (await lender.get_consent(consent_id))["status"] == "PENDING"

    types = await live.stack.audit_types(consent_id)
    assert types == ["consent.requested", "consent.approval_failed"]
