"""`pip install ./sdk` alone: no gateway stack, and the README's lender example runs as written."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import demo_env, lendgate
from tests.support.venvs import REPO, fresh_venv, installed_modules

QUICKSTART_BLOCK = re.compile(r"<!-- quickstart:(\w+) -->\n```\w+\n(.*?)\n```", re.DOTALL)
SERVER_ONLY = ("fastapi", "sqlalchemy", "presidio_analyzer", "gateway", "consent")


pytestmark = pytest.mark.install


@pytest.fixture(scope="module")
def sdk_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_venv(tmp_path_factory.mktemp("sdk") / "venv", str(REPO / "sdk"))


def quickstart_blocks() -> dict[str, list[str]]:
    """The README's fenced blocks marked `<!-- quickstart:NAME -->`, by name, in order."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks: dict[str, list[str]] = {}
    for name, body in QUICKSTART_BLOCK.findall(readme):
        blocks.setdefault(name, []).append(body)
    return blocks


def test_the_sdk_installs_without_the_gateway_stack(sdk_bin: Path, tmp_path: Path) -> None:
    found = installed_modules(sdk_bin, ("lendgate_sdk", *SERVER_ONLY), tmp_path)

    origin = found.pop("lendgate_sdk")
    assert origin is not None and origin.startswith(str(sdk_bin.parent))
    assert found == dict.fromkeys(SERVER_ONLY)


def test_the_readme_quick_start_runs_against_a_live_gateway(sdk_bin: Path, tmp_path: Path) -> None:
    """Keys, registration, then the SDK's and curl's flows, each block exactly as written."""
    blocks = quickstart_blocks()
    assert sorted(blocks) == ["curl", "jose", "register", "sdk"]
    data_dir = tmp_path / "data"
    reader = tmp_path / "reader"  # the lender's own directory: keys and scripts
    reader.mkdir()
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
            # `python` is the SDK's environment; of the gateway's, only the operator's `lendgate`.
            cli_only = tmp_path / "lendgate-cli"
            cli_only.mkdir()
            (cli_only / "lendgate").symlink_to(lendgate()[0])
            shell_env = {
                **env,
                "PATH": f"{sdk_bin}:{cli_only}:{env['PATH']}",
                "GATEWAY": gateway_url,
                "SMS_OUTBOX": str(data_dir / "sms-outbox.jsonl"),
            }
            registered = run_shell(blocks["register"][0], reader, shell_env)
            client_id = registered.stdout.strip().splitlines()[-1]
            shell_env["CLIENT_ID"] = client_id
            (reader / "quickstart.py").write_text(blocks["sdk"][0], encoding="utf-8")
            with_sdk = subprocess.run(
                [str(sdk_bin / "python"), "quickstart.py"],
                cwd=reader,
                env=shell_env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            (reader / "lendgate_jose.py").write_text(blocks["jose"][0], encoding="utf-8")
            with_curl = run_shell("\n".join(blocks["curl"]), reader, shell_env)
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)
    assert client_id.startswith("lnd_"), registered.stdout + registered.stderr
    assert (reader / "lender.jwks.json").stat().st_mode & 0o777 == 0o600
    assert with_sdk.returncode == 0, with_sdk.stdout + with_sdk.stderr
    assert "PENDING" in with_sdk.stdout and "verified; audit leaf" in with_sdk.stdout
    assert "  si_active = true" in with_sdk.stdout
    assert "deletion attested, on time: True" in with_sdk.stdout
    assert with_curl.returncode == 0, with_curl.stdout + with_curl.stderr
    opened = json.loads(with_curl.stdout.split("ACTIVE\n", 1)[1].rsplit("}", 1)[0] + "}")
    assert opened["aud"] == client_id and opened["iss"] == "lendgate"
    assert set(opened["features"]) == {"si_active", "hf_status", "cb_overdue_accounts_24m"}
    assert opened["features"]["hf_status"] == "NONE"  # 王五 has no 公积金 account
    assert with_curl.stdout.rstrip().endswith("True")


def run_shell(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A README shell block run by bash, stopping at the first failing command."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done


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
