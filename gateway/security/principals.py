"""Who a request acts for: the principals the gateway's tokens name, and those tokens' uses."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

# `token_use` of the gateway's own tokens: a token minted for one kind of principal is
# refused wherever the other is expected.
CLIENT_TOKEN_USE: Final = "client"
BORROWER_TOKEN_USE: Final = "borrower"


class ClientKind(enum.StrEnum):
    """What a registered client is: a lender reads features, a regulator reads the log."""

    LENDER = "lender"
    REGULATOR = "regulator"


@dataclass(frozen=True)
class ClientPrincipal:
    """An authenticated lender or regulator."""

    client_id: str
    kind: ClientKind
    scopes: frozenset[str]


@dataclass(frozen=True)
class BorrowerPrincipal:
    """An authenticated borrower, known by the blind index of the phone they proved."""

    phone_index: str
    session_id: str = ""
