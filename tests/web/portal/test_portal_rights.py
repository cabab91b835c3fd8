"""The borrower's rights reach the portal: their masked identity as the lender gave it, the
signed receipts to view and download, every access across consents, the complete copy
(PIPL Art. 45), and deleting what the gateway keeps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from lendgate_sdk import LendgateClient

from tests.support.browser import (
    LiveGateway,
    clickable,
    codes_shown,
    downloaded,
    in_thread,
    until,
    visible,
)

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver


async def test_receipts_accesses_export_and_deletion_in_the_portal(
    live_gateway: LiveGateway, browser: WebDriver, tmp_path: Path
) -> None:
    live = live_gateway
    registered = await live.stack.register("lender", name="示例银行")
    person = live.stack.person()
    auth = await live.stack.borrower_login(person.phone)
    async with LendgateClient(
        live.base_url, registered.client_id, registered.private_jwks
    ) as lender:
        kept = (await lender.request_consent(live.stack.consent_body(person)))["consent_id"]
        deleted = (await lender.request_consent(live.stack.consent_body(person)))["consent_id"]
        for consent_id in (kept, deleted):
            approved = await live.stack.approve(consent_id, person.phone, auth)
            assert approved.status_code == 200, approved.text
        release = await lender.release(kept)
    given = (
        await live.stack.http.get(f"/v1/borrower/consents/{kept}/receipt", headers=auth)
    ).json()
    masked_id = person.id_number[:3] + "*" * 11 + person.id_number[-4:]
    codes: dict[str, list[str]] = {}

    def in_the_browser() -> None:
        browser.get(f"{live.base_url}/portal/consents/{kept}")
        visible(browser, "#phone").send_keys(person.phone)
        clickable(browser, "#phone-form button[type=submit]").click()
        visible(browser, "#login-code").send_keys(live.stack.last_code(person.phone))
        clickable(browser, "#code-form button[type=submit]").click()
        visible(browser, '#consent-status[data-status="ACTIVE"]')

        identity = visible(browser, "#identity-given").text
        assert person.name[0] + "*" in identity and masked_id in identity
        assert person.id_number not in visible(browser, "main").text

        receipt = visible(browser, '.receipt[data-kind="consent"]')
        assert "同意回执" in receipt.text
        codes["consent"] = codes_shown(browser)
        clickable(browser, '[data-download="receipt-consent"]').click()
        saved = json.loads(downloaded(tmp_path, f"lendgate-consent-receipt-{kept}.json"))
        assert saved["jws"] == given["consent_receipt"]["jws"]

        clickable(browser, '[data-action="revoke"]').click()
        clickable(browser, '[data-action="confirm-revoke"]').click()
        visible(browser, '#consent-status[data-status="REVOKED"]')
        clickable(browser, '[data-download="receipt-withdrawal"]').click()
        withdrawal = json.loads(downloaded(tmp_path, f"lendgate-withdrawal-receipt-{kept}.json"))
        assert withdrawal["kind"] == "withdrawal" and withdrawal["jws"].count(".") == 2
        codes["revoked"] = codes_shown(browser)

        browser.get(f"{live.base_url}/portal/consents/{deleted}")
        visible(browser, '#consent-status[data-status="ACTIVE"]')
        clickable(browser, '[data-action="delete-data"]').click()
        # In force: deleting revokes first, and the page says so before asking.
        confirm = clickable(browser, '[data-action="confirm-delete-data"]')
        assert "先撤回授权" in visible(browser, "#delete-data").text
        confirm.click()
        visible(browser, '#consent-status[data-status="REVOKED"]')
        assert visible(browser, "#notice").text == "Lendgate 为这项授权保存的您的数据已删除。"
        assert not browser.find_elements("css selector", '[data-action="delete-data"]')
        assert "Lendgate 为您保存的副本销毁时间" in visible(browser, ".terms").text

        browser.get(f"{live.base_url}/portal/")
        clickable(browser, "#data-link").click()
        access = visible(browser, f'#all-accesses .access[data-release-id="{release.release_id}"]')
        assert "示例银行" in access.text and "社保正常缴纳" in access.text
        codes["data"] = codes_shown(browser)
        clickable(browser, '[data-download="export"]').click()
        copy = json.loads(downloaded(tmp_path, "lendgate-export.json"))
        assert copy["format"] == "lendgate-borrower-export/1"
        assert {consent["consent_id"] for consent in copy["consents"]} >= {kept, deleted}

        clickable(browser, ".lang-switch").click()
        until(browser, lambda page: page.find_element("css selector", "html[lang=en]"), "en")
        visible(browser, f'#all-accesses .access[data-release-id="{release.release_id}"]')
        assert "Download a complete copy" in visible(browser, '[data-download="export"]').text
        codes["data-en"] = codes_shown(browser)

    await in_thread(in_the_browser)
    assert {page: shown for page, shown in codes.items() if shown} == {}
    leaves = await live.stack.audit_leaves()
    assert any(leaf["type"] == "key.shredded" and leaf["consent_id"] == deleted for leaf in leaves)
