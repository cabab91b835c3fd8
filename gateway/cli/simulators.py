"""`lendgate simulators`: the source simulators for development."""

from __future__ import annotations

import asyncio

import typer

from gateway.core.settings import get_settings

simulators_app = typer.Typer(help="Source simulators for development.", no_args_is_help=True)


@simulators_app.command("serve")
def simulators_serve() -> None:
    """Run every source simulator (社保, 公积金, 征信, 水电燃气) on its loopback port."""
    from connectors.simulators.server import build_simulator_servers

    async def run() -> None:
        servers = build_simulator_servers(get_settings())
        for source, url, _ in servers:
            typer.echo(f"{source} {url}")
        await asyncio.gather(*(server.serve() for _, _, server in servers))

    asyncio.run(run())
