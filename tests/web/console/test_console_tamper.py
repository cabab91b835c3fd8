"""The console says "failed" when the log was changed behind the gateway's back.

An operator (or an attacker with the database) rewrites a leaf, rewrites another leaf
together with the hash the log lists for it, and alters a co-signed tree head. The
browser must catch each: the tree the gateway signed is what it checks against.
This module has a gateway and database of its own, since it breaks the log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from lendgate_sdk import LendgateClient, RegulatorClient

from gateway.audit.merkle import canonical_json, leaf_hash
from tests.support.audit import behind_the_gateways_back, stored_leaf
from tests.support.browser import LiveGateway, in_thread, screenshot, screenshot_dir, visible
from tests.support.console import SCREENSHOTS, settled, sign_in

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver


async def test_a_rewritten_log_fails_in_the_browser(
    live_gateway: LiveGateway, browser: WebDriver, tmp_path: Path
) -> None:
    live = live_gateway
    shots = screenshot_dir(tmp_path, SCREENSHOTS)
    lender_keys = await live.stack.register("lender", name="示例银行")
    regulator_keys = await live.stack.register("regulator", name="示例监管机构")
    async with LendgateClient(
        live.base_url, lender_keys.client_id, lender_keys.private_jwks
    ) as lender:
        consent_id, _, _ = await live.stack.active_consent(lender)
        release = await lender.release(consent_id)
    async with RegulatorClient(
        live.base_url, regulator_keys.client_id, regulator_keys.private_jwks
    ) as regulator:
        cosigned = await regulator.cosign(
            await regulator.tree_head(), await regulator.gateway_jwks()
        )
        token = await regulator.access_token()
    granted = release.audit["leaf_index"]
    approved = next(
        leaf["seq"]
        for leaf in await live.stack.audit_leaves(consent_id)
        if leaf["type"] == "consent.approved"
    )

    # 1. The release's leaf now names another purpose; its listed hash is left alone.
    leaf = json.loads(await stored_leaf(live.stack, granted))
    leaf["purpose"] = "credit_line_assessment"
    # 2. The approval's leaf is rewritten along with the hash listed beside it.
    other = json.loads(await stored_leaf(live.stack, approved))
    other["actor"] = "borrower:someone-else"
    rewritten = canonical_json(other)
    await behind_the_gateways_back(
        live.stack,
        "audit_entries",
        (
            "UPDATE audit_entries SET leaf = :leaf WHERE seq = :seq",
            {"leaf": canonical_json(leaf).decode(), "seq": granted},
        ),
        (
            "UPDATE audit_entries SET leaf = :leaf, leaf_hash = :hash WHERE seq = :seq",
            {"leaf": rewritten.decode(), "hash": leaf_hash(rewritten).hex(), "seq": approved},
        ),
    )
    # 3. The co-signed head now shows another root than the one signed.
    await behind_the_gateways_back(
        live.stack,
        "audit_tree_heads",
        (
            "UPDATE audit_tree_heads SET root_hash = :root WHERE tree_size = :size",
            {"root": "00" * 32, "size": cosigned["tree_size"]},
        ),
    )

    def look() -> None:
        browser.get(f"{live.base_url}/regulator/entries/{granted}")
        sign_in(browser, token)
        verdict = settled(browser, "#inclusion-verdict")
        assert verdict.get_attribute("data-state") == "failed"
        assert "条目内容的哈希与叶哈希不一致" in verdict.text
        steps = browser.find_elements("css selector", "#inclusion-result .step")
        assert [step.get_attribute("data-state") for step in steps] == [
            "failed",
            "skipped",
            "verified",
        ]
        screenshot(browser, shots / "console-tampered-leaf.png")

        browser.get(f"{live.base_url}/regulator/entries/{approved}")
        verdict = settled(browser, "#inclusion-verdict")
        assert verdict.get_attribute("data-state") == "failed"
        assert "包含证明推出的根哈希与签名树头不一致" in verdict.text
        steps = browser.find_elements("css selector", "#inclusion-result .step")
        assert [step.get_attribute("data-state") for step in steps] == [
            "verified",
            "failed",
            "verified",
        ]

        browser.get(f"{live.base_url}/regulator/")
        current = settled(browser, "#sth-signature")
        assert current.get_attribute("data-state") == "verified"
        head = settled(browser, "#cosigned-signature")
        assert head.get_attribute("data-state") == "failed"
        assert "显示的字段与签名内容不一致" in head.text
        consistency = settled(browser, "#consistency")
        assert consistency.get_attribute("data-state") == "failed"
        assert not browser.find_elements("css selector", '[data-state="verified"]#consistency')
        assert visible(browser, "#cosigned-size").text == str(cosigned["tree_size"])
        screenshot(browser, shots / "console-tampered-head.png")

    await in_thread(look)
