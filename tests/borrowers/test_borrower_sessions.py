"""Borrower sessions: cookies for browsers (flags, CSRF), bearer tokens for apps, logout and
expiry ended server-side, and the limits on one-time codes (send rates, lockout)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from sqlalchemy import update

from gateway.borrowers.models import LoginSession
from gateway.core.settings import Settings
from tests.support.stack import Stack, api_routes

SESSION_COOKIE, CSRF_COOKIE = "lendgate_session", "lendgate_csrf"


@pytest.fixture
async def browser(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a cookie jar of its own, like one browser."""
    async with stack.browser() as client:
        yield client


def set_cookies(answer: httpx.Response) -> dict[str, dict[str, str]]:
    """Each Set-Cookie of an answer: name to its value and attributes (lower-case names)."""
    cookies: dict[str, dict[str, str]] = {}
    for header in answer.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            flags = {key: str(value) for key, value in morsel.items() if value}
            # SimpleCookie keeps flag attributes as True: record them by name.
            for flag in ("httponly", "secure"):
                if flag in header.lower():
                    flags[flag] = "true"
            cookies[name] = {"value": morsel.value, **flags}
    return cookies


async def a_consent(stack: Stack) -> tuple[str, str]:
    """An active consent of a fresh person; (consent_id, phone)."""
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, person, _ = await stack.active_consent(lender)
    return consent_id, person.phone


async def status_of(stack: Stack, consent_id: str, phone: str) -> str:
    auth = await stack.borrower_login(phone)
    view = await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)
    status: str = view.json()["status"]
    return status


# -- cookies ------------------------------------------------------------------------------------


