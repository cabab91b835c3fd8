"""`lendgate policy`: the purpose and feature catalogs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.core.settings import get_settings

policy_app = typer.Typer(help="Purpose and feature catalogs.", no_args_is_help=True)


@policy_app.command("check")
def policy_check(
    directory: Annotated[
        Path | None, typer.Argument(help="Folder with purposes.yaml and features.yaml.")
    ] = None,
) -> None:
    """Validate the purpose and feature catalogs against the source schemas."""
    from policies.loading import check_catalog

    folder = directory or get_settings().policy_dir
    problems = check_catalog(folder)
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("catalogs are valid")
