"""Opaque cursors for lists ordered by (time, id): stable while rows are added."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from gateway.core.errors import InvalidRequest


def encode_cursor(at: datetime, row_id: str) -> str:
    """The cursor continuing a list after (or before) the row at `at` with id `row_id`."""
    raw = f"{at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; `InvalidRequest` for anything this gateway did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, row_id = raw.split("|", 1)
        moment = datetime.fromisoformat(at)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("`cursor` is the `next_cursor` of a previous page.") from None
    if moment.utcoffset() is None or not row_id:
        raise InvalidRequest("`cursor` is the `next_cursor` of a previous page.")
    return moment, row_id
