"""Helpers of the audit tests: a short story to fill the log, tampering, the offline verifier."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lendgate_sdk import LendgateAPIError, RegulatorClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from typer.testing import CliRunner, Result

from gateway.cli.main import app as cli
from tests.support.stack import RegisteredClient, Stack

runner = CliRunner()


@dataclass
class Story:
    """What a short story left in the log."""

    regulator: RegisteredClient
    consent_id: str
    granted_leaf: int
    denied_leaf: int


async def tell_a_story(stack: Stack) -> Story:
    """Request, approve, release, revoke, refused: about a dozen leaves."""
    regulator = await stack.register("regulator", name="监管机构")
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
        await lender.revoke(consent_id)
        try:
            await lender.release(consent_id)
            raise AssertionError("a revoked consent released data")
        except LendgateAPIError as refusal:
            assert refusal.code == "ConsentRevoked"
    leaves = await stack.audit_leaves(consent_id)
    denied = [leaf["seq"] for leaf in leaves if leaf["type"] == "release.denied"]
    return Story(regulator, consent_id, release.audit["leaf_index"], denied[-1])


async def export_to(regulator: RegulatorClient, path: Path, **bounds: Any) -> dict[str, Any]:
    """Export a bundle over HTTP and save it as a regulator would."""
    bundle = await regulator.export(bounds.get("start"), bounds.get("end"))
    await asyncio.to_thread(path.write_text, json.dumps(bundle, ensure_ascii=False))
    return bundle


def verify(bundle: Path, *options: str) -> Result:
    """`lendgate audit verify BUNDLE [options]`."""
    return runner.invoke(cli, ["audit", "verify", str(bundle), *options])


Statement = str | tuple[str, dict[str, Any]]


async def behind_the_gateways_back(stack: Stack, table: str, *statements: Statement) -> None:
    """Run `statements` (SQL, or SQL with parameters) on an append-only table as a superuser would.

    PostgreSQL: replica mode skips the table's triggers for this transaction.
    SQLite: the triggers are dropped, the statements run, the triggers come back.
    """
    async with stack.context.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            for statement in statements:
                await _execute(connection, statement)
            return
        triggers = (
            await connection.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"
                ),
                {"t": table},
            )
        ).all()
        assert triggers, f"{table} has no append-only trigger to get around"
        for name, _ in triggers:
            await connection.execute(text(f"DROP TRIGGER {name}"))
        for statement in statements:
            await _execute(connection, statement)
        for _, sql in triggers:
            await connection.execute(text(sql))


async def _execute(connection: AsyncConnection, statement: Statement) -> None:
    sql, params = (statement, {}) if isinstance(statement, str) else statement
    await connection.execute(text(sql), params)


async def stored_leaf(stack: Stack, seq: int) -> str:
    """The leaf text stored at `seq`."""
    async with stack.context.engine.connect() as connection:
        return str(
            (
                await connection.execute(
                    text("SELECT leaf FROM audit_entries WHERE seq = :seq"), {"seq": seq}
                )
            ).scalar_one()
        )
