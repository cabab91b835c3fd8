"""Release latency as the database grows: 10^4 against 10^6 consents and releases.

Two deployments (`bench/_stack.py`) run side by side, each with its own PostgreSQL database,
simulators and `lendgate serve --workers 2`. In each, a handful of consents are approved
through the public flow and released once; then the `consents`, `consent_keys` and
`releases` tables are filled with SQL (`INSERT … SELECT … generate_series`, rows cloned
from those real ones with new ids, other borrowers and release times spread over a year)
up to the size, and analysed. The full release is then timed with wrk, one release at a
time (concurrent releases of a handful of consents would mostly time their row locks),
round-robin over the real consents, in short runs taking turns between the two sizes so
that whatever else the machine does falls on both alike. Target: the p50 at 10^6 within
1.2x of the one at 10^4.

`LENDGATE_BENCH_SCALE_SIZES` (default `10000,1000000`), `LENDGATE_BENCH_SCALE_ROUNDS` (5),
`LENDGATE_BENCH_SCALE_SECONDS` (4 a run) and `LENDGATE_BENCH_SCALE_CONNECTIONS` (1) change
the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench._stack import (
    Deployment,
    approve_consents,
    deployment,
    register_lender,
    release_lines,
    wrk,
    wrk_result,
)

REAL_CONSENTS = 8
TARGET_RATIO = 1.2
BATCH = 100_000


def _setting(name: str, default: str) -> str:
    return os.environ.get(f"LENDGATE_BENCH_SCALE_{name}", default)


def run() -> None:
    """Fill each database to its size, time releases on both in turns, print the ratio."""
    asyncio.run(_run())


async def _run() -> None:
    sizes = [int(n) for n in _setting("SIZES", "10000,1000000").split(",")]
    rounds = int(_setting("ROUNDS", "5"))
    connections = int(_setting("CONNECTIONS", "1"))
    seconds = float(_setting("SECONDS", "4"))
    async with contextlib.AsyncExitStack() as stacks:
        deployments: dict[int, Deployment] = {}
        for size in sizes:
            stack = await stacks.enter_async_context(deployment(f"scale_{size}", workers=2))
            lender = register_lender(stack)
            await approve_consents(stack, REAL_CONSENTS)
            for consent_id in stack.consents:
                await lender.release(consent_id)
            started = time.perf_counter()
            await _fill(stack.database_url, size)
            print(
                f"   {size:>10,} consents and releases: filled in "
                f"{time.perf_counter() - started:6.1f} s",
                flush=True,
            )
            deployments[size] = stack
        p50s: dict[int, list[float]] = {size: [] for size in sizes}
        for _ in range(rounds):
            for size, stack in deployments.items():
                assert stack.lender is not None
                stack.lender.forget_token()
                lines = release_lines(stack, await stack.lender.access_token(), None)
                result = wrk_result(
                    wrk(
                        stack.gateway.url,
                        lines,
                        connections=connections,
                        seconds=seconds,
                        directory=stack.directory,
                    )
                )
                if result.errors:
                    raise RuntimeError(f"releases failed at {size:,} rows: {result.errors}")
                p50s[size].append(result.p50_ms)
        for stack in deployments.values():
            if stack.lender is not None:
                await stack.lender.aclose()
    _report(p50s, connections)


def _report(p50s: dict[int, list[float]], connections: int) -> None:
    smallest, largest = min(p50s), max(p50s)
    base = statistics.median(p50s[smallest])
    print(
        f"   full release p50 at {connections} connection(s) (median of the runs), "
        f"ratio to {smallest:,}:"
    )
    for size, values in p50s.items():
        median = statistics.median(values)
        runs = ", ".join(f"{v:.1f}" for v in values)
        print(
            f"   {size:>10,} rows  p50 {median:8.1f} ms  {median / base:5.2f}x   (runs: {runs} ms)"
        )
    ratio = statistics.median(p50s[largest]) / base
    verdict = "within" if ratio <= TARGET_RATIO else "NOT within"
    print(f"   {largest:,} rows: {ratio:.2f}x the {smallest:,}-row p50, {verdict} {TARGET_RATIO}x")


async def _fill(database_url: str, size: int) -> None:
    """Add cloned consents (with their keys) and releases until each table holds `size` rows."""
    url = make_url(database_url)
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, database=url.database
    )
    try:
        existing = await connection.fetchval("SELECT count(*) FROM consents")
        template_consent = await connection.fetchval("SELECT id FROM consents LIMIT 1")
        template_release = await connection.fetchval("SELECT id FROM releases LIMIT 1")
        consent_columns = await _columns(connection, "consents")
        key_columns = await _columns(connection, "consent_keys")
        release_columns = await _columns(connection, "releases")
        wanted = size - existing
        for first in range(1, wanted + 1, BATCH):
            last = min(wanted, first + BATCH - 1)
            await connection.execute(
                _clone(
                    "consents",
                    consent_columns,
                    {
                        "id": "'cns_bulk_' || n",
                        "borrower_index": "md5('borrower' || n)",
                        "phone_index": "md5('phone' || n)",
                        "borrower_ref": "md5('ref' || n)",
                    },
                    f"id = '{template_consent}'",
                ),
                first,
                last,
            )
            await connection.execute(
                _clone(
                    "consent_keys",
                    key_columns,
                    {"consent_id": "'cns_bulk_' || n"},
                    f"consent_id = '{template_consent}'",
                ),
                first,
                last,
            )
            await connection.execute(
                _clone(
                    "releases",
                    release_columns,
                    {
                        "id": "'rel_bulk_' || n",
                        "consent_id": "'cns_bulk_' || n",
                        "created_at": "t.created_at - (n % 365) * interval '1 day'",
                        "delete_by": "t.delete_by - (n % 365) * interval '1 day'",
                    },
                    f"id = '{template_release}'",
                ),
                first,
                last,
            )
            if wanted > BATCH:
                print(f"   … {last:,} of {wanted:,} rows added", flush=True)
        for table in ("consents", "consent_keys", "releases"):
            await connection.execute(f"VACUUM ANALYZE {table}")
    finally:
        await connection.close()


async def _columns(connection: Any, table: str) -> list[str]:
    rows = await connection.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
        "ORDER BY ordinal_position",
        table,
    )
    return [row["column_name"] for row in rows]


def _clone(table: str, columns: list[str], replaced: dict[str, str], template: str) -> str:
    """`INSERT … SELECT` of copies of one row for n in [$1, $2], some columns computed from n."""
    names = ", ".join(json.dumps(column) for column in columns)
    values = ", ".join(replaced.get(column, f"t.{json.dumps(column)}") for column in columns)
    return (
        f"INSERT INTO {table} ({names}) SELECT {values} "
        f"FROM {table} AS t, generate_series($1::bigint, $2::bigint) AS n WHERE t.{template}"
    )
