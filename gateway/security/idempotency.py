"""Safe retries: an `Idempotency-Key` makes a lender's retried request return the first answer.

A key belongs to one client and is kept in the database every replica shares. The request
claims its key in its own transaction, before any other work, and stores its answer in that
same transaction: the key, the work and the answer commit together or not at all, so a
request that fails (or a process that dies) leaves its key free for the retry. A duplicate
arriving while the first still runs waits on the key's unique index (PostgreSQL) or on the
database's write lock (SQLite) until the first commits, then answers what the first
answered. The same key with another request is `InvalidRequest`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.db import is_postgres
from gateway.core.errors import InvalidRequest
from gateway.security.models import IdempotencyRecord

Answer = TypeVar("Answer", bound=BaseModel)


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer given for a key: replayed as it was."""

    status_code: int
    body: dict[str, Any]


def fingerprint(operation: str, body: Any) -> str:
    """A digest of what a request asks: its operation (method and target) and its body."""
    canonical = json.dumps([operation, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    session: AsyncSession, client_id: str, key: str, digest: str, now: datetime, keep: timedelta
) -> StoredAnswer | None:
    """None when the request now holds `key` and must run; else the first answer to replay.

    Refuses a key that was first used for another request (`InvalidRequest`).
    """
    this_key = (IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key)
    await session.execute(
        delete(IdempotencyRecord).where(*this_key, IdempotencyRecord.expires_at <= now)
    )
    insert: Any = postgresql_insert if is_postgres(session) else sqlite_insert
    claimed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        insert(IdempotencyRecord)
        .values(
            client_id=client_id,
            key=key,
            fingerprint=digest,
            created_at=now,
            expires_at=now + keep,
        )
        .on_conflict_do_nothing()
    )
    if claimed.rowcount == 1:
        return None
    found = (await session.execute(select(IdempotencyRecord).where(*this_key))).scalar_one()
    if found.fingerprint != digest or found.status_code is None or found.response is None:
        raise InvalidRequest("This Idempotency-Key was used with another request; use a new key.")
    return StoredAnswer(found.status_code, json.loads(found.response))


async def answer(
    session: AsyncSession, client_id: str, key: str, status_code: int, body: dict[str, Any]
) -> None:
    """Store the answer to `key` in the request's own transaction (kept only if it commits)."""
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key)
        .values(status_code=status_code, response=json.dumps(body, separators=(",", ":")))
    )


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Delete the keys whose time is up (their answers are never replayed again); how many."""
    purged: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now)
    )
    return int(purged.rowcount or 0)


async def run_once(
    session: AsyncSession,
    *,
    client_id: str,
    key: str | None,
    operation: str,
    body: Any,
    now: datetime,
    keep: timedelta,
    run: Callable[[], Awaitable[Answer]],
    status_code: int,
    before_replay: Callable[[], Awaitable[None]] | None = None,
) -> Answer | JSONResponse:
    """`run()` once per `key` of `client_id` (every time when no key is sent).

    A retry with the same key and request gets the first answer as it was; `before_replay`
    may refuse it first (a release is not handed out again once its consent is revoked).
    """
    if key is None:
        return await run()
    stored = await claim(session, client_id, key, fingerprint(operation, body), now, keep)
    if stored is not None:
        if before_replay is not None:
            await before_replay()
        return JSONResponse(stored.body, status_code=stored.status_code)
    result = await run()
    await answer(session, client_id, key, status_code, result.model_dump(mode="json"))
    return result
