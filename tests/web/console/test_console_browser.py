"""The regulator console in a real headless Chromium, against a gateway on a socket.

The regulator pastes a token minted with the SDK, sees the current tree head with its
signature verified by the browser (WebCrypto Ed25519), the latest co-signed head and its
consistency with the current one, the releases chart, browses entries, opens one and sees
its inclusion proof verified, and follows a compliance finding to the entries it cites.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from lendgate_sdk import LendgateAPIError, LendgateClient, RegulatorClient

from tests.support.browser import (
    LiveGateway,
    clickable,
    codes_shown,
    console_errors,
    horizontal_overflow,
    in_thread,
    screenshot,
    screenshot_dir,
    until,
    visible,
)
from tests.support.console import SCREENSHOTS, TOKEN_KEY, settled, sign_in

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver

BEIJING = ZoneInfo("Asia/Shanghai")
REFUSALS = 5  # enough for the report's "repeated refusals" finding


@dataclass
class Story:
    """What the lender, the borrowers and a witness left in the log."""

    regulator_id: str
    token: str
    lender_id: str


async def regulator_token(live: LiveGateway, *, cosign: bool) -> tuple[str, str]:
    """A new regulator's client_id and access token, minted with the SDK; it may co-sign first."""
    keys = await live.stack.register("regulator", name="示例监管机构")
    async with RegulatorClient(live.base_url, keys.client_id, keys.private_jwks) as regulator:
        if cosign:
            await regulator.cosign(await regulator.tree_head(), await regulator.gateway_jwks())
        return keys.client_id, await regulator.access_token()


async def fill_the_log(live: LiveGateway) -> Story:
    """Two releases, a revocation and refused releases after it; a witness co-signs a head."""
    lender_keys = await live.stack.register("lender", name="示例银行")
    async with LendgateClient(
        live.base_url, lender_keys.client_id, lender_keys.private_jwks
    ) as lender:
        first, _, _ = await live.stack.active_consent(lender)
        await lender.release(first)
        await lender.revoke(first)
        for _ in range(REFUSALS):
            with pytest.raises(LendgateAPIError) as refused:
                await lender.release(first)
            assert refused.value.code == "ConsentRevoked"
        second, _, _ = await live.stack.active_consent(lender)
        await lender.release(second)
    regulator_id, token = await regulator_token(live, cosign=True)
    return Story(regulator_id, token, lender_keys.client_id)


