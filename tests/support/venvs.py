"""Fresh virtual environments for the install tests, outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PIP_TIMEOUT_SECONDS = 1800


def fresh_venv(directory: Path, *requirements: str) -> Path:
    """A new virtual environment with `requirements` installed by pip; its `bin` directory.

    When pip cannot install at all (no index reachable) the test is skipped, except
    under `CI=true`, where it fails: there the install is part of what is tested.
    """
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True)
    bin_dir = directory / "bin"
    done = subprocess.run(
        [str(bin_dir / "pip"), "install", "--quiet", "--disable-pip-version-check", *requirements],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_SECONDS,
    )
    if done.returncode != 0:
        message = f"pip could not install {' '.join(requirements)}:\n{done.stderr[-2000:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return bin_dir


def installed_modules(bin_dir: Path, names: tuple[str, ...], cwd: Path) -> dict[str, str | None]:
    """Where the environment's own Python finds each module (None: not importable)."""
    probe = (
        "import importlib.util, json, sys\n"
        "specs = {name: importlib.util.find_spec(name) for name in sys.argv[1:]}\n"
        "print(json.dumps({name: spec and spec.origin for name, spec in specs.items()}))"
    )
    done = subprocess.run(
        [str(bin_dir / "python"), "-c", probe, *names],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout))
