"""Ids of stored rows and of requests.

Ids land in logs and audit leaves, so none may read as personal data: prefixed
ids and request ids always carry letters, and the unprefixed login ids are 32
characters, longer than any card or identity number.
"""

from __future__ import annotations

import secrets


def new_id(prefix: str, *, nbytes: int = 12) -> str:
    """A fresh id `<prefix>_<hex>` of a stored row; the prefix names its kind (`cns`, `rel`)."""
    return f"{prefix}_{secrets.token_hex(nbytes)}"


def new_login_id() -> str:
    """A fresh id of 32 hex characters for a borrower's code challenge or login session."""
    return secrets.token_hex(16)


def new_request_id() -> str:
    """A fresh request id for logs, audit events and `X-Request-ID`."""
    # URL-safe base64 rather than hex: 16 hex characters are all digits often enough
    # (1 in 2,000) to read as a Luhn-valid card number in logs and audit leaves.
    return secrets.token_urlsafe(12)
