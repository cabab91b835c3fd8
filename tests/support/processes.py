"""The gateway's own command line run as an operator would: free ports, the demo's environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import httpx

from connectors.registry import load_sources

SOURCES = tuple(load_sources())
"""Every registered source: each gets a simulator port of its own."""


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_env(data_dir: Path) -> dict[str, str]:
    """The environment of a demo on its own ports and data directory."""
    ports = {source: free_port() for source in SOURCES}
    env = {key: value for key, value in os.environ.items() if not key.startswith("LENDGATE_")}
    env.update(
        LENDGATE_DATA_DIR=str(data_dir),
        LENDGATE_PORT=str(free_port()),
        LENDGATE_SIMULATOR_PORTS=json.dumps(ports),
        LENDGATE_SOURCE_URLS=json.dumps(
            {source: f"http://127.0.0.1:{port}" for source, port in ports.items()}
        ),
    )
    return env


def lendgate(*args: str) -> list[str]:
    """The command line of the installed `lendgate` entry point."""
    return [str(Path(sys.executable).with_name("lendgate")), *args]


def child_processes(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines (from /proc)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            children[int(entry.name)] = cmdline
    return children


def stop(processes: Iterable[subprocess.Popen[bytes]], *, wait_seconds: float = 10) -> None:
    """Ask each process to end, then wait for all; kill those that do not end in time."""
    running = list(processes)
    for process in running:
        if process.poll() is None:
            process.terminate()
    for process in running:
        try:
            process.wait(timeout=wait_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_until_serving(
    process: subprocess.Popen[bytes], url: str, *, seconds: float, log: Path | None = None
) -> None:
    """Wait until `process` answers `url`/healthz with 200; fail, with its log, if it exits
    first or takes longer than `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            told = log.read_text(errors="replace") if log is not None else ""
            raise AssertionError(f"{url} exited with {process.returncode} at start\n{told}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() >= deadline:
            raise AssertionError(f"{url} did not start within {seconds} s")
        time.sleep(0.1)


def gateway_env(
    data_dir: Path,
    database_url: str,
    port: int,
    *,
    key_dir: Path | None = None,
    issuer: str | None = None,
    **settings: str,
) -> dict[str, str]:
    """The environment of a `lendgate serve` on loopback `port`: this environment without any
    `LENDGATE_` variable of its own, then the test's data directory, keys, database and issuer,
    and `settings` (`client_rate_limit="100000"` is `LENDGATE_CLIENT_RATE_LIMIT`)."""
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith("LENDGATE_")},
        "LENDGATE_ENVIRONMENT": "test",
        "LENDGATE_DATA_DIR": str(data_dir),
        "LENDGATE_KEY_DIR": str(key_dir or data_dir / "keys"),
        "LENDGATE_DATABASE_URL": database_url,
        "LENDGATE_ISSUER": issuer or f"http://127.0.0.1:{port}",
        "LENDGATE_HOST": "127.0.0.1",
        "LENDGATE_PORT": str(port),
        **{f"LENDGATE_{name.upper()}": value for name, value in settings.items()},
    }
