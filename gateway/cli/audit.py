"""`lendgate audit`: offline verification of an exported audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

audit_app = typer.Typer(help="The verifiable audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    bundle: Annotated[Path, typer.Argument(help="A bundle from GET /v1/audit/export.")],
    jwks: Annotated[
        Path | None,
        typer.Option(help="The gateway's JWKS obtained elsewhere (default: the bundle's own)."),
    ] = None,
    previous: Annotated[
        str | None,
        typer.Option(
            help="A tree head kept from before: a file with the GET /v1/audit/sth answer "
            "or the JWS, or the JWS itself. The bundle must extend it unchanged."
        ),
    ] = None,
) -> None:
    """Recompute every leaf hash and root, check every signature; exit 1 naming the bad leaf."""
    from gateway.audit.verify import BundleError, verify_bundle

    try:
        document = _read_json(bundle)
        trusted = _read_json(jwks) if jwks is not None else None
        earlier: Any = None
        if previous is not None:
            candidate = Path(previous)
            earlier = _read_json(candidate) if candidate.is_file() else previous
        outcome = verify_bundle(document, trusted_jwks=trusted, previous=earlier)
    except BundleError as error:
        typer.echo(f"cannot verify: {error}", err=True)
        raise typer.Exit(2) from error
    for line in outcome.lines():
        typer.echo(line)
    raise typer.Exit(0 if outcome.ok else 1)


def _read_json(path: Path) -> Any:
    """A JSON document from `path`; a tree head may also be a bare JWS."""
    from gateway.audit.verify import BundleError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BundleError(f"cannot read {path}: {error.strerror}") from error
    try:
        return json.loads(text)
    except ValueError:
        if text.strip().count(".") == 2:
            return text.strip()
        raise BundleError(f"{path} is not JSON") from None
