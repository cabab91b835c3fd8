"""The audit log: append throughput, and proof latency at 10^4, 10^6 and 10^7 leaves.

Each tree lives in a bench database of its own, built by bulk-inserting its
precomputed nodes (every perfect subtree, as appends would have stored them) and
setting the head row; then the gateway's own proof code answers inclusion and
consistency proofs against it, and appends continue it. A proof reads O(log n)
stored nodes in one query, so the 10^7 figure must stay within 2x of the 10^4 one.

Baselines, measured in the same run: proofs at 10^4 leaves; and for appends, a
plain INSERT of the same leaf into a table of the same shape without the tree or
the head lock (what an unverifiable log would cost).

PostgreSQL when one answers on 127.0.0.1:5432 (or `LENDGATE_TEST_POSTGRES_URL`),
else SQLite files. `LENDGATE_BENCH_AUDIT_SIZES=10000,1000000` picks other sizes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bench._stack import postgres_server
from gateway.audit import proofs, service
from gateway.audit.events import AuditEvent
from gateway.audit.merkle import Frontier, range_nodes, verify_consistency, verify_inclusion
from gateway.core.db import create_engine, create_sessionmaker, utcnow
from gateway.core.migrate import upgrade
from tests.support.databases import create_postgres_database, drop_postgres_database

SIZES = (10**4, 10**6, 10**7)
PROOFS = 400
APPENDS = 300
CONCURRENT_WRITERS = (8, 32)
APPENDS_TARGET_PER_S = 2500
"""Leaves a second with 32 writers that the log should sustain on PostgreSQL."""
SEED = 20261123
COPY_BATCH = 250_000


def run() -> None:
    """Build each tree, time proofs and appends on it, print figures and ratios."""
    asyncio.run(_run())


async def _run() -> None:
    sizes = _sizes()
    server = _postgres_server()
    backend = "postgresql" if server else "sqlite"
    print(f"   backend {backend}; trees of {', '.join(f'{n:,}' for n in sizes)} leaves", flush=True)
    urls: dict[int, str] = {}
    with tempfile.TemporaryDirectory(prefix="lendgate-bench-audit-") as scratch:
        try:
            for size in sizes:
                urls[size] = await _create_database(server, Path(scratch), size)
                await upgrade(urls[size])
                started = time.perf_counter()
                await _build_tree(urls[size], size)
                print(
                    f"   {size:>12,} leaves built in {time.perf_counter() - started:6.1f} s",
                    flush=True,
                )
            _report(await _measure(urls))
        finally:
            for url in urls.values():
                await _drop_database(server, url)


def _report(results: dict[int, dict[str, float]]) -> None:
    smallest, largest = min(results), max(results)
    base = results[smallest]
    print(f"   proofs (p50 / p95 ms, {PROOFS} each, sizes in turn), ratio to {smallest:,}:")
    for size, figures in results.items():
        inclusion = [figures[f"inclusion_{q}"] for q in ("p50", "p95")]
        consistency = [figures[f"consistency_{q}"] for q in ("p50", "p95")]
        print(
            f"   {size:>12,}   inclusion {inclusion[0]:5.2f} / {inclusion[1]:5.2f} ms "
            f"{inclusion[0] / base['inclusion_p50']:5.2f}x   consistency {consistency[0]:5.2f} / "
            f"{consistency[1]:5.2f} ms {consistency[0] / base['consistency_p50']:5.2f}x"
        )
    worst = max(
        results[largest]["inclusion_p50"] / base["inclusion_p50"],
        results[largest]["consistency_p50"] / base["consistency_p50"],
    )
    verdict = "within" if worst <= 2 else "NOT within"
    print(f"   {largest:,} leaves: {worst:.2f}x the {smallest:,}-leaf proof latency, {verdict} 2x")
    print(
        f"   appends (p50, one transaction each, {APPENDS} each) against a plain INSERT of "
        "the same leaf without tree or lock, in turn:"
    )
    for size, figures in results.items():
        print(
            f"   {size:>12,}   audit append {figures['append_ms']:5.2f} ms"
            f" ({1000 / figures['append_ms']:5.0f}/s)   plain insert {figures['plain_ms']:5.2f} ms"
            f"   ratio {figures['append_ms'] / figures['plain_ms']:5.2f}x"
            + "".join(
                f"   {writers} writers: {figures[f'concurrent_{writers}_per_s']:5.0f}/s"
                for writers in CONCURRENT_WRITERS
            )
        )
    busiest = max(CONCURRENT_WRITERS)
    sustained = min(figures[f"concurrent_{busiest}_per_s"] for figures in results.values())
    verdict = "meets" if sustained >= APPENDS_TARGET_PER_S else "does NOT meet"
    print(
        f"   {busiest} writers: at least {sustained:.0f} appends/s at every size, which "
        f"{verdict} the {APPENDS_TARGET_PER_S:,}/s target"
    )
    growth = results[largest]["append_ms"] / base["append_ms"]
    print(f"   append at {largest:,} leaves: {growth:.2f}x the one at {smallest:,}")


# --- building a tree without appending it leaf by leaf -----------------------------------


def _leaf_hashes(size: int) -> list[bytes]:
    sha = hashlib.sha256
    return [sha(b'\x00{"seq":%d}' % i).digest() for i in range(size)]


def _levels(size: int) -> list[list[bytes]]:
    """Every perfect subtree hash, level by level (what `size` appends would have stored)."""
    sha = hashlib.sha256
    levels = [_leaf_hashes(size)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(
            [
                sha(b"\x01" + left + right).digest()
                for left, right in zip(below[::2], below[1::2], strict=False)
            ]
        )
    return levels


def _rows(levels: list[list[bytes]]) -> Iterator[tuple[int, int, bytes]]:
    for level, hashes in enumerate(levels):
        for index, digest in enumerate(hashes):
            yield (level, index, digest)


async def _build_tree(url: str, size: int) -> None:
    levels = _levels(size)
    frontier = Frontier(size, [levels[level][index] for level, index in range_nodes(0, size)])
    if url.startswith("sqlite"):
        _build_sqlite(url, levels, frontier)
    else:
        await _build_postgres(url, levels, frontier)


def _build_sqlite(url: str, levels: list[list[bytes]], frontier: Frontier) -> None:
    connection = sqlite3.connect(make_url(url).database or "")
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        rows = _rows(levels)
        while batch := [row for _, row in zip(range(COPY_BATCH), rows, strict=False)]:
            connection.executemany(
                "INSERT INTO audit_nodes (level, position, hash) VALUES (?, ?, ?)", batch
            )
        connection.execute(
            "UPDATE audit_head SET size = ?, frontier = ? WHERE id = 1",
            (frontier.size, frontier.to_bytes()),
        )
        connection.commit()
        connection.execute("ANALYZE")
    finally:
        connection.close()


async def _build_postgres(url: str, levels: list[list[bytes]], frontier: Frontier) -> None:
    import asyncpg

    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )
    try:
        # Load first, index after: far faster than maintaining the index row by row.
        await connection.execute("ALTER TABLE audit_nodes DROP CONSTRAINT pk_audit_nodes")
        rows = _rows(levels)
        while batch := [row for _, row in zip(range(COPY_BATCH), rows, strict=False)]:
            await connection.copy_records_to_table(
                "audit_nodes", records=batch, columns=["level", "position", "hash"]
            )
        await connection.execute(
            "ALTER TABLE audit_nodes ADD CONSTRAINT pk_audit_nodes PRIMARY KEY (level, position)"
        )
        await connection.execute(
            "UPDATE audit_head SET size = $1, frontier = $2 WHERE id = 1",
            frontier.size,
            frontier.to_bytes(),
        )
        await connection.execute("VACUUM ANALYZE audit_nodes")
    finally:
        await connection.close()


# --- measuring -----------------------------------------------------------------------


async def _measure(urls: dict[int, str]) -> dict[int, dict[str, float]]:
    """Proofs, then appends, on every tree, taking turns so that drift hits all alike."""
    engines = {size: create_engine(url) for size, url in urls.items()}
    sessionmakers = {size: create_sessionmaker(engine) for size, engine in engines.items()}
    rng = random.Random(SEED)
    timings: dict[int, dict[str, list[float]]] = {size: {} for size in urls}
    try:
        for size in urls:
            async with sessionmakers[size]() as session:
                await _create_plain_log(session)
                await session.commit()
        calls = {size: _calls(sessionmakers[size], size, rng) for size in urls}
        for kind in ("inclusion", "consistency", "plain", "append"):
            for size in urls:
                for _ in range(10):  # warm caches and compiled statements
                    await calls[size][kind]()
            # One call on each tree in turn, so that whatever else the machine does
            # falls on every size alike.
            for _ in range(PROOFS if kind in ("inclusion", "consistency") else APPENDS):
                for size in urls:
                    timings[size].setdefault(kind, []).append(await _timed(calls[size][kind]))
        results = {}
        for size in urls:
            figures = {
                f"{kind}_p50": statistics.median(values) for kind, values in timings[size].items()
            }
            figures |= {
                f"{kind}_p95": statistics.quantiles(values, n=20)[-1]
                for kind, values in timings[size].items()
            }
            figures["append_ms"] = figures["append_p50"]
            figures["plain_ms"] = figures["plain_p50"]
            for writers in CONCURRENT_WRITERS:
                figures[f"concurrent_{writers}_per_s"] = await _concurrent_appends(
                    sessionmakers[size], writers
                )
            results[size] = figures
    finally:
        for engine in engines.values():
            await engine.dispose()
    return results


def _calls(
    sessionmaker: Callable[[], AsyncSession], size: int, rng: random.Random
) -> dict[str, Callable[[], Awaitable[None]]]:
    """One inclusion proof, consistency proof, plain insert or audit append on this tree."""
    counter = iter(range(10**9))

    async def inclusion() -> None:
        index = rng.randrange(size)
        async with sessionmaker() as session:
            proof = await proofs.inclusion_proof(session, index, size)
        path = [bytes.fromhex(h) for h in proof.inclusion_path]
        root = bytes.fromhex(proof.root_hash)
        _check(verify_inclusion(index, size, bytes.fromhex(proof.leaf_hash), path, root))

    async def consistency() -> None:
        first = rng.randrange(1, size + 1)
        async with sessionmaker() as session:
            proof = await proofs.consistency_proof(session, first, size)
        path = [bytes.fromhex(h) for h in proof.consistency_path]
        roots = bytes.fromhex(proof.first_root_hash), bytes.fromhex(proof.second_root_hash)
        _check(verify_consistency(first, size, *roots, path))

    async def plain() -> None:
        seq = next(counter)
        leaf = service.canonical_leaf(EVENT, seq, utcnow())
        async with sessionmaker() as session, session.begin():
            await session.execute(
                PLAIN_INSERT,
                {
                    "seq": seq,
                    "type": EVENT.type,
                    "consent_id": EVENT.consent_id,
                    "lender_id": EVENT.lender_id,
                    "leaf": leaf.decode(),
                    "leaf_hash": hashlib.sha256(b"\x00" + leaf).hexdigest(),
                },
            )

    async def append() -> None:
        async with sessionmaker() as session, session.begin():
            await service.append(session, EVENT)

    return {"inclusion": inclusion, "consistency": consistency, "plain": plain, "append": append}


async def _timed(call: Callable[[], Awaitable[None]]) -> float:
    """Milliseconds one call takes."""
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


EVENT = AuditEvent(
    type="release.granted",
    actor="lender:lnd_bench",
    consent_id="cns_bench",
    lender_id="lnd_bench",
    features=("si_active", "hf_status"),
    source_fields=("social_insurance.status", "housing_fund.account_status"),
    payload_digest="sha256:" + "0" * 64,
)

PLAIN_INSERT = text(
    "INSERT INTO bench_plain_log VALUES (:seq, CURRENT_TIMESTAMP, :type, :consent_id, "
    ":lender_id, :leaf, :leaf_hash)"
)


async def _create_plain_log(session: AsyncSession) -> None:
    """A table shaped like `audit_entries`, for the baseline: no tree, no head row, no lock."""
    await session.execute(
        text(
            "CREATE TABLE bench_plain_log (seq BIGINT PRIMARY KEY, ts TIMESTAMP, "
            "type VARCHAR(64), consent_id VARCHAR(64), lender_id VARCHAR(64), "
            "leaf TEXT, leaf_hash VARCHAR(64))"
        )
    )


async def _concurrent_appends(sessionmaker: Callable[[], AsyncSession], writers: int) -> float:
    """Appends per second with `writers` contending for the head lock."""

    async def writer() -> None:
        for _ in range(APPENDS // 4):
            async with sessionmaker() as session, session.begin():
                await service.append(session, EVENT)

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return writers * (APPENDS // 4) / (time.perf_counter() - started)


def _check(condition: bool) -> None:
    if not condition:
        raise RuntimeError("the benchmark's tree gave a proof that does not verify")


# --- bench databases -----------------------------------------------------------------


def _sizes() -> tuple[int, ...]:
    configured = os.environ.get("LENDGATE_BENCH_AUDIT_SIZES")
    if not configured:
        return SIZES
    return tuple(int(part) for part in configured.split(",") if part.strip())


def _postgres_server() -> str | None:
    server = postgres_server()
    return server.render_as_string(hide_password=False) if server else None


async def _create_database(server: str | None, scratch: Path, size: int) -> str:
    if server is None:
        return f"sqlite+aiosqlite:///{scratch / f'audit-{size}.db'}"
    return await create_postgres_database(make_url(server), f"lendgate_bench_audit_{size}")


async def _drop_database(server: str | None, url: str) -> None:
    if server is not None:
        await drop_postgres_database(make_url(server), url)
