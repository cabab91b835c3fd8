"""What the gateway accepts at its edge, defined once: id shapes, safe text, bounded integers,
strict times, and the checks a whole request (its path, query and JSON body) must pass.

Nothing a caller sends reaches a query unchecked: a NUL byte or an integer past the
database's 64-bit columns would otherwise come back from the database as an outage.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Final, TypeGuard
from urllib.parse import parse_qsl, unquote_to_bytes

from annotated_types import Ge, Le
from fastapi import Header
from pydantic import AwareDatetime, BeforeValidator, StringConstraints

from gateway.core.errors import InvalidRequest

INT64_MAX: Final = 2**63 - 1
"""The largest value a counter or index column holds."""

MAX_JSON_DEPTH: Final = 32
"""Deeper JSON than any request shape needs is refused before it is parsed further."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_INTEGER_DIGITS: Final = len(str(INT64_MAX))
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_ENCODED_SEPARATOR = re.compile(rb"%(2f|5c)", re.IGNORECASE)
_INDEX = re.compile(r"[0-9]{1,19}", re.ASCII)

# Ids as `gateway.core.ids` mints them: a kind prefix and lowercase hex of a fixed length.
CONSENT_ID_PATTERN: Final = r"^cns_[0-9a-f]{24}$"
RELEASE_ID_PATTERN: Final = r"^rel_[0-9a-f]{24}$"
CLIENT_ID_PATTERN: Final = r"^(lnd|reg)_[0-9a-f]{20}$"
EVENT_TYPE_PATTERN: Final = r"^[a-z_]{1,32}(\.[a-z_]{1,32}){0,3}$"
PRODUCT_CODE_PATTERN: Final = r"^[a-z][a-z0-9_]{0,63}$"
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)

ConsentId = Annotated[str, StringConstraints(pattern=CONSENT_ID_PATTERN)]
"""A consent id (`cns_` and 24 hex digits)."""
ReleaseId = Annotated[str, StringConstraints(pattern=RELEASE_ID_PATTERN)]
"""A release id (`rel_` and 24 hex digits)."""
ClientId = Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)]
"""A lender's (`lnd_`) or regulator's (`reg_`) client id."""
EventType = Annotated[str, StringConstraints(pattern=EVENT_TYPE_PATTERN)]
"""An audit event type, e.g. `release.granted`."""
ProductCode = Annotated[str, StringConstraints(pattern=PRODUCT_CODE_PATTERN)]
"""A lender product's code (lower case, digits and `_`, as the catalog names things)."""
Cursor = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,200}$")]
"""An opaque `next_cursor` of a previous page."""
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9._:-]{1,255}$",
        description="Makes a retry safe: the same key with the same request returns the first "
        "answer (kept at least 24 hours); with another request it is `InvalidRequest`.",
    ),
]
"""The `Idempotency-Key` header of a retryable request (letters, digits, `._:-`)."""
LeafIndex = Annotated[int, Ge(0), Le(INT64_MAX)]
"""A position in the audit log, or a tree size, within a 64-bit column."""
LeafCount = Annotated[int, Ge(1), Le(INT64_MAX)]
"""A tree size of at least one leaf, within a 64-bit column."""


def _rfc3339_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("an RFC 3339 date-time with a UTC offset is expected")
    return value


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]
"""A date-time written as RFC 3339 with its offset; numbers and other spellings are refused."""


def parse_rfc3339(text: str) -> datetime | None:
    """The moment `text` names if it is an RFC 3339 date-time with an offset, else None."""
    if not _RFC3339.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def parse_index(text: str) -> int | None:
    """The non-negative 64-bit integer `text` spells in ASCII digits, else None."""
    if not _INDEX.fullmatch(text):
        return None
    value = int(text)
    return value if value <= INT64_MAX else None


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a NUL or another C0/C1 control character (tab and newline too)."""
    return _CONTROL.search(text) is not None


def is_client_id(value: object) -> TypeGuard[str]:
    """Whether `value` has the shape of a client id (it may still name no client)."""
    return isinstance(value, str) and _CLIENT_ID.fullmatch(value) is not None


def is_safe_text(text: str, *, max_length: int) -> bool:
    """Whether `text` is at most `max_length` characters, none of them a control character."""
    return len(text) <= max_length and not has_control_characters(text)


def check_target(raw_path: bytes, query_string: bytes) -> None:
    """Refuse a request line whose path or query is not UTF-8 or carries control characters."""
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
        pairs = parse_qsl(query_string.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("The request path and query must be UTF-8.") from None
    if _ENCODED_SEPARATOR.search(raw_path) or any(
        segment in (".", "..") for segment in path.split("/")
    ):
        raise InvalidRequest("The request path may not carry encoded separators or dot segments.")
    if has_control_characters(path) or any(
        has_control_characters(name) or has_control_characters(value) for name, value in pairs
    ):
        raise InvalidRequest("The request path and query may not carry control characters.")


def check_json_body(body: bytes) -> None:
    """Refuse a JSON body that is not UTF-8 JSON, nests too deeply, holds integers past 64 bits,
    non-finite numbers or strings with control characters. An empty body passes."""
    if not body.strip():
        return
    try:
        document = json.loads(
            body.decode("utf-8"), parse_int=_bounded_int, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidRequest(
            "The body is not JSON the gateway accepts (UTF-8, integers within 64 bits, "
            f"at most {MAX_JSON_DEPTH} levels)."
        ) from None
    _check_document(document)


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _INTEGER_DIGITS or abs(int(text)) > INT64_MAX:
        raise ValueError("integer out of range")
    return int(text)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _check_document(document: Any) -> None:
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = [*value.keys(), *value.values()]
        elif isinstance(value, list):
            children = value
        else:
            if isinstance(value, str) and has_control_characters(value):
                raise InvalidRequest("Strings in the body may not carry control characters.")
            if isinstance(value, float) and value in (float("inf"), float("-inf")):
                raise InvalidRequest("Numbers in the body must be finite.")
            continue
        if depth > MAX_JSON_DEPTH:
            raise InvalidRequest(f"The body nests deeper than {MAX_JSON_DEPTH} levels.")
        pending.extend((child, depth + 1) for child in children)
