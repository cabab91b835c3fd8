"""The deployment files wire every registered source: its simulator, and the gateway's way to it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.registry import load_sources

ROOT = Path(__file__).resolve().parents[2]
SOURCES = list(load_sources())


def services() -> dict[str, dict[str, Any]]:
    """The services of docker-compose.yml."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return dict(compose["services"])


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, whichever of compose's two spellings it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def simulator_ports() -> dict[str, dict[str, int]]:
    """Each service running the simulators, with the port of every source it serves."""
    defaults = {name: source.default_port for name, source in load_sources().items()}
    ports = {}
    for name, service in services().items():
        command = " ".join(service.get("command") or [])
        if "simulators serve" in command:
            configured = environment(service).get("LENDGATE_SIMULATOR_PORTS")
            ports[name] = json.loads(configured) if configured else defaults
    return ports


@pytest.mark.parametrize("source", SOURCES)
def test_every_source_has_a_simulator(source: str) -> None:
    serving = [name for name, ports in simulator_ports().items() if source in ports]
    exposed = re.findall(r"^EXPOSE (.+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)

    assert serving, f"no simulator service serves {source}"
    port = simulator_ports()[serving[0]][source]
    assert str(port) in " ".join(exposed).split(), f"the image does not expose {source}'s port"


@pytest.mark.parametrize("source", SOURCES)
def test_the_gateway_reaches_every_source_with_a_credential(source: str) -> None:
    env = environment(services()["gateway"])
    urls = json.loads(env.get("LENDGATE_SOURCE_URLS", "{}"))
    credentials = json.loads(env.get("LENDGATE_SOURCE_CREDENTIALS", "{}"))
    expected = {
        f"http://{name}:{ports[source]}"
        for name, ports in simulator_ports().items()
        if source in ports
    }

    assert urls.get(source) in expected, f"LENDGATE_SOURCE_URLS does not lead to {source}"
    # Without LENDGATE_SOURCE_CREDENTIALS the development credentials apply (development only).
    assert source in credentials or (
        not credentials and env.get("LENDGATE_ENVIRONMENT") == "development"
    ), f"the gateway has no credential for {source}"
