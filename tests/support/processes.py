"""The gateway's own command line run as an operator would: free ports, the demo's environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

SOURCES = ("social_insurance", "housing_fund", "credit_bureau")


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


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Ask a process to end (SIGTERM), and kill it if it has not within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
