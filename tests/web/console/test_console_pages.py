"""The regulator console's pages over HTTP: shells, languages, static files, unknown addresses."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import func, select

from gateway.audit.models import AuditEntry
from gateway.compliance import rules as compliance
from gateway.web.console.messages import EN, EVENT_TYPES, ZH
from gateway.web.console.pages import SITE
from tests.support.stack import Stack

PAGES = {
    "/regulator/": ("overview", "审计概览", "Audit overview"),
    "/regulator/entries": ("entries", "审计日志", "Audit log"),
    "/regulator/entries/7": ("entry", "审计条目", "Audit entry"),
    "/regulator/compliance": ("compliance", "合规报告", "Compliance report"),
}


def _messages_of(page: str) -> dict[str, str]:
    found = re.search(r'<script type="application/json" id="messages">(.*?)</script>', page)
    assert found, "the page hands its texts to the script"
    messages: dict[str, str] = json.loads(found.group(1))
    return messages


async def _leaf_count(stack: Stack) -> int:
    async with stack.context.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def test_every_page_opens_in_chinese_and_in_english(stack: Stack) -> None:
    for path, (page, chinese_title, english_title) in PAGES.items():
        chinese = await stack.http.get(path)
        english = await stack.http.get(path, params={"lang": "en"})

        assert chinese.status_code == english.status_code == 200, path
        assert chinese.headers["content-type"].startswith("text/html")
        assert chinese.headers["content-language"] == "zh-CN"
        assert english.headers["content-language"] == "en"
        assert f'data-page="{page}"' in chinese.text
        assert f"<title>{chinese_title} · Lendgate</title>" in chinese.text
        assert f"<title>{english_title} · Lendgate</title>" in english.text
        assert _messages_of(chinese.text)["verify_verified"] == "已在浏览器中验证"
        assert _messages_of(english.text)["verify_verified"] == "Verified in this browser"


async def test_the_navigation_marks_the_current_page_and_keeps_the_language(stack: Stack) -> None:
    page = (await stack.http.get("/regulator/entries/12", params={"lang": "en"})).text

    assert 'data-entry-index="12"' in page
    assert '<a href="/regulator/entries?lang=en" aria-current="page">Audit log</a>' in page
    assert '<a href="/regulator/?lang=en">Overview</a>' in page
    assert '<a href="/regulator/compliance?lang=en">Compliance report</a>' in page


async def test_the_language_switch_keeps_the_filters(stack: Stack) -> None:
    page = await stack.http.get(
        "/regulator/entries", params={"type": "release.granted", "lender_id": "lnd_1"}
    )

    assert 'href="?type=release.granted&amp;lender_id=lnd_1&amp;lang=en"' in page.text


async def test_the_sign_in_explains_how_to_mint_a_token_without_the_gateway(stack: Stack) -> None:
    page = (await stack.http.get("/regulator/")).text

    assert 'id="token-form"' in page and '<textarea id="token"' in page
    assert "用您的私钥签名的客户端断言" in page
    assert "sessionStorage" in page
    # The SDK call a regulator runs where its private key is, against this gateway.
    assert "await regulator.access_token()" in page
    assert 'RegulatorClient("http://testserver", "CLIENT_ID", keys)' in page
    # ... and how a witness co-signs, since the page cannot.
    assert "await regulator.cosign(head, jwks)" in page


async def test_the_shells_hold_no_inline_code_and_load_nothing_from_elsewhere(
    stack: Stack,
) -> None:
    for path in [*PAGES, "/regulator/nope"]:
        page = (await stack.http.get(path)).text
        # A CSP without 'unsafe-inline' fits: no handlers, no inline scripts or styles.
        assert not re.search(r"\son[a-z]+\s*=", page), path
        inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
        assert inline_scripts == [' type="application/json" id="messages"'], path
        assert "<style" not in page and " style=" not in page, path
        assert not re.search(r'(src|href)="(https?:)?//', page), path


async def test_opening_the_pages_reads_nothing_from_the_log(stack: Stack) -> None:
    before = await _leaf_count(stack)

    for path in PAGES:
        assert (await stack.http.get(path)).status_code == 200

    # The shells are empty; only the script's own API calls (each an audit event) read.
    assert await _leaf_count(stack) == before


async def test_scripts_style_and_icon_are_served_with_their_types(stack: Stack) -> None:
    page = (await stack.http.get("/regulator/")).text
    # One module script; it imports the others, each by its versioned address.
    assert f'<script type="module" src="{SITE.static_url("console.js")}">' in page
    for name in ("console.css", "shared.css", "favicon.svg"):
        assert SITE.static_url(name) in page
    for name, asset in SITE.assets.items():
        media_type = {
            "js": "text/javascript; charset=utf-8",
            "css": "text/css; charset=utf-8",
            "svg": "image/svg+xml",
        }[name.rsplit(".", 1)[1]]

        served = await stack.http.get(f"/regulator/static/{name}", params={"v": asset.version})

        assert served.status_code == 200, name
        assert served.headers["content-type"] == media_type
        assert served.content == asset.body
        revalidated = await stack.http.get(
            f"/regulator/static/{name}", headers={"If-None-Match": served.headers["etag"]}
        )
        assert revalidated.status_code == 304
        assert revalidated.content == b""


def test_modules_import_each_other_by_versioned_address() -> None:
    scripts = {name: asset for name, asset in SITE.assets.items() if name.endswith(".js")}
    versioned = r'from "\./([\w-]+\.js)\?v=(\w+)"'
    imports = {
        (name, imported)
        for name, asset in scripts.items()
        for imported, version in re.findall(versioned, asset.body.decode())
        if version == scripts[imported].version
    }
    all_imports = {
        (name, imported)
        for name, asset in scripts.items()
        for imported in re.findall(r'from "\./([\w-]+\.js)', asset.body.decode())
    }
    assert imports == all_imports
    assert ("console.js", "shared.js") in imports and ("entry.js", "verify.js") in imports
    # Every module is reached from the page's one script.
    reached, todo = set(), ["console.js"]
    while todo:
        name = todo.pop()
        reached.add(name)
        todo += [new for importer, new in imports if importer == name and new not in reached]
    assert reached == set(scripts)


async def test_unknown_console_addresses_are_404(stack: Stack) -> None:
    for path in (
        "/regulator/nope",
        "/regulator/entries/abc",
        "/regulator/entries/-1",
        "/regulator/entries/7/extra",
        "/regulator/static/nope.js",
    ):
        answer = await stack.http.get(path)
        assert answer.status_code == 404, path

    page = await stack.http.get("/regulator/entries/abc")
    assert page.headers["content-type"].startswith("text/html")
    assert "页面不存在" in page.text


async def test_markup_in_the_address_is_never_reflected(stack: Stack) -> None:
    for path in (
        '/regulator/entries/"><script>alert(1)</script>',
        '/regulator/entries?type="><script>alert(1)</script>',
        '/regulator/?lang=en&x="><img src=x onerror=alert(1)>',
    ):
        answer = await stack.http.get(path)
        assert "<script>alert" not in answer.text, path
        assert "<img src=x" not in answer.text, path


async def test_the_console_stays_out_of_the_api_description(stack: Stack) -> None:
    paths = (await stack.http.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/regulator")]


def test_the_scripts_only_call_the_audit_api_and_write_only_text() -> None:
    scripts = {
        name: asset.body.decode() for name, asset in SITE.assets.items() if name.endswith(".js")
    }
    verify = scripts["verify.js"]
    console = "\n".join(scripts.values())

    api_paths = set(re.findall(r'"(/v1/[^"]*|/\.well-known/[^"]*)"', console))
    assert api_paths == {"/v1/audit", "/.well-known/jwks.json"}
    assert not re.findall(r'"(/v1/|/oauth)', verify)
    assert "fetch(" not in verify
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in console
    assert not re.search(r"localStorage\s*\.", console)
    assert re.search(r"sessionStorage\.setItem\(", console)
    # The private key never comes near the page: nothing signs, only verifies.
    assert '"sign"' not in verify and ".sign(" not in verify


def test_both_languages_say_the_same_things() -> None:
    assert ZH.keys() == EN.keys()
    assert all(text.strip() for text in (*ZH.values(), *EN.values()))
    assert all(f"event_{name}" in ZH for name in EVENT_TYPES)


def test_every_finding_and_check_of_the_report_reads_in_both_languages() -> None:
    source = Path(compliance.__file__).read_text(encoding="utf-8")
    kinds = set(re.findall(r'kind="([a-z_]+)"', source)) | set(
        re.findall(r'found\(\s*"([a-z_]+)"', source)
    )
    kinds |= set(re.findall(r'kind, severity = "([a-z_]+)"', source))
    checks = set(re.findall(r'checks\["([a-z_]+)"\]', source))

    assert len(kinds) >= 15 and len(checks) >= 8
    assert {f"kind_{kind}" for kind in kinds} <= ZH.keys()
    assert {f"check_{check}" for check in checks} <= ZH.keys()