def beijing_day(ts: str) -> str:
    """The Beijing calendar day of a leaf's timestamp."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(BEIJING).date().isoformat()


async def releases_per_day(live: LiveGateway) -> dict[str, Counter[str]]:
    """release.granted / release.denied leaves per Beijing day, as the chart should count them."""
    since = datetime.now(UTC) - timedelta(days=31)
    counts: dict[str, Counter[str]] = {"granted": Counter(), "denied": Counter()}
    for leaf in await live.stack.audit_leaves():
        kind = {"release.granted": "granted", "release.denied": "denied"}.get(leaf["type"])
        if kind and datetime.fromisoformat(leaf["ts"].replace("Z", "+00:00")) >= since:
            counts[kind][beijing_day(leaf["ts"])] += 1
    return counts


def leaves_of(leaves: list[dict[str, Any]], event_type: str) -> list[int]:
    return [leaf["seq"] for leaf in leaves if leaf["type"] == event_type]


async def test_a_regulator_verifies_the_log_in_the_browser(
    live_gateway: LiveGateway, browser: WebDriver, tmp_path: Path
) -> None:
    live = live_gateway
    shots = screenshot_dir(tmp_path, SCREENSHOTS)
    taken: list[Path] = []
    codes: dict[str, list[str]] = {}
    story = await fill_the_log(live)
    per_day = await releases_per_day(live)
    leaves = await live.stack.audit_leaves()
    granted, denied = leaves_of(leaves, "release.granted"), leaves_of(leaves, "release.denied")
    ours = [leaf for leaf in leaves if leaf["lender_id"] == story.lender_id]
    our_denials = leaves_of(ours, "release.denied")
    assert len(leaves_of(ours, "release.granted")) == 2 and len(our_denials) == REFUSALS

    def overview() -> None:
        browser.get(f"{live.base_url}/regulator/")
        visible(browser, "#signin")
        assert not browser.find_elements("css selector", "#view:not([hidden])")
        codes["sign-in"] = codes_shown(browser)
        taken.append(screenshot(browser, shots / "console-1-sign-in.png"))
        sign_in(browser, story.token)
        assert story.regulator_id in visible(browser, "#session-info").text

        signature = settled(browser, "#sth-signature")
        assert signature.get_attribute("data-state") == "verified", signature.text
        assert signature.text.endswith("已在浏览器中验证")
        size = int(visible(browser, "#sth-size").text)
        assert size > max(granted + denied)
        assert len(visible(browser, "#sth-root").text) == 64

        cosigned = settled(browser, "#cosigned-signature")
        assert cosigned.get_attribute("data-state") == "verified", cosigned.text
        assert int(visible(browser, "#cosigned-size").text) < size
        witnesses = visible(browser, "#cosigned-cosignatures").text
        assert story.regulator_id in witnesses
        consistency = settled(browser, "#consistency")
        assert consistency.get_attribute("data-state") == "verified", consistency.text

        chart = visible(browser, "#release-chart")
        bars = chart.find_elements("css selector", "rect.bar")
        assert len(bars) == 60  # 30 days, granted and denied
        assert len(chart.find_elements("css selector", "rect.bar-granted")) == 30
        shown = {
            (bar.get_attribute("data-series"), bar.get_attribute("data-day")): int(
                bar.get_attribute("data-count") or -1
            )
            for bar in bars
        }
        for series, days in per_day.items():
            for day, count in days.items():
                assert shown[(series, day)] == count, (series, day)
        totals = {series: sum(days.values()) for series, days in per_day.items()}
        assert sum(c for (series, _), c in shown.items() if series == "granted") == len(granted)
        assert sum(c for (series, _), c in shown.items() if series == "denied") == len(denied)
        assert visible(browser, "#chart-total").text == (
            f"合计：放行 {totals['granted']}，拒绝 {totals['denied']}"
        )
        codes["overview"] = codes_shown(browser)
        taken.append(screenshot(browser, shots / "console-2-overview.png"))

    await in_thread(overview)

    def browse_to_a_release() -> None:
        clickable(browser, 'nav a[href^="/regulator/entries"]').click()
        visible(browser, "#entries-table")
        visible(browser, "#filter-type").send_keys("release.granted")
        clickable(browser, "#filter-form button[type=submit]").click()
        until(browser, lambda page: "type=release.granted" in page.current_url, "filtered URL")
        rows = visible(browser, "#entries-table").find_elements("css selector", "tbody tr")
        assert [int(row.get_attribute("data-index") or -1) for row in rows] == granted
        codes["entries"] = codes_shown(browser)
        taken.append(screenshot(browser, shots / "console-3-entries.png"))

        rows[0].find_element("css selector", "a[data-leaf]").click()
        until(browser, lambda page: page.current_url.endswith(f"/entries/{granted[0]}"), "entry")
        result = settled(browser, "#inclusion-verdict")
        assert result.get_attribute("data-state") == "verified", result.text
        assert f"已验证：第 {granted[0]} 号条目包含在大小为" in result.text
        steps = browser.find_elements("css selector", "#inclusion-result .step")
        assert [step.get_attribute("data-state") for step in steps] == ["verified"] * 3
        assert visible(browser, "#leaf").text.count("release.granted") == 1
        codes["entry"] = codes_shown(browser)
        taken.append(screenshot(browser, shots / "console-4-entry.png"))

        clickable(browser, ".lang-switch").click()
        until(browser, lambda page: page.find_element("css selector", "html[lang=en]"), "en")
        english = settled(browser, "#inclusion-verdict")
        assert f"Verified: entry {granted[0]} is in the signed tree head" in english.text
        codes["entry-en"] = codes_shown(browser)

    await in_thread(browse_to_a_release)

    def follow_a_finding() -> None:
        clickable(browser, 'nav a[href^="/regulator/compliance"]').click()
        visible(browser, "#report-lender").send_keys(story.lender_id)
        clickable(browser, "#report-form button[type=submit]").click()
        summary = visible(browser, "#report-summary")
        tiles = {
            tile.get_attribute("data-summary"): tile.find_element("css selector", "dd").text
            for tile in summary.find_elements("css selector", ".tile")
        }
        assert tiles == {
            "releases": "2",
            "compliant_releases": "2",
            "denied_releases": str(REFUSALS),
            "findings": "1",
        }
        head = settled(browser, "#report-head-signature")
        assert head.get_attribute("data-state") == "verified", head.text
        finding = visible(browser, '#findings tr[data-kind="repeated_denials"]')
        assert "Repeated refusals" in finding.text
        links = finding.find_elements("css selector", "a[data-leaf]")
        assert [int(link.get_attribute("data-leaf") or -1) for link in links] == our_denials
        checks = browser.find_elements("css selector", "#release-checks tbody tr")
        assert [row.get_attribute("data-compliant") for row in checks] == ["true", "true"]
        codes["compliance"] = codes_shown(browser)
        taken.append(screenshot(browser, shots / "console-5-compliance.png"))

        links[-1].click()
        result = settled(browser, "#inclusion-verdict")
        assert result.get_attribute("data-state") == "verified", result.text
        assert "release.denied" in visible(browser, "#leaf").text

        clickable(browser, "#sign-out").click()
        visible(browser, "#signin")
        assert browser.execute_script(f"return sessionStorage.getItem('{TOKEN_KEY}')") is None
        assert not browser.find_elements("css selector", "#inclusion-verdict")

    await in_thread(follow_a_finding)

    # No page shows a code outside the identifiers it shows on purpose (`code`, `pre`).
    assert {page: shown for page, shown in codes.items() if shown} == {}
    assert console_errors(browser) == []
    assert horizontal_overflow(browser) == 0
    for path in taken:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path.name
    # Every page's reads were the regulator's own, each on the log.
    reads = [
        leaf
        for leaf in await live.stack.audit_leaves()
        if leaf["type"] == "audit.read" and leaf["actor"] == f"regulator:{story.regulator_id}"
    ]
    assert len(reads) > 10
    assert any(read["reason"].startswith("inclusion proof ") for read in reads)


async def test_a_phone_sized_window_still_fits(
    live_gateway: LiveGateway, browser: WebDriver, tmp_path: Path
) -> None:
    live = live_gateway
    shots = screenshot_dir(tmp_path, SCREENSHOTS)
    _, token = await regulator_token(live, cosign=True)

    def on_a_phone() -> None:
        browser.get(f"{live.base_url}/regulator/?lang=en")
        sign_in(browser, token)
        signature = settled(browser, "#sth-signature")
        assert signature.get_attribute("data-state") == "verified", signature.text
        assert signature.text.endswith("Verified in this browser")
        settled(browser, "#consistency")
        visible(browser, "#release-chart")
        assert horizontal_overflow(browser) == 0
        screenshot(browser, shots / "console-phone-overview.png", desk=False)
        browser.get(f"{live.base_url}/regulator/entries?lang=en")
        visible(browser, "#entries-table")
        assert horizontal_overflow(browser) == 0
        screenshot(browser, shots / "console-phone-entries.png", desk=False)

    await in_thread(on_a_phone)
    assert console_errors(browser) == []


async def test_a_refused_token_asks_for_a_new_one(
    live_gateway: LiveGateway, browser: WebDriver
) -> None:
    live = live_gateway
    _, token = await regulator_token(live, cosign=False)
    lender_token = await _lender_token(live)

    def refusals() -> None:
        browser.get(f"{live.base_url}/regulator/entries")
        visible(browser, "#token").send_keys("not a token")
        clickable(browser, "#token-form button[type=submit]").click()
        assert "三段" in visible(browser, "#alert").text
        assert browser.execute_script(f"return sessionStorage.getItem('{TOKEN_KEY}')") is None

        # A lender's token is a real token, but not for the audit log.
        visible(browser, "#token").clear()
        sign_in(browser, lender_token)
        assert "audit:read" in visible(browser, "#alert").text

        # A token the gateway no longer accepts sends the regulator back to sign in.
        browser.execute_script(
            f"sessionStorage.setItem('{TOKEN_KEY}', JSON.stringify({{"
            f"token: {json.dumps(token[:-4] + 'AAAA')}, client: 'x', "
            "expiresAt: Date.now() + 60000}));"
        )
        browser.refresh()
        visible(browser, "#signin")
        assert "网关拒绝了此令牌" in visible(browser, "#alert").text
        assert browser.execute_script(f"return sessionStorage.getItem('{TOKEN_KEY}')") is None

    await in_thread(refusals)


async def _lender_token(live: LiveGateway) -> str:
    keys = await live.stack.register("lender", name="示例银行")
    async with LendgateClient(live.base_url, keys.client_id, keys.private_jwks) as lender:
        return await lender.access_token()
