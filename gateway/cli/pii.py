"""`lendgate pii`: the gateway's personal-data recognizers over text or JSON lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

pii_app = typer.Typer(help="Personal-data recognizers.", no_args_is_help=True)


@pii_app.command("scan")
def pii_scan(
    source: Annotated[str, typer.Argument(help="A file, or - for standard input.")] = "-",
) -> None:
    """Print one JSON line of findings (masked, never raw) per input line."""
    from gateway.privacy.scan import scan_lines

    handle = sys.stdin if source == "-" else Path(source).open(encoding="utf-8")  # noqa: SIM115
    with handle:
        for result in scan_lines(handle):
            typer.echo(json.dumps(result, ensure_ascii=False))
