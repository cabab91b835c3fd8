"""`lendgate serve` as an operator starts it: one line saying where it listens, a busy port or
a missing SMS sender refused in one line, and a first login that works out of the box."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from connectors.registry import load_sources
from gateway.cli.main import app
from gateway.crypto.keys import KEK_DIR, initialise

runner = CliRunner()
SANDBOX_PHONE = "13800138000"


def test_a_busy_port_is_one_line_naming_the_setting(
    operator_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("LENDGATE_PORT", str(port))
        result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"127.0.0.1:{port} is already in use: set LENDGATE_PORT to a free port "
        "(or stop what listens there)"
    ]


def test_production_without_an_sms_sender_does_not_start(
    operator_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LENDGATE_ENVIRONMENT", "production")
    credentials = {source: f"{source}-credential" for source in load_sources()}
    monkeypatch.setenv("LENDGATE_SOURCE_CREDENTIALS", json.dumps(credentials))
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("no SMS sender: set LENDGATE_SMS_SENDER")
    assert not (operator_env / "lendgate.db").exists()


def test_serve_says_where_it_listens_and_a_first_login_texts_a_code(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LENDGATE_") and key != "PYTHONWARNINGS"
    }
    env.update(
        LENDGATE_DATA_DIR=str(tmp_path),
        LENDGATE_PORT="0",
        LENDGATE_NOTIFICATION_DISPATCH_INTERVAL_SECONDS="0",
        LENDGATE_AUDIT_TREE_HEAD_INTERVAL_SECONDS="0",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline().strip()
        assert line.startswith("gateway http://127.0.0.1:"), line + server.communicate()[1]
        url = line.split()[1]
        outbox = tmp_path / "sms-outbox.jsonl"
        database = (tmp_path / "lendgate.db").resolve()
        shown = f"(database sqlite+aiosqlite:///{database}, SMS outbox {outbox})"
        assert line == f"gateway {url} {shown}"
        # The socket listens already: the request waits for the gateway to finish starting.
        sent = httpx.post(f"{url}/v1/borrower/otp", json={"phone": SANDBOX_PHONE}, timeout=120)
        ready = httpx.get(f"{url}/readyz", timeout=30).json()
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert sent.status_code == 200, sent.text
    assert [json.loads(line)["phone"] for line in outbox.read_text().splitlines()] == [
        SANDBOX_PHONE
    ]
    assert ready["sms"] == {"sender": "outbox", "status": "ok"}


def test_serve_opens_the_keys_with_the_configured_kms(
    operator_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `LENDGATE_KMS` naming an external KMS, no key-encryption key is made on disk."""
    initialise(operator_env / "keys", with_kek=False)
    monkeypatch.setenv("LENDGATE_KMS", "tests.crypto.test_envelope:memory_kms_factory")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("LENDGATE_PORT", str(taken.getsockname()[1]))
        # The busy port stops it right after the keys were opened.
        result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1 and "already in use" in result.output
    assert not (operator_env / "keys" / KEK_DIR).exists()
