"""Who a request acts for: an authenticated client or borrower."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class ClientKind(enum.StrEnum):
    """What a registered client is: a lender reads features, a regulator reads the log."""

    LENDER = "lender"
    REGULATOR = "regulator"


class ClientStatus(enum.StrEnum):
    """Whether a registered client may get and use tokens."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class ClientPrincipal:
    """An authenticated lender or regulator."""

    client_id: str
    kind: ClientKind
    scopes: frozenset[str]
    name: str = ""
    """The name the client was registered with (its products are filed under it)."""
    encryption_key: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    """The public X25519 key releases are encrypted to (lenders), read with the client's row."""


@dataclass(frozen=True)
class BorrowerPrincipal:
    """An authenticated borrower, known by the blind index of the phone they proved."""

    phone_index: str
    session_id: str = ""
