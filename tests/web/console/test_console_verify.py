"""The console's in-browser checks (verify.js), run in headless Chromium against known answers.

They must agree with the gateway's own Merkle code and the Certificate Transparency test
vectors, and say "verified" only when it is: every altered proof, root, leaf or signature
must fail.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lendgate_sdk import LendgateClient, RegulatorClient, jose

from gateway.audit.merkle import MemoryTree, canonical_json, leaf_hash
from tests.support.browser import LiveGateway, in_thread, visible
from tests.support.console import settled, sign_in
from tests.support.merkle import CT_LEAVES, CT_PATHS, CT_PROOFS, CT_ROOTS

if TYPE_CHECKING:
    from selenium.webdriver import Chrome as WebDriver

Call = tuple[str, list[Any]]

RUN_CALLS = """
const [calls, done] = arguments;
import("/regulator/static/verify.js")
  .then((verify) => Promise.all(calls.map(([name, args]) => verify[name](...args))))
  .then(
    (results) => done(JSON.stringify(results)),
    (error) => done(JSON.stringify({ error: String(error) })),
  );
"""


def run(browser: WebDriver, calls: list[Call]) -> list[Any]:
    """Call functions of the verification module (verify.js) in the page; their results,
    in order."""
    answer = json.loads(browser.execute_async_script(RUN_CALLS, calls))
    assert isinstance(answer, list), answer
    return answer


def states(results: list[Any]) -> list[str]:
    return [result["state"] for result in results]


def flipped(hex_hash: str) -> str:
    """The same hash with its first bit changed."""
    return f"{int(hex_hash[0], 16) ^ 8:x}" + hex_hash[1:]


def tree_head(key: Ed25519PrivateKey, kid: str, **claims: Any) -> dict[str, Any]:
    signed = {"tree_size": 5, "root_hash": "ab" * 32, "timestamp": 1_763_856_000_123, **claims}
    return {**signed, "sth": jose.sign_jwt(signed, key, kid, typ="sth+jwt")}


async def open_console(live: LiveGateway, browser: WebDriver) -> None:
    def load() -> None:
        browser.get(f"{live.base_url}/regulator/")
        visible(browser, "#signin")

    await in_thread(load)


async def test_reference_vectors_verify(live_gateway: LiveGateway, browser: WebDriver) -> None:
    await open_console(live_gateway, browser)
    leaves = [leaf.hex() for leaf in CT_LEAVES]
    calls: list[Call] = [
        ("verifyInclusion", [index, size, leaves[index], path, CT_ROOTS[size - 1]])
        for index, size, path in CT_PATHS
    ]
    calls += [
        ("verifyConsistency", [first, second, CT_ROOTS[first - 1], CT_ROOTS[second - 1], path])
        for first, second, path in CT_PROOFS
    ]

    results = await in_thread(lambda: run(browser, calls))

    assert states(results) == ["verified"] * len(calls)


async def test_every_proof_of_small_trees_verifies_and_every_altered_one_fails(
    live_gateway: LiveGateway, browser: WebDriver
) -> None:
    await open_console(live_gateway, browser)
    hashes = [leaf_hash(f"leaf {i}".encode()) for i in range(33)]
    tree = MemoryTree(hashes)
    good: list[Call] = []
    bad: list[Call] = []
    for size in range(1, tree.size + 1):
        root = tree.root(size).hex()
        for index in range(size):
            path = [h.hex() for h in tree.inclusion_proof(index, size)]
            leaf = hashes[index].hex()
            good.append(("verifyInclusion", [index, size, leaf, path, root]))
            bad.append(("verifyInclusion", [index, size, flipped(leaf), path, root]))
            bad.append(("verifyInclusion", [index, size, leaf, path, flipped(root)]))
            bad.append(
                ("verifyInclusion", [index, size, leaf, [*path, path[0] if path else root], root])
            )
            if path:
                bad.append(("verifyInclusion", [index, size, leaf, path[:-1], root]))
                bad.append(
                    ("verifyInclusion", [index, size, leaf, [flipped(path[0]), *path[1:]], root])
                )
            if index + 1 < size:
                bad.append(("verifyInclusion", [index + 1, size, leaf, path, root]))
        for first in range(1, size + 1):
            path = [h.hex() for h in tree.consistency_proof(first, size)]
            first_root = tree.root(first).hex()
            good.append(("verifyConsistency", [first, size, first_root, root, path]))
            bad.append(("verifyConsistency", [first, size, flipped(first_root), root, path]))
            bad.append(("verifyConsistency", [first, size, first_root, flipped(root), path]))
            if path:
                bad.append(("verifyConsistency", [first, size, first_root, root, path[:-1]]))
                bad.append(
                    (
                        "verifyConsistency",
                        [first, size, first_root, root, [*path[:-1], flipped(path[-1])]],
                    )
                )

    verified = await in_thread(lambda: run(browser, good))
    refused = await in_thread(lambda: run(browser, bad))

    assert states(verified) == ["verified"] * len(good)
    assert len(bad) > 2000
    wrongly = [call for call, state in zip(bad, states(refused), strict=True) if state != "failed"]
    assert wrongly == []


async def test_leaves_hash_exactly_as_the_gateway_hashes_them(
    live_gateway: LiveGateway, browser: WebDriver
) -> None:
    await open_console(live_gateway, browser)
    live = live_gateway
    keys = await live.stack.register()
    async with LendgateClient(live.base_url, keys.client_id, keys.private_jwks) as lender:
        consent_id, _, _ = await live.stack.active_consent(lender)
        await lender.release(consent_id)
    leaves: list[dict[str, Any]] = await live_gateway.stack.audit_leaves()
    leaves += [
        {"seq": 1, "reason": '引号"、反斜杠\\、换行\n、制表\t、控制\u0001\u001f、删除\u007f'},
        {"z": [], "a": {"é": None, "e": [1, -2, 9_007_199_254_740_991]}, "É": "\u2028\u2029"},
        {"emoji": "🧾 𠀀", "mixed": ["x", 0, None, True, False]},
    ]

    hashes = await in_thread(lambda: run(browser, [("leafHashOf", [leaf]) for leaf in leaves]))

    assert hashes == [leaf_hash(canonical_json(leaf)).hex() for leaf in leaves]


async def test_numbers_it_cannot_write_exactly_are_refused_not_guessed(
    live_gateway: LiveGateway, browser: WebDriver
) -> None:
    await open_console(live_gateway, browser)
    entry = {"index": 0, "leaf": {"seq": 0, "amount": 0.1}, "leaf_hash": "00" * 32}
    proof = {"leaf_index": 0, "tree_size": 1, "inclusion_path": []}
    head = {"tree_size": 1, "root_hash": "00" * 32}
    signature = {"state": "verified", "claims": head}

    (checked,) = await in_thread(
        lambda: run(browser, [("verifyEntry", [entry, proof, head, signature])])
    )

    assert checked["overall"]["state"] == "failed"
    assert checked["steps"]["leaf"]["reason"] == "not_canonical"


async def test_tree_head_signatures(live_gateway: LiveGateway, browser: WebDriver) -> None:
    await open_console(live_gateway, browser)
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    jwks = {"keys": [jose.public_jwk(key, "gw-1")]}
    head = tree_head(key, "gw-1")
    header, claims, signature = head["sth"].split(".")
    unsigned = jose.sign_jwt({"tree_size": 5}, key, "gw-1", typ="JWT")
    cases: list[tuple[dict[str, Any], dict[str, Any], str | None]] = [
        (head, jwks, None),
        ({**head, "tree_size": 6}, jwks, "claims_mismatch"),
        ({**head, "root_hash": "cd" * 32}, jwks, "claims_mismatch"),
        (tree_head(other, "gw-1"), jwks, "bad_signature"),
        ({**head, "sth": f"{header}.{claims}.{signature[:-4]}AAAA"}, jwks, "bad_signature"),
        (tree_head(key, "gw-2"), jwks, "unknown_key"),
        ({**head, "sth": unsigned}, jwks, "bad_type"),
        ({**head, "sth": f"{_b64({'alg': 'none', 'typ': 'sth+jwt'})}.{claims}."}, jwks, "bad_alg"),
        (
            {**head, "sth": f"{_b64({'alg': 'HS256', 'kid': 'gw-1'})}.{claims}.{signature}"},
            jwks,
            "bad_alg",
        ),
        ({**head, "sth": "not a jws"}, jwks, "malformed"),
        (head, {"keys": []}, "unknown_key"),
    ]

    results = await in_thread(
        lambda: run(browser, [("verifyTreeHead", [head, keys]) for head, keys, _ in cases])
    )

    assert results[0]["state"] == "verified"
    assert results[0]["claims"] == {
        name: head[name] for name in ("tree_size", "root_hash", "timestamp")
    }
    assert results[0]["kid"] == "gw-1"
    assert [(r["state"], r["reason"]) for r in results[1:]] == [
        ("failed", reason) for _, _, reason in cases[1:]
    ]


def _b64(header: dict[str, Any]) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()


async def test_without_webcrypto_nothing_reads_verified(
    live_gateway: LiveGateway, browser: WebDriver
) -> None:
    live = live_gateway
    keys = await live.stack.register("regulator", name="示例监管机构")
    async with RegulatorClient(live.base_url, keys.client_id, keys.private_jwks) as regulator:
        await regulator.cosign(await regulator.tree_head(), await regulator.gateway_jwks())
        token = await regulator.access_token()

    def without_webcrypto() -> None:
        # As on a page served over plain HTTP from another host: no SubtleCrypto at all.
        browser.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": "Object.defineProperty(crypto, 'subtle', { get: () => undefined });"},
        )
        browser.get(f"{live.base_url}/regulator/")
        sign_in(browser, token)
        for selector in ("#sth-signature", "#cosigned-signature", "#consistency"):
            verdict = settled(browser, selector)
            assert verdict.get_attribute("data-state") == "unavailable", selector
            assert "安全上下文" in verdict.text
        browser.get(f"{live.base_url}/regulator/entries/1")
        verdict = settled(browser, "#inclusion-verdict")
        assert verdict.get_attribute("data-state") == "unavailable"
        assert not browser.find_elements("css selector", '[data-state="verified"]')

    await in_thread(without_webcrypto)


async def test_a_browser_without_ed25519_says_so(
    live_gateway: LiveGateway, browser: WebDriver
) -> None:
    await open_console(live_gateway, browser)
    key = Ed25519PrivateKey.generate()
    head = tree_head(key, "gw-1")
    jwks = {"keys": [jose.public_jwk(key, "gw-1")]}

    def older_browser() -> list[Any]:
        # What a browser without Ed25519 in SubtleCrypto answers when asked to import a key.
        browser.execute_script(
            "crypto.subtle.importKey = () => Promise.reject("
            "new DOMException('Unrecognized name.', 'NotSupportedError'));"
        )
        return run(browser, [("verifyTreeHead", [head, jwks])])

    (result,) = await in_thread(older_browser)

    assert (result["state"], result["reason"]) == ("unavailable", "no_ed25519")
