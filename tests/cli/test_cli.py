"""The operator's command line, run as an operator would (same directory, same environment)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TypeVar

from lendgate_sdk import jose
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.audit.models import AuditEntry
from gateway.cli.main import app
from gateway.clients.models import Client
from gateway.core.db import create_engine, create_sessionmaker
from gateway.core.settings import get_settings

runner = CliRunner()
Row = TypeVar("Row")


def rows(model: type[Row], url: str) -> list[Row]:
    """Every row of `model` in the database at `url`."""

    async def read() -> list[Row]:
        engine = create_engine(url)
        async with create_sessionmaker(engine)() as session:
            found = list((await session.scalars(select(model))).all())
        await engine.dispose()
        return found

    return asyncio.run(read())


def test_clients_add_registers_and_prints_the_client_id(operator_env: Path) -> None:
    _, public = jose.generate_client_jwks("lender")
    jwks_file = operator_env / "lender.jwks.json"
    jwks_file.write_text(json.dumps(public))
    result = runner.invoke(
        app, ["clients", "add", "--name", "示例银行", "--kind", "lender", "--jwks", str(jwks_file)]
    )
    assert result.exit_code == 0, result.output
    client_id = result.output.strip()
    assert client_id.startswith("lnd_")
    url = get_settings().resolved_database_url
    assert [client.id for client in rows(Client, url)] == [client_id]
    assert [entry.type for entry in rows(AuditEntry, url)] == ["admin.client_added"]


def test_clients_add_refuses_private_keys(operator_env: Path) -> None:
    private, _ = jose.generate_client_jwks("lender")
    jwks_file = operator_env / "private.jwks.json"
    jwks_file.write_text(json.dumps(private))
    result = runner.invoke(
        app, ["clients", "add", "--name", "x", "--kind", "lender", "--jwks", str(jwks_file)]
    )
    assert result.exit_code == 2
    assert "private material" in result.output
    assert rows(Client, get_settings().resolved_database_url) == []


def test_keys_rotate_publishes_a_new_kid_and_audits_it(operator_env: Path) -> None:
    first = runner.invoke(app, ["keys", "rotate"])
    second = runner.invoke(app, ["keys", "rotate"])
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert first.output.strip() != second.output.strip()
    rotated = [entry.type for entry in rows(AuditEntry, get_settings().resolved_database_url)]
    assert rotated == ["key.rotated", "key.rotated"]


def test_keys_check_refuses_missing_keys_without_making_any(operator_env: Path) -> None:
    key_dir = get_settings().resolved_key_dir

    missing = runner.invoke(app, ["keys", "check"])

    assert missing.exit_code == 1
    assert "create them with `lendgate keys init`" in missing.output
    assert not key_dir.exists() or not any(key_dir.rglob("*"))
    assert runner.invoke(app, ["keys", "init"]).exit_code == 0
    before = sorted(path.name for path in key_dir.rglob("*"))

    present = runner.invoke(app, ["keys", "check"])

    assert present.exit_code == 0, present.output
    assert present.output.startswith(f"keys present in {key_dir}: signing key ")
    assert sorted(path.name for path in key_dir.rglob("*")) == before
    checked = [entry.type for entry in rows(AuditEntry, get_settings().resolved_database_url)]
    assert checked == ["admin.keys_initialised"]  # checking is not a key change


def test_policy_check_passes_on_the_shipped_catalogs_and_fails_on_a_broken_one(
    operator_env: Path,
) -> None:
    assert runner.invoke(app, ["policy", "check"]).exit_code == 0
    broken = operator_env / "policies"
    broken.mkdir()
    shipped = Path(__file__).resolve().parents[2] / "policies"
    (broken / "purposes.yaml").write_text((shipped / "purposes.yaml").read_text())
    (broken / "features.yaml").write_text(
        (shipped / "features.yaml").read_text().replace("insured_status", "no_such_field", 1)
    )
    result = runner.invoke(app, ["policy", "check", str(broken)])
    assert result.exit_code == 1
    assert "features.yaml:" in result.output and "no_such_field" in result.output


def test_pii_scan_prints_masked_findings_only() -> None:
    result = runner.invoke(
        app, ["pii", "scan", "-"], input="借款人身份证11010519491231002X\n没有个人信息\n"
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["line"] for line in lines] == [1, 2]
    assert lines[0]["findings"][0]["entity"] == "CN_RESIDENT_ID"
    assert lines[0]["findings"][0]["masked"] == "110***********002X"
    assert lines[1]["findings"] == []
    assert "11010519491231002X" not in result.output


def test_clients_keygen_writes_the_private_jwks_owner_only_and_prints_the_public_one(
    operator_env: Path,
) -> None:
    private_file = operator_env / "lender.private.jwks.json"
    result = runner.invoke(
        app, ["clients", "keygen", "--kind", "lender", "--out", str(private_file)]
    )
    assert result.exit_code == 0, result.output
    public = json.loads(result.output)
    private = json.loads(private_file.read_text())
    assert private_file.stat().st_mode & 0o777 == 0o600
    assert [key["use"] for key in public["keys"]] == ["sig", "enc"]
    assert [key["kid"] for key in public["keys"]] == [key["kid"] for key in private["keys"]]
    assert all("d" not in key for key in public["keys"])
    assert all("d" in key for key in private["keys"])
    # What it prints is what `clients add` takes.
    public_file = operator_env / "lender.public.jwks.json"
    public_file.write_text(result.output)
    added = runner.invoke(
        app,
        ["clients", "add", "--name", "示例银行", "--kind", "lender", "--jwks", str(public_file)],
    )
    assert added.exit_code == 0, added.output
    # Keys are never overwritten.
    again = runner.invoke(
        app, ["clients", "keygen", "--kind", "lender", "--out", str(private_file)]
    )
    assert again.exit_code == 2 and "never overwritten" in again.output
    assert json.loads(private_file.read_text()) == private


def test_clients_keygen_for_a_regulator_makes_a_signing_key_only(operator_env: Path) -> None:
    out = operator_env / "regulator.jwks.json"
    result = runner.invoke(
        app, ["clients", "keygen", "--kind", "regulator", "--alg", "ES256", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert [(key["use"], key["alg"]) for key in json.loads(result.output)["keys"]] == [
        ("sig", "ES256")
    ]
    refused = runner.invoke(app, ["clients", "keygen", "--kind", "bank", "--out", str(out) + "x"])
    assert refused.exit_code == 2 and not Path(str(out) + "x").exists()


def test_clients_list_shows_every_client_and_the_database_read(operator_env: Path) -> None:
    ids = []
    for kind in ("lender", "regulator"):
        _, public = jose.generate_client_jwks(kind)
        jwks_file = operator_env / f"{kind}.jwks.json"
        jwks_file.write_text(json.dumps(public))
        added = runner.invoke(
            app,
            ["clients", "add", "--name", f"示例{kind}", "--kind", kind, "--jwks", str(jwks_file)],
        )
        ids.append(added.output.strip())
    runner.invoke(app, ["clients", "suspend", ids[1]])
    result = runner.invoke(app, ["clients", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split("\t")[:4] for line in lines] == [
        [ids[0], "lender", "active", "示例lender"],
        [ids[1], "regulator", "suspended", "示例regulator"],
    ]
    database = get_settings().resolved_database_url
    assert result.stderr.strip() == f"database {database}"


def test_an_unknown_client_names_the_database_it_was_looked_for_in(operator_env: Path) -> None:
    result = runner.invoke(app, ["clients", "suspend", "lnd_0000000000000000"])
    assert result.exit_code == 2
    database = get_settings().resolved_database_url
    assert result.stderr.strip().splitlines() == [
        "refused: no client lnd_0000000000000000",
        f"(database {database}; see `lendgate clients list`)",
    ]
