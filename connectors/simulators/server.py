"""The source simulators as loopback HTTP servers (`lendgate simulators serve`, the demo)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import uvicorn

from connectors.registry import load_sources
from connectors.simulators.app import create_simulator_app
from connectors.simulators.faults import FaultPlan
from connectors.simulators.population import Population
from gateway.core.settings import Settings


class SimulatorServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the program running it.

    Several servers share one event loop; if each installed its own handlers only
    the last one would hear Ctrl-C. The caller sets `should_exit` on every server.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install no signal handlers."""
        yield


def build_simulator_servers(
    settings: Settings, population: Population | None = None
) -> list[tuple[str, str, uvicorn.Server]]:
    """One configured, not yet started server per source: (source, base URL, server).

    All simulators answer from the same population, so the sources agree about each person.
    Each starts with its fault plan from `settings.simulator_faults` (healthy by default).
    """
    settings = load_sources().configure(settings)
    unknown = set(settings.simulator_faults) - set(settings.simulator_ports)
    if unknown:
        raise ValueError(f"fault plans for sources without a simulator: {sorted(unknown)}")
    faults = {
        source: FaultPlan.model_validate(plan) for source, plan in settings.simulator_faults.items()
    }
    if population is None:
        population = Population.generate(settings.simulator_seed, settings.simulator_population)
    servers: list[tuple[str, str, uvicorn.Server]] = []
    for source, port in settings.simulator_ports.items():
        app = create_simulator_app(
            source,
            credential=settings.source_credentials[source],
            population=population,
            faults=faults.get(source),
            admin_key=settings.simulator_admin_key,
        )
        host = settings.simulator_host
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        servers.append((source, f"http://{host}:{port}", SimulatorServer(config)))
    return servers
