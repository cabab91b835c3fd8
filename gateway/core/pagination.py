"""Keyset pages of lists ordered by (time, id), with opaque cursors stable while rows are added."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from gateway.core.errors import InvalidRequest
from gateway.core.inputs import has_control_characters

Item = TypeVar("Item")


@dataclass(frozen=True)
class Page(Generic[Item]):
    """Up to `limit` items; `next_cursor` continues the list, None on its last page."""

    items: Sequence[Item]
    next_cursor: str | None


async def keyset_page(
    session: AsyncSession,
    query: Select[Item],
    order: tuple[InstrumentedAttribute[datetime], InstrumentedAttribute[str]],
    *,
    cursor: str | None,
    limit: int,
    newest_first: bool = False,
) -> Page[Item]:
    """The page of `query`'s rows in `order` (a time, then an id) that follows `cursor`."""
    at, row_id = order
    if cursor is not None:
        moment, last_id = _decode_cursor(cursor)
        if newest_first:
            query = query.where(or_(at < moment, and_(at == moment, row_id < last_id)))
        else:
            query = query.where(or_(at > moment, and_(at == moment, row_id > last_id)))
    keys = (at.desc(), row_id.desc()) if newest_first else (at, row_id)
    # One row more than the page: whether it exists says whether another page follows.
    found = (await session.scalars(query.order_by(*keys).limit(limit + 1))).all()
    if len(found) <= limit:
        return Page(items=found, next_cursor=None)
    last = found[limit - 1]
    return Page(
        items=found[:limit],
        next_cursor=_encode_cursor(getattr(last, at.key), getattr(last, row_id.key)),
    )


def _encode_cursor(at: datetime, row_id: str) -> str:
    """The cursor continuing a list after (or before) the row at `at` with id `row_id`."""
    raw = f"{at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; `InvalidRequest` for anything this gateway did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, row_id = raw.split("|", 1)
        moment = datetime.fromisoformat(at)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("`cursor` is the `next_cursor` of a previous page.") from None
    if moment.utcoffset() is None or not row_id or has_control_characters(row_id):
        raise InvalidRequest("`cursor` is the `next_cursor` of a previous page.")
    return moment, row_id
