"""`lendgate products`: a lender's own products, registered in the database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.operator import OPERATOR, operator_session
from gateway.core.settings import get_settings

products_app = typer.Typer(help="Lenders' own products (one platform, many branches).")


@products_app.command("set")
def products_set(
    client_id: Annotated[str, typer.Argument(metavar="CLIENT", help="The lender's client id.")],
    file: Annotated[Path, typer.Argument(help="YAML file with the lender's `products`.")],
) -> None:
    """Register FILE as the lender's products in force (checked like a product file)."""
    from gateway.clients.products import ProductRegistrationError, set_products
    from policies.loading import CatalogError, load_catalog

    settings = get_settings()
    try:
        document = file.read_bytes()
    except OSError as error:
        typer.echo(f"{file}: cannot read the file ({error.strerror or error}).", err=True)
        raise typer.Exit(2) from error
    try:
        catalog = load_catalog(settings.policy_dir)
    except CatalogError as error:
        for problem in error.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from error

    async def run() -> list[str]:
        async with operator_session(settings) as session:
            products = await set_products(
                session, catalog, client_id, document, file, actor=OPERATOR
            )
            return [product.code for product in products]

    try:
        codes = asyncio.run(run())
    except ProductRegistrationError as error:
        for problem in error.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from error
    typer.echo(f"{client_id}: {len(codes)} products in force ({', '.join(sorted(codes))})")


@products_app.command("history")
def products_history(
    client_id: Annotated[str, typer.Argument(metavar="CLIENT", help="The lender's client id.")],
) -> None:
    """Every version of the lender's registered products: when, which version, which codes."""
    from gateway.clients import repository

    async def run() -> list[str]:
        async with operator_session(get_settings()) as session:
            return [
                f"{row.created_at.isoformat()} {row.version} {' '.join(row.codes)}"
                for row in await repository.product_registrations(session, client_id)
            ]

    for line in asyncio.run(run()):
        typer.echo(line)