async def test_a_cookie_login_sets_httponly_strict_cookies_and_no_token_in_the_body(
    stack: Stack, browser: httpx.AsyncClient
) -> None:
    person = stack.person()
    await browser.post("/v1/borrower/otp", json={"phone": person.phone})
    answer = await browser.post(
        "/v1/borrower/session",
        json={"phone": person.phone, "code": stack.last_code(person.phone), "delivery": "cookie"},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert "access_token" not in body and "token_type" not in body
    assert body["expires_in"] == stack.context.settings.borrower_session_ttl_seconds
    cookies = set_cookies(answer)
    session, csrf = cookies[SESSION_COOKIE], cookies[CSRF_COOKIE]
    assert session["httponly"] == "true" and "httponly" not in csrf
    for cookie in (session, csrf):
        assert cookie["samesite"].lower() == "strict"
        assert cookie["path"] == "/"
        assert cookie["max-age"] == str(body["expires_in"])
        assert "secure" not in cookie  # development serves plain-HTTP loopback
        assert "domain" not in cookie
    assert csrf["value"] == body["csrf_token"]
    listed = await browser.get("/v1/borrower/consents")
    assert listed.status_code == 200


async def test_outside_development_the_cookies_are_secure_host_cookies(
    stack: Stack, browser: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = stack.person()
    await browser.post("/v1/borrower/otp", json={"phone": person.phone})
    monkeypatch.setattr(stack.context.settings, "environment", "production")
    answer = await browser.post(
        "/v1/borrower/session",
        json={"phone": person.phone, "code": stack.last_code(person.phone), "delivery": "cookie"},
    )
    cookies = set_cookies(answer)
    assert set(cookies) == {"__Host-" + SESSION_COOKIE, "__Host-" + CSRF_COOKIE}
    assert all(cookie["secure"] == "true" for cookie in cookies.values())
    assert cookies["__Host-" + SESSION_COOKIE]["httponly"] == "true"
    assert answer.headers["strict-transport-security"].startswith("max-age=")


def cookie_changes(stack: Stack) -> list[tuple[str, str]]:
    """Every state-changing borrower endpoint a browser reaches with its session cookie."""
    return [
        (method, path)
        for method, path, _ in api_routes(stack.app)
        if path.startswith("/v1/borrower/")
        and method not in ("GET", "HEAD", "OPTIONS")
        and path not in ("/v1/borrower/otp", "/v1/borrower/session")
    ]


async def test_every_change_made_with_the_cookie_needs_the_csrf_token(
    stack: Stack, browser: httpx.AsyncClient
) -> None:
    changes = cookie_changes(stack)
    assert ("POST", "/v1/borrower/logout") in changes
    assert ("POST", "/v1/borrower/consents/{consent_id}/revoke") in changes
    consent_id, phone = await a_consent(stack)
    csrf = await stack.cookie_login(browser, phone)
    leaves_before = len(await stack.audit_leaves(consent_id))
    for method, path in changes:
        url = path.replace("{consent_id}", consent_id)
        body = {"code": "000000"} if path.endswith("/approve") else None
        for headers in (
            {},
            {"X-CSRF-Token": csrf[:-2] + "xx"},
            {"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
            {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"},
        ):
            answer = await browser.request(method, url, json=body, headers=headers)
            assert (answer.status_code, answer.json()["error"]) == (401, "InvalidToken"), (
                path,
                headers,
            )
    # Nothing happened: the consent is as it was, nothing was logged about it.
    assert len(await stack.audit_leaves(consent_id)) == leaves_before
    assert await status_of(stack, consent_id, phone) == "ACTIVE"
    # The same change with the token (and from the portal's own origin) goes through.
    paused = await browser.post(
        f"/v1/borrower/consents/{consent_id}/pause",
        headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"},
    )
    assert paused.status_code == 200 and paused.json()["status"] == "PAUSED"


async def test_a_csrf_token_of_another_session_is_refused(stack: Stack) -> None:
    consent_id, phone = await a_consent(stack)
    async with stack.browser() as mine, stack.browser() as theirs:
        await stack.cookie_login(mine, phone)
        other_csrf = await stack.cookie_login(theirs, stack.person().phone)
        answer = await mine.post(
            f"/v1/borrower/consents/{consent_id}/pause", headers={"X-CSRF-Token": other_csrf}
        )
    assert (answer.status_code, answer.json()["error"]) == (401, "InvalidToken")


async def test_apps_with_bearer_tokens_need_no_csrf_token(stack: Stack) -> None:
    consent_id, phone = await a_consent(stack)
    auth = await stack.borrower_login(phone)
    paused = await stack.http.post(f"/v1/borrower/consents/{consent_id}/pause", headers=auth)
    assert paused.json()["status"] == "PAUSED"


async def test_a_cookie_login_from_another_site_is_refused(
    stack: Stack, browser: httpx.AsyncClient
) -> None:
    person = stack.person()
    await browser.post("/v1/borrower/otp", json={"phone": person.phone})
    answer = await browser.post(
        "/v1/borrower/session",
        json={"phone": person.phone, "code": stack.last_code(person.phone), "delivery": "cookie"},
        headers={"Origin": "https://evil.example"},
    )
    assert (answer.status_code, answer.json()["error"]) == (401, "InvalidToken")
    assert "set-cookie" not in answer.headers


# -- logout and expiry --------------------------------------------------------------------------


async def test_logout_ends_the_cookie_session_everywhere(
    stack: Stack, browser: httpx.AsyncClient
) -> None:
    csrf = await stack.cookie_login(browser, stack.person().phone)
    kept = browser.cookies.get(SESSION_COOKIE)
    assert kept
    answer = await browser.post("/v1/borrower/logout", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 204
    cleared = set_cookies(answer)
    assert cleared[SESSION_COOKIE]["max-age"] == "0" and cleared[CSRF_COOKIE]["max-age"] == "0"
    assert browser.cookies.get(SESSION_COOKIE) is None
    # A copy of the cookie kept elsewhere is worthless now: the session ended server-side.
    async with stack.browser() as thief:
        thief.cookies.set(SESSION_COOKIE, kept)
        stolen = await thief.get("/v1/borrower/consents")
    assert (stolen.status_code, stolen.json()["error"]) == (401, "InvalidToken")


async def test_logout_ends_a_bearer_session(stack: Stack) -> None:
    auth = await stack.borrower_login(stack.person().phone)
    assert (await stack.http.post("/v1/borrower/logout", headers=auth)).status_code == 204
    after = await stack.http.get("/v1/borrower/consents", headers=auth)
    assert (after.status_code, after.json()["detail"]) == (
        401,
        "This session has ended; log in again.",
    )


async def test_an_expired_session_is_refused(stack: Stack) -> None:
    auth = await stack.borrower_login(stack.person().phone)
    async with stack.context.sessionmaker() as session, session.begin():
        await session.execute(
            update(LoginSession)
            .where(LoginSession.expires_at > datetime.now(UTC))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    answer = await stack.http.get("/v1/borrower/consents", headers=auth)
    assert (answer.status_code, answer.json()["error"]) == (401, "InvalidToken")


async def test_a_stale_cookie_does_not_stop_a_new_login(
    stack: Stack, browser: httpx.AsyncClient
) -> None:
    phone = stack.person().phone
    csrf = await stack.cookie_login(browser, phone)
    kept = browser.cookies.get(SESSION_COOKIE)
    await browser.post("/v1/borrower/logout", headers={"X-CSRF-Token": csrf})
    browser.cookies.set(SESSION_COOKIE, kept or "")
    assert (await browser.post("/v1/borrower/otp", json={"phone": phone})).status_code == 200


# -- one-time codes -------------------------------------------------------------------------------


def outbox_lines(stack: Stack) -> int:
    outbox = stack.context.settings.sms_outbox
    assert outbox is not None
    return outbox.read_text().count("\n")


async def test_a_code_asked_for_a_consent_is_the_approval_code(stack: Stack) -> None:
    """Naming a consent without `purpose` asks for the code that approves it, which does."""
    async with stack.lender_client(await stack.register()) as lender:
        person = stack.person()
        consent = await lender.request_consent(stack.consent_body(person))
    auth = await stack.borrower_login(person.phone)
    body = {"phone": person.phone, "consent_id": consent["consent_id"]}
    sent = await stack.http.post("/v1/borrower/otp", json=body, headers=auth)
    assert sent.status_code == 200, sent.text
    approved = await stack.http.post(
        f"/v1/borrower/consents/{consent['consent_id']}/approve",
        json={"code": stack.last_code(person.phone)},
        headers=auth,
    )
    assert (approved.status_code, approved.json()["status"]) == (200, "ACTIVE")


async def test_a_login_code_naming_a_consent_is_refused_saying_what_to_send(
    stack: Stack,
) -> None:
    consent_id, phone = await a_consent(stack)
    sent = outbox_lines(stack)
    refused = await stack.http.post(
        "/v1/borrower/otp", json={"phone": phone, "purpose": "login", "consent_id": consent_id}
    )
    assert (refused.status_code, refused.json()["error"]) == (422, "InvalidRequest")
    assert '"purpose": "approve"' in refused.json()["detail"]
    assert phone not in refused.text
    assert outbox_lines(stack) == sent


@pytest.fixture
def default_otp_limits(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The stack's settings with the shipped OTP send limits (the stack lifts them)."""
    settings = stack.context.settings
    for name in ("otp_send_limit_per_phone", "otp_send_limit_per_ip", "otp_send_window_seconds"):
        monkeypatch.setattr(settings, name, Settings.model_fields[name].default)
    return settings


async def test_codes_to_one_phone_are_rate_limited(
    stack: Stack, default_otp_limits: Settings
) -> None:
    phone = stack.person().phone
    async with stack.browser("203.0.113.10") as client:
        for _ in range(default_otp_limits.otp_send_limit_per_phone):
            assert (await client.post("/v1/borrower/otp", json={"phone": phone})).status_code == 200
        sent = outbox_lines(stack)
        refused = await client.post("/v1/borrower/otp", json={"phone": phone})
    assert (refused.status_code, refused.json()["error"]) == (429, "RateLimited")
    assert 1 <= int(refused.headers["retry-after"]) <= default_otp_limits.otp_send_window_seconds
    assert outbox_lines(stack) == sent
    assert phone not in refused.text


async def test_codes_asked_from_one_address_are_rate_limited(
    stack: Stack, default_otp_limits: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(default_otp_limits, "otp_send_limit_per_ip", 3)
    async with stack.browser("198.51.100.7") as busy, stack.browser("198.51.100.8") as other:
        for _ in range(3):
            answer = await busy.post("/v1/borrower/otp", json={"phone": stack.person().phone})
            assert answer.status_code == 200
        refused = await busy.post("/v1/borrower/otp", json={"phone": stack.person().phone})
        elsewhere = await other.post("/v1/borrower/otp", json={"phone": stack.person().phone})
    assert (refused.status_code, refused.json()["error"]) == (429, "RateLimited")
    assert elsewhere.status_code == 200


async def test_repeated_wrong_codes_lock_the_phone_out(
    stack: Stack, default_otp_limits: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(default_otp_limits, "otp_lockout_failures", 6)
    person = stack.person()
    async with stack.browser("203.0.113.20") as client:
        for _ in range(2):
            await client.post("/v1/borrower/otp", json={"phone": person.phone})
            good = stack.last_code(person.phone)
            wrong = f"{(int(good) + 1) % 1_000_000:06d}"
            for _ in range(3):
                answer = await client.post(
                    "/v1/borrower/session", json={"phone": person.phone, "code": wrong}
                )
                assert answer.json()["error"] == "InvalidToken"
        # Six wrong codes over two challenges: even the right code is refused now.
        locked = await client.post(
            "/v1/borrower/session", json={"phone": person.phone, "code": good}
        )
        resend = await client.post("/v1/borrower/otp", json={"phone": person.phone})
    for answer in (locked, resend):
        assert (answer.status_code, answer.json()["error"]) == (429, "RateLimited")
        assert int(answer.headers["retry-after"]) >= 1
    assert "access_token" not in locked.json()


async def test_codes_are_compared_in_constant_time(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hmac

    from gateway.borrowers import service

    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(service.hmac, "compare_digest", spy)
    auth = await stack.borrower_login(stack.person().phone)
    assert auth
    assert len(compared) == 1 and len(compared[0][0]) == len(compared[0][1]) == 64
