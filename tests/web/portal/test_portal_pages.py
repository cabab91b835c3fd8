"""The borrower portal's pages over HTTP: shells, languages, static files, unknown addresses."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from gateway.web.portal.messages import EN, ZH
from gateway.web.portal.pages import SITE
from tests.support.stack import Stack


def _messages_of(page: str) -> dict[str, str]:
    found = re.search(r'<script type="application/json" id="messages">(.*?)</script>', page)
    assert found, "the page hands its texts to the script"
    messages: dict[str, str] = json.loads(found.group(1))
    return messages


async def _approval_path(stack: Stack) -> tuple[str, str]:
    async with stack.lender_client(await stack.register()) as lender:
        requested = await lender.request_consent(stack.consent_body(stack.person()))
    return urlsplit(requested["approval_url"]).path, requested["consent_id"]


async def test_the_approval_url_opens_a_chinese_page_for_that_consent(stack: Stack) -> None:
    path, consent_id = await _approval_path(stack)

    page = await stack.http.get(path)

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-language"] == "zh-CN"
    assert '<html lang="zh-CN">' in page.text
    assert f'data-consent-id="{consent_id}"' in page.text
    assert 'data-page="consent"' in page.text
    assert "<title>授权详情 · Lendgate</title>" in page.text
    assert ">English</a>" in page.text
    assert _messages_of(page.text)["status_ACTIVE"] == "已生效"


async def test_lang_en_switches_the_page_to_english(stack: Stack) -> None:
    path, consent_id = await _approval_path(stack)

    page = await stack.http.get(path, params={"lang": "en"})

    assert page.status_code == 200
    assert page.headers["content-language"] == "en"
    assert '<html lang="en">' in page.text
    assert f'data-consent-id="{consent_id}"' in page.text
    assert "<title>Consent details · Lendgate</title>" in page.text
    assert 'href="?lang=zh"' in page.text
    assert _messages_of(page.text)["status_ACTIVE"] == "Active"


async def test_an_unknown_language_falls_back_to_chinese(stack: Stack) -> None:
    page = await stack.http.get("/portal/", params={"lang": "fr"})
    assert '<html lang="zh-CN">' in page.text


async def test_the_list_page_is_served_in_both_languages(stack: Stack) -> None:
    chinese = await stack.http.get("/portal/")
    english = await stack.http.get("/portal/?lang=en")

    assert chinese.status_code == english.status_code == 200
    assert 'data-page="consents"' in chinese.text
    assert "<title>我的授权 · Lendgate</title>" in chinese.text
    assert "<title>My consents · Lendgate</title>" in english.text


async def test_the_page_shell_holds_a_login_form_and_no_inline_code(stack: Stack) -> None:
    page = (await stack.http.get("/portal/consents/cns_0123456789abcdef01234567")).text

    assert 'id="phone"' in page and 'id="login-code"' in page
    assert 'autocomplete="one-time-code"' in page
    # A CSP without 'unsafe-inline' must be possible later: no handlers, no inline scripts.
    assert not re.search(r"\son[a-z]+\s*=", page)
    inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert inline_scripts == [' type="application/json" id="messages"']
    assert "<style" not in page and "http://" not in page and "https://" not in page


async def test_script_and_style_are_served_with_their_types(stack: Stack) -> None:
    page = (await stack.http.get("/portal/")).text
    assert f'<script type="module" src="{SITE.static_url("portal.js")}">' in page
    for name, media_type in (
        ("portal.js", "text/javascript"),
        ("shared.js", "text/javascript"),
        ("portal.css", "text/css"),
        ("shared.css", "text/css"),
    ):
        asset = SITE.assets[name]
        if name != "shared.js":
            assert f"/portal/static/{name}?v={asset.version}" in page

        served = await stack.http.get(f"/portal/static/{name}", params={"v": asset.version})

        assert served.status_code == 200
        assert served.headers["content-type"] == f"{media_type}; charset=utf-8"
        assert served.content == asset.body
        revalidated = await stack.http.get(
            f"/portal/static/{name}", headers={"If-None-Match": served.headers["etag"]}
        )
        assert revalidated.status_code == 304
        assert revalidated.content == b""


async def test_unknown_portal_addresses_are_404(stack: Stack) -> None:
    for path in ("/portal/nope", "/portal/consents/cns_x/extra", "/portal/static/nope.js"):
        answer = await stack.http.get(path)
        assert answer.status_code == 404, path

    page = await stack.http.get("/portal/nope")
    assert page.headers["content-type"].startswith("text/html")
    assert "页面不存在" in page.text


async def test_a_consent_id_with_markup_is_refused_and_never_reflected(stack: Stack) -> None:
    answer = await stack.http.get('/portal/consents/"><script>alert(1)</script>')

    assert answer.status_code == 404
    assert "<script>alert" not in answer.text
    assert "alert(1)" not in answer.text


async def test_the_portal_stays_out_of_the_api_description(stack: Stack) -> None:
    paths = (await stack.http.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/portal")]


def test_the_script_only_calls_the_borrower_api_and_writes_only_text() -> None:
    script = "\n".join(
        asset.body.decode() for name, asset in SITE.assets.items() if name.endswith(".js")
    )

    api_paths = re.findall(r'"(/v1/[^"]*)"', script)
    assert api_paths and all(path.startswith("/v1/borrower/") for path in api_paths)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
    assert "sessionStorage" in script and "localStorage" not in script


def test_both_languages_say_the_same_things() -> None:
    assert ZH.keys() == EN.keys()
    assert all(text.strip() for text in (*ZH.values(), *EN.values()))


def test_refusals_read_as_plain_chinese() -> None:
    assert ZH["error_InvalidToken"] == "验证码错误或已过期"
    assert ZH["error_RateLimited"] == "尝试次数过多，请重新获取验证码"
    assert ZH["error_ConsentNotFound"].startswith("未找到该授权")
    for status in ("PENDING", "ACTIVE", "PAUSED", "REVOKED", "REJECTED", "EXPIRED"):
        assert ZH[f"status_{status}"] and EN[f"status_{status}"]
