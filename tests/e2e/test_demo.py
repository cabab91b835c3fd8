"""`lendgate demo` from a clean data directory: the story runs end to end over real sockets."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from lendgate_sdk import LendgateClient, RegulatorClient
from prometheus_client.parser import text_string_to_metric_families

from tests.snapshots import SNAPSHOTS, normalized_demo
from tests.support.processes import SOURCES, demo_env, lendgate


def test_demo_tells_the_whole_story_and_exits_zero(tmp_path: Path) -> None:
    done = subprocess.run(
        lendgate("demo"), env=demo_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "[lender] consent cns_" in out and "张* 110***********002X 138****8000" in out
    assert "[lender]   si_active = true" in out
    assert '[lender]   hf_status = "NORMAL"' in out
    assert "[lender] release refused: 403 ConsentRevoked" in out
    assert "inclusion proof of" in out and "verified it offline" in out
    assert "11010519491231002X" not in out + done.stderr
    # What each party sees is the contract's story: only ids, times, ports and hashes vary.
    assert normalized_demo(out) == (SNAPSHOTS / "demo.txt").read_text(encoding="utf-8")


async def tokens_of(gateway_url: str, parties: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """An access token for each (kind, client id, private JWKS) the demo printed."""
    tokens = []
    for kind, client_id, keys in parties:
        client_type = LendgateClient if kind == "lender" else RegulatorClient
        async with client_type(gateway_url, client_id, keys) as party:
            tokens.append(await party.access_token())
    return tokens


def test_keep_running_prints_service_urls_then_ready_and_serves(tmp_path: Path) -> None:
    process = subprocess.Popen(
        lendgate("demo", "--keep-running"),
        env=demo_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        services: dict[str, str] = {}
        story: list[str] = []
        deadline = time.monotonic() + 120
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == "ready":
                break
            story.append(line)
            name, _, url = line.strip().partition(" ")
            if url.startswith("http://") and " " not in url:
                services[name] = url
            assert time.monotonic() < deadline
        assert set(services) == {"gateway", *SOURCES}
        assert httpx.get(services["gateway"] + "/healthz", timeout=5).json() == {"status": "ok"}
        ready = httpx.get(services["gateway"] + "/readyz", timeout=5).json()
        assert ready["ready"] is True
        assert set(ready["sources"]) == set(SOURCES)
        jwks = httpx.get(services["gateway"] + "/.well-known/jwks.json", timeout=5).json()
        assert jwks["keys"][0]["alg"] == "EdDSA"
        # The story's traffic shows in the metrics, family by family.
        metrics = httpx.get(services["gateway"] + "/metrics", timeout=5).text
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(metrics)
            for sample in family.samples
        }

        def total(name: str, **labels: str) -> float:
            return sum(
                value
                for (sample, found), value in samples.items()
                if sample == name and set(labels.items()) <= set(found)
            )

        assert total("lendgate_http_requests_total", route="/oauth/token", status="200") > 0
        assert total("lendgate_http_request_duration_seconds_count") > 0
        assert total("lendgate_releases_total", outcome="granted") > 0
        assert total("lendgate_releases_total", outcome="ConsentRevoked") > 0
        assert total("lendgate_source_fetch_duration_seconds_count", outcome="ok") > 0
        assert total("lendgate_source_circuit_state", state="closed") == len(SOURCES)
        assert total("lendgate_audit_append_duration_seconds_count") > 0
        assert total("lendgate_audit_tree_size") > 0
        assert total("lendgate_audit_signed_tree_size") > 0
        assert total("lendgate_otp_sent_total", purpose="approve") > 0
        assert ("lendgate_db_pool_connections", (("state", "limit"),)) in samples
        # The demo kept its parties' keys and said how to go on as them.
        told = "".join(story)
        parties = re.findall(r"the (lender|regulator) is (\S+), its private keys (\S+?)[:\s]", told)
        assert [party for party, _, _ in parties] == ["lender", "regulator"]
        keys = [(kind, id_, json.loads(Path(file).read_text())) for kind, id_, file in parties]
        tokens = asyncio.run(tokens_of(services["gateway"], keys))
        assert all(len(token) > 100 for token in tokens)
        for _, _, keys_file in parties:
            assert Path(keys_file).stat().st_mode & 0o777 == 0o600
        assert f"regulator console {services['gateway']}/regulator/" in told
        assert f"borrower portal {services['gateway']}/portal/" in told
        assert httpx.get(services["gateway"] + "/portal/", timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
