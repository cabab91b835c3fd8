"""Logs are JSON lines: one per request, with its request id and client id, and the lines of
libraries too."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
import structlog

from gateway.core.logging import configure_logging
from gateway.privacy.pii import redact_pii
from tests.support.stack import LogCapture, Stack


def capture_here(capture: LogCapture) -> None:
    """Logging as the capture set it up (a gateway started with a lifespan reconfigures it)."""
    configure_logging("DEBUG", redact=redact_pii, stream=capture.stream)


def lines_about(capture: LogCapture, event: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capture.lines() if f'"{event}"' in line]


async def test_each_request_is_one_json_line_with_its_route_status_and_client(
    stack: Stack, captured_logs: LogCapture
) -> None:
    lender = await stack.register()
    async with stack.lender_client(lender) as client:
        token = await client.access_token()
    missing = "cns_" + "0" * 24
    answer = await stack.http.get(
        f"/v1/consents/{missing}", headers={"Authorization": f"Bearer {token}"}
    )
    request_id = answer.headers["x-request-id"]

    (line,) = [
        line
        for line in lines_about(captured_logs, "http.request")
        if line.get("request_id") == request_id
    ]
    assert line["method"] == "GET"
    assert line["route"] == "/v1/consents/{consent_id}"  # the template, never the path
    assert line["status"] == answer.status_code == 404
    assert line["client_id"] == lender.client_id
    assert line["duration_ms"] >= 0 and line["level"] == "info"
    assert missing not in json.dumps(line)


async def test_an_anonymous_request_names_no_client(
    stack: Stack, captured_logs: LogCapture
) -> None:
    answer = await stack.http.get("/healthz")

    (line,) = [
        line
        for line in lines_about(captured_logs, "http.request")
        if line.get("request_id") == answer.headers["x-request-id"]
    ]
    assert (line["route"], line["status"], line["client_id"]) == ("/healthz", 200, None)


def test_library_lines_are_json_too(captured_logs: LogCapture) -> None:
    capture_here(captured_logs)
    logging.getLogger("uvicorn.error").warning("a library speaking plain text")

    (line,) = lines_about(captured_logs, "a library speaking plain text")
    assert line["level"] == "warning"
    assert line["logger"] == "uvicorn.error"
    assert "timestamp" in line


async def test_an_unexpected_error_is_logged_with_the_request_id(
    stack: Stack, captured_logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("gateway.ops.endpoints.refresh_gauges", broken)
    transport = httpx.ASGITransport(app=stack.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        answer = await http.get("/metrics")

    assert answer.status_code == 500
    assert answer.json() == {
        "error": "InternalError",
        "detail": "The gateway could not complete the request.",
    }
    failed = lines_about(captured_logs, "request.failed")[-1]
    request = [
        line for line in lines_about(captured_logs, "http.request") if line["route"] == "/metrics"
    ][-1]
    assert failed["request_id"] == request["request_id"]
    assert request["status"] == 500 and failed["level"] == "error"


def test_library_debug_lines_are_never_written(captured_logs: LogCapture) -> None:
    # The capture runs at DEBUG for the gateway's own lines; a driver's DEBUG line carries
    # SQL parameters, which may be anything a caller sent.
    capture_here(captured_logs)
    logging.getLogger("aiosqlite").debug("executing %s", "a statement and its parameters")
    structlog.get_logger().debug("gateway.debug_line")

    assert lines_about(captured_logs, "executing a statement and its parameters") == []
    assert lines_about(captured_logs, "gateway.debug_line")
