"""Snapshots of the public surface, and how to take them again (`python -m tests.snapshots`)."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from gateway.app import create_app
from gateway.cli.main import app as cli_app
from gateway.core.settings import Settings

SNAPSHOTS = Path(__file__).resolve().parent


def openapi_document(workdir: Path) -> dict[str, Any]:
    """The gateway's OpenAPI document, as `/openapi.json` serves it."""
    settings = Settings(
        environment="test",
        data_dir=workdir,
        database_url=f"sqlite+aiosqlite:///{workdir}/openapi.db",
        issuer="http://testserver",
        sms_outbox=workdir / "sms-outbox.jsonl",
    )
    document: dict[str, Any] = create_app(settings=settings).openapi()
    return document


def cli_help() -> str:
    """`lendgate … --help` for the root and every command group and command, in order."""
    runner = CliRunner()
    env = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
    pages: list[str] = []

    def walk(command: Any, path: list[str]) -> None:
        result = runner.invoke(cli_app, [*path, "--help"], env=env)
        pages.append("$ lendgate " + " ".join([*path, "--help"]) + "\n" + result.output)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(cli_app), [])
    return "\n".join(pages) + "\n"


def normalized_demo(output: str) -> str:
    """The demo's output with what differs between runs (ids, times, ports, hashes) named."""
    output = re.sub(r"\b(lnd|reg|cns|rcp|rel)_[0-9a-f]{8,}", r"\1_<id>", output)
    output = re.sub(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z?", "<time>", output)
    output = re.sub(r"\b\d{4}-\d{2}\b", "<month>", output)
    output = re.sub(r"root [0-9a-f]{16}…", "root <hash>…", output)
    output = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", output)
    output = re.sub(r"[^\s'(]*/(clients/[\w.<>]+|sms-outbox\.jsonl)", r"<data_dir>/\1", output)
    output = re.sub(r"(lender:lnd_<id>|borrower|gateway)\s+", r"\1 ", output)
    return re.sub(r"(#\d+ [a-z.]+)\s+", r"\1 ", output)


def main() -> None:
    """Take the OpenAPI and CLI snapshots again from the code as it is."""
    with tempfile.TemporaryDirectory() as workdir:
        document = openapi_document(Path(workdir))
    (SNAPSHOTS / "openapi.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (SNAPSHOTS / "cli_help.txt").write_text(cli_help(), encoding="utf-8")
