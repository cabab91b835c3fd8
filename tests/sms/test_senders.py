"""SMS senders: the setting that plugs one in, the development outbox, the HTTP provider
sender against a stub provider on a loopback port, and what `/readyz` says of them."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.registry import load_sources
from gateway.borrowers.models import OtpChallenge
from gateway.core.settings import Settings
from gateway.runtime.context import build_context
from gateway.sms.http import HttpSmsSender
from gateway.sms.senders import (
    OutboxSender,
    SmsDeliveryFailed,
    SmsNotConfigured,
    configured_sms_sender,
)
from tests.support.stack import Stack, gateway_settings, gateway_stack

SANDBOX_PHONE = "13800138000"


class RecordingSender:
    """A plug-in sender keeping what it was asked to send."""

    kind = "recording"

    def __init__(self, healthy: bool = True):
        self.sent: list[tuple[str, str]] = []
        self.healthy = healthy

    async def send_code(self, phone: str, code: str) -> None:
        """Keep the message."""
        self.sent.append((phone, code))

    async def health(self) -> bool:
        """As set."""
        return self.healthy


def recording_sender(settings: Settings) -> RecordingSender:
    """A factory as `LENDGATE_SMS_SENDER` names one."""
    return RecordingSender()


def not_a_sender(settings: Settings) -> object:
    """A factory returning something that cannot send."""
    return object()


# -- the setting ----------------------------------------------------------------------------------


def test_development_defaults_to_the_outbox_in_the_data_directory(tmp_path: Path) -> None:
    sender = configured_sms_sender(Settings(environment="development", data_dir=tmp_path))
    assert isinstance(sender, OutboxSender)
    assert sender.path == tmp_path / "sms-outbox.jsonl"


@pytest.mark.parametrize("choice", [None, "outbox"])
def test_production_refuses_to_run_without_a_real_sender(
    tmp_path: Path, choice: str | None
) -> None:
    settings = Settings(
        environment="production",
        data_dir=tmp_path,
        sms_sender=choice,
        source_credentials={source: f"{source}-credential" for source in load_sources()},
    )
    with pytest.raises(SmsNotConfigured) as refused:
        configured_sms_sender(settings)
    assert "LENDGATE_SMS_SENDER" in str(refused.value)
    # The whole gateway refuses too, before it opens (or creates) anything.
    with pytest.raises(SmsNotConfigured):
        build_context(settings)
    assert not (tmp_path / "keys").exists()
    assert not (tmp_path / "lendgate.db").exists()


def test_a_factory_named_by_the_setting_is_plugged_in(tmp_path: Path) -> None:
    settings = Settings(
        environment="production",
        data_dir=tmp_path,
        sms_sender="tests.sms.test_senders:recording_sender",
    )
    assert isinstance(configured_sms_sender(settings), RecordingSender)


@pytest.mark.parametrize(
    ("choice", "says"),
    [
        ("tests.sms.test_senders", "neither `outbox` nor package.module:factory"),
        ("tests.sms.no_such_module:factory", "cannot be loaded"),
        ("tests.sms.test_senders:no_such_factory", "cannot be loaded"),
        ("tests.sms.test_senders:not_a_sender", "did not return an SmsSender"),
        ("gateway.sms.http:http_sender", "needs LENDGATE_SMS_HTTP_URL"),
    ],
)
def test_an_unusable_setting_is_refused_saying_why(tmp_path: Path, choice: str, says: str) -> None:
    with pytest.raises(SmsNotConfigured) as refused:
        configured_sms_sender(Settings(data_dir=tmp_path, sms_sender=choice))
    assert says in str(refused.value)


def test_the_http_sender_wants_https_outside_development(tmp_path: Path) -> None:
    settings = Settings(
        environment="production",
        data_dir=tmp_path,
        sms_sender="gateway.sms.http:http_sender",
        sms_http_url="http://sms.example/send",
    )
    with pytest.raises(SmsNotConfigured, match="must be https"):
        configured_sms_sender(settings)


# -- the outbox -----------------------------------------------------------------------------------


async def test_the_outbox_appends_one_json_line_a_message(tmp_path: Path) -> None:
    outbox = OutboxSender(tmp_path / "new" / "sms-outbox.jsonl")
    assert await outbox.health()
    await outbox.send_code(SANDBOX_PHONE, "123456")
    await outbox.send_code(SANDBOX_PHONE, "654321")
    lines = [json.loads(line) for line in outbox.path.read_text().splitlines()]
    assert [(line["phone"], line["code"]) for line in lines] == [
        (SANDBOX_PHONE, "123456"),
        (SANDBOX_PHONE, "654321"),
    ]


async def test_an_outbox_that_cannot_be_written_is_not_healthy(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert not await OutboxSender(blocker / "sms-outbox.jsonl").health()


# -- the HTTP sender, against a stub provider -----------------------------------------------------


@dataclass
class StubProvider:
    """An SMS provider on a loopback port: keeps every request, answers `status`."""

    url: str
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def provider() -> Iterator[StubProvider]:
    stub = StubProvider(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            stub.requests.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(body),
                }
            )
            self._answer(stub.status)

        def do_HEAD(self) -> None:
            self._answer(405)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads the requests."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1/sms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def http_sender(url: str) -> HttpSmsSender:
    return HttpSmsSender(
        url, api_key="stub-provider-key", template="otp-1", code_ttl_seconds=300, timeout_seconds=5
    )


async def test_the_http_sender_posts_the_code_to_the_provider(provider: StubProvider) -> None:
    sender = http_sender(provider.url)
    try:
        assert await sender.health()
        await sender.send_code(SANDBOX_PHONE, "246810")
    finally:
        await sender.aclose()
    assert provider.requests == [
        {
            "path": "/v1/sms",
            "authorization": "Bearer stub-provider-key",
            "content_type": "application/json",
            "json": {
                "phone": SANDBOX_PHONE,
                "template": "otp-1",
                "params": {"code": "246810", "minutes": 5},
            },
        }
    ]


async def test_a_provider_refusal_is_a_delivery_failure(provider: StubProvider) -> None:
    provider.status = 503
    sender = http_sender(provider.url)
    try:
        with pytest.raises(SmsDeliveryFailed, match="answered 503"):
            await sender.send_code(SANDBOX_PHONE, "246810")
    finally:
        await sender.aclose()
    assert len(provider.requests) == 1


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_provider_that_does_not_answer_is_not_healthy(provider: StubProvider) -> None:
    sender = http_sender(provider.url)
    closed = http_sender(f"http://127.0.0.1:{closed_port()}/v1/sms")
    try:
        assert await sender.health()
        assert not await closed.health()
        with pytest.raises(SmsDeliveryFailed, match="could not be reached"):
            await closed.send_code(SANDBOX_PHONE, "246810")
    finally:
        await sender.aclose()
        await closed.aclose()


async def test_a_gateway_texts_login_codes_through_the_http_provider(
    provider: StubProvider, database_url: str, tmp_path: Path, population: Any
) -> None:
    settings = gateway_settings(
        database_url,
        tmp_path,
        sms_sender="gateway.sms.http:http_sender",
        sms_http_url=provider.url,
        sms_http_api_key="stub-provider-key",
    )
    async with gateway_stack(settings, population) as stack:
        sent = await stack.http.post("/v1/borrower/otp", json={"phone": SANDBOX_PHONE})
        assert sent.status_code == 200, sent.text
        (request,) = provider.requests
        code = request["json"]["params"]["code"]
        session = await stack.http.post(
            "/v1/borrower/session", json={"phone": SANDBOX_PHONE, "code": code}
        )
        ready = (await stack.http.get("/readyz")).json()
    assert session.status_code == 200 and session.json()["access_token"]
    assert ready["sms"] == {"sender": "http", "status": "ok"}
    assert not settings.resolved_sms_outbox.exists()


async def test_a_provider_that_refuses_is_a_503_to_retry_and_no_code_is_kept(
    provider: StubProvider, database_url: str, tmp_path: Path, population: Any
) -> None:
    provider.status = 503
    settings = gateway_settings(
        database_url,
        tmp_path,
        sms_sender="gateway.sms.http:http_sender",
        sms_http_url=provider.url,
        sms_http_api_key="stub-provider-key",
    )
    count = select(func.count()).select_from(OtpChallenge)
    async with gateway_stack(settings, population) as stack:
        async with stack.context.sessionmaker() as session:
            before = await session.scalar(count)
        sent = await stack.http.post("/v1/borrower/otp", json={"phone": SANDBOX_PHONE})
        async with stack.context.sessionmaker() as session:
            after = await session.scalar(count)
    assert (sent.status_code, sent.json()["error"]) == (503, "SourceUnavailable")
    assert int(sent.headers["retry-after"]) > 0
    assert SANDBOX_PHONE not in sent.text
    assert after == before


# -- readiness ------------------------------------------------------------------------------------


async def test_readyz_reports_the_sender(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    healthy = await stack.http.get("/readyz")
    monkeypatch.setattr(stack.context, "sms", RecordingSender(healthy=False))
    unhealthy = await stack.http.get("/readyz")
    assert (healthy.status_code, healthy.json()["sms"]) == (
        200,
        {"sender": "outbox", "status": "ok"},
    )
    assert (unhealthy.status_code, unhealthy.json()["ready"]) == (503, False)
    assert unhealthy.json()["sms"] == {"sender": "recording", "status": "unavailable"}
