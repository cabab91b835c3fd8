"""`lendgate products set CLIENT FILE`: a lender's products registered, versioned and audited."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from lendgate_sdk import jose
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.audit.models import AuditEntry
from gateway.cli.main import app
from gateway.clients.models import ProductRegistration
from gateway.core.db import create_engine, create_sessionmaker
from gateway.core.settings import get_settings
from policies.catalog import document_version
from policies.loading import DEFAULT_DIRECTORY

runner = CliRunner()
EXAMPLE = DEFAULT_DIRECTORY / "examples" / "products" / "qingshan_rcb.yaml"


def registered(url: str) -> tuple[list[ProductRegistration], list[dict[str, object]]]:
    """The product registrations and the audit leaves of the database at `url`."""

    async def read() -> tuple[list[ProductRegistration], list[dict[str, object]]]:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session:
                rows = list((await session.scalars(select(ProductRegistration))).all())
                leaves = [
                    json.loads(leaf)
                    for leaf in (
                        await session.scalars(select(AuditEntry.leaf).order_by(AuditEntry.seq))
                    ).all()
                ]
                return rows, leaves
        finally:
            await engine.dispose()

    return asyncio.run(read())


def add_client(folder: Path, kind: str, name: str) -> str:
    _, public = jose.generate_client_jwks(kind)  # type: ignore[arg-type]
    jwks_file = folder / f"{name}.jwks.json"
    jwks_file.write_text(json.dumps(public))
    result = runner.invoke(
        app, ["clients", "add", "--name", name, "--kind", kind, "--jwks", str(jwks_file)]
    )
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_products_set_registers_versions_and_audits_each_change(operator_env: Path) -> None:
    lender = add_client(operator_env, "lender", "funder_a")
    first = runner.invoke(app, ["products", "set", lender, str(EXAMPLE)])
    assert first.exit_code == 0, first.output
    assert "2 products in force" in first.output
    narrower = operator_env / "narrower.yaml"
    narrower.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace(
            "max_validity_days: 15", "max_validity_days: 7"
        ),
        encoding="utf-8",
    )
    second = runner.invoke(app, ["products", "set", lender, str(narrower)])
    assert second.exit_code == 0, second.output

    rows, leaves = registered(get_settings().resolved_database_url)
    assert [row.version for row in rows] == [
        document_version(EXAMPLE.read_bytes()),
        document_version(narrower.read_bytes()),
    ]
    assert all(row.codes == ["housing_fund_easy_loan", "jinyan_easy_loan"] for row in rows)
    set_events = [leaf for leaf in leaves if leaf["type"] == "admin.product_set"]
    assert [(e["lender_id"], e["policy_version"]) for e in set_events] == [
        (lender, row.version) for row in rows
    ]
    assert set_events[0]["actor"] == "operator:cli"
    history = runner.invoke(app, ["products", "history", lender])
    assert history.exit_code == 0, history.output
    lines = history.output.splitlines()
    assert [line.split()[1] for line in lines] == [row.version for row in rows]


def test_products_set_refuses_a_widening_document_naming_file_and_line(
    operator_env: Path,
) -> None:
    lender = add_client(operator_env, "lender", "funder_b")
    widening = operator_env / "widening.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "max_validity_days: 15", "max_validity_days: 60"
    )
    widening.write_text(text, encoding="utf-8")
    line = text.splitlines().index("    max_validity_days: 60") + 1
    result = runner.invoke(app, ["products", "set", lender, str(widening)])
    assert result.exit_code == 1
    assert (
        f"{widening}:{line}: product `jinyan_easy_loan` `max_validity_days` of 60 widens "
        "purpose `consumer_installment_underwriting`'s 30." in result.output
    )
    rows, leaves = registered(get_settings().resolved_database_url)
    assert rows == []
    assert "admin.product_set" not in [leaf["type"] for leaf in leaves]


def test_products_set_refuses_a_client_that_is_not_a_lender(operator_env: Path) -> None:
    regulator = add_client(operator_env, "regulator", "regulator_a")
    result = runner.invoke(app, ["products", "set", regulator, str(EXAMPLE)])
    assert result.exit_code == 1
    assert "is not a registered lender" in result.output
    rows, leaves = registered(get_settings().resolved_database_url)
    assert rows == []
    assert "admin.product_set" not in [leaf["type"] for leaf in leaves]
