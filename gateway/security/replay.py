"""One-time values: a DPoP proof is accepted once, by whichever gateway process sees it first."""

from __future__ import annotations

import hashlib

from gateway.core.errors import InvalidToken
from gateway.core.settings import Settings
from gateway.security import dpop
from gateway.security.store import SharedStore, StoreUnavailable


async def spend_dpop_proof(
    store: SharedStore, settings: Settings, proof: dpop.VerifiedProof
) -> None:
    """Record a proof's `jti` for as long as the proof could be accepted; a replay is refused."""
    ttl = settings.dpop_proof_max_age_seconds + 2 * settings.clock_skew_seconds
    key = "dpop:" + hashlib.sha256(f"{proof.jkt}|{proof.jti}".encode()).hexdigest()
    try:
        fresh = await store.claim(key, ttl)
    except StoreUnavailable:
        # Fail closed: a proof whose uniqueness cannot be checked is not accepted.
        raise InvalidToken(
            "The DPoP proof cannot be checked now; retry.",
            headers={"WWW-Authenticate": dpop.CHALLENGE},
        ) from None
    if not fresh:
        raise InvalidToken(
            "This DPoP proof was already used.", headers={"WWW-Authenticate": dpop.CHALLENGE}
        )
