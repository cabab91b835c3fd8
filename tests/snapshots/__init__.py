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
    output = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "<time>", output)  # Beijing time, plain
    output = re.sub(r"\b\d{4}-\d{2}\b", "<month>", output)
    output = re.sub(r"root [0-9a-f]{16}…", "root <hash>…", output)
    output = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", output)
    output = re.sub(r"[^\s'(]*/(clients/[\w.<>]+|sms-outbox\.jsonl)", r"<data_dir>/\1", output)
    output = re.sub(r"(lender:lnd_<id>|borrower|gateway)\s+", r"\1 ", output)
    return re.sub(r"(#\d+ [a-z.]+)\s+", r"\1 ", output)


README = SNAPSHOTS.parents[1] / "README.md"
SETTINGS_BEGIN = "<!-- settings table: python -m tests.snapshots -->"
SETTINGS_END = "<!-- end of settings table -->"


def settings_table() -> str:
    """The README's configuration table, one row per `Settings` field, in declaration order."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "unset" if default is None else f"`{json.dumps(default, default=str)}`"
        if isinstance(default, str | Path):
            shown = f"`{default}`" if str(default) else "empty"
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `LENDGATE_{name.upper()}` | {shown} | {description} |")
    return "\n".join(rows) + "\n"


def readme_with_settings_table(readme: str) -> str:
    """`readme` with the table between its markers taken again from the settings."""
    begin = readme.index(SETTINGS_BEGIN) + len(SETTINGS_BEGIN)
    end = readme.index(SETTINGS_END)
    return readme[:begin] + "\n" + settings_table() + readme[end:]


def main() -> None:
    """Take the OpenAPI and CLI snapshots and the README's settings table again from the code."""
    with tempfile.TemporaryDirectory() as workdir:
        document = openapi_document(Path(workdir))
    (SNAPSHOTS / "openapi.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (SNAPSHOTS / "cli_help.txt").write_text(cli_help(), encoding="utf-8")
    README.write_text(readme_with_settings_table(README.read_text("utf-8")), encoding="utf-8")
