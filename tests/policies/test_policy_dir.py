"""`LENDGATE_POLICY_DIR`: a deployment's own catalogs, checked before the gateway starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.core.settings import Settings
from gateway.runtime.context import build_context
from policies.loading import CatalogError, check_catalog, load_catalog

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BROKEN = FIXTURES / "undeclared_source"


def settings_for(data_dir: Path, policy_dir: Path) -> Settings:
    return Settings(environment="test", data_dir=data_dir, policy_dir=policy_dir)


def test_a_broken_policy_dir_stops_the_context_before_any_key_is_made(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as refused:
        build_context(settings_for(tmp_path, BROKEN))
    problems = check_catalog(BROKEN)
    assert len(problems) == 3
    assert refused.value.problems == problems
    for problem in problems:
        assert problem in str(refused.value)
    assert list(tmp_path.iterdir()) == []  # no keys, no database


async def test_a_broken_policy_dir_refuses_to_start_the_app(tmp_path: Path) -> None:
    app = create_app(settings=settings_for(tmp_path, BROKEN))
    with pytest.raises(CatalogError) as refused:
        async with app.router.lifespan_context(app):
            pytest.fail("the gateway started with a broken policy folder")
    assert refused.value.problems == check_catalog(BROKEN)
    assert os.listdir(tmp_path) == []  # the database was not migrated either


async def test_a_valid_policy_dir_replaces_the_shipped_catalogs(tmp_path: Path) -> None:
    context = build_context(settings_for(tmp_path, FIXTURES / "valid"))
    try:
        assert set(context.catalog.purposes) == {"small_loan", "identity_check"}
        assert context.catalog.version == load_catalog(FIXTURES / "valid").version
        assert context.catalog.version != load_catalog().version
        transport = httpx.ASGITransport(app=create_app(context))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            served = (await http.get("/v1/catalog")).json()
        assert [purpose["code"] for purpose in served["purposes"]] == [
            "small_loan",
            "identity_check",
        ]
        assert served["policy_version"] == context.catalog.version
    finally:
        await context.aclose()


def test_lendgate_serve_exits_listing_every_problem(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith("LENDGATE_")}
    env.update(
        LENDGATE_DATA_DIR=str(tmp_path),
        LENDGATE_PORT=str(port),
        LENDGATE_POLICY_DIR=str(BROKEN),
    )
    lendgate = str(Path(sys.executable).with_name("lendgate"))
    done = subprocess.run([lendgate, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    for problem in check_catalog(BROKEN):
        assert problem in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "lendgate.db").exists()
