"""`pip install ./sdk` alone: no gateway stack, and the README's lender example runs as written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.processes import demo_env, lendgate
from tests.support.venvs import REPO, fresh_venv, installed_modules

SERVER_ONLY = ("fastapi", "sqlalchemy", "presidio_analyzer", "gateway", "consent")


pytestmark = pytest.mark.install


@pytest.fixture(scope="module")
def sdk_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_venv(tmp_path_factory.mktemp("sdk") / "venv", str(REPO / "sdk"))


def readme_example() -> str:
    """The first Python block under the README's "Lender SDK" heading."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Lender SDK\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("\n```", 1)[0]


def test_the_sdk_installs_without_the_gateway_stack(sdk_bin: Path, tmp_path: Path) -> None:
    found = installed_modules(sdk_bin, ("lendgate_sdk", *SERVER_ONLY), tmp_path)

    origin = found.pop("lendgate_sdk")
    assert origin is not None and origin.startswith(str(sdk_bin.parent))
    assert found == dict.fromkeys(SERVER_ONLY)


def test_the_readme_lender_example_runs_against_a_live_gateway(
    sdk_bin: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = demo_env(data_dir)
    with (tmp_path / "gateway.log").open("w") as log:
        gateway = subprocess.Popen(
            lendgate("demo", "--keep-running"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            gateway_url = _gateway_url(gateway)
            assert httpx.get(f"{gateway_url}/healthz", timeout=5).status_code == 200
            script = tmp_path / "lender_example.py"
            script.write_text(readme_example(), encoding="utf-8")
            done = subprocess.run(
                [str(sdk_bin / "python"), str(script)],
                cwd=tmp_path,
                env={
                    **env,
                    "GATEWAY_URL": gateway_url,
                    "SMS_OUTBOX": str(data_dir / "sms-outbox.jsonl"),
                    "OPERATOR_CLI": lendgate()[0],
                },
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified" in done.stdout
    assert "  si_active = true" in done.stdout
    assert '  hf_status = "NORMAL"' in done.stdout


def _gateway_url(process: subprocess.Popen[str]) -> str:
    """Read `SERVICE URL` lines up to `ready`; the gateway's URL."""
    assert process.stdout is not None
    services: dict[str, str] = {}
    for line in process.stdout:
        if line.strip() == "ready":
            return services["gateway"]
        name, _, url = line.strip().partition(" ")
        services[name] = url
    raise AssertionError(f"the demo stopped before it was ready (exit {process.wait()})")
