"""Keyed pseudonyms: blind indexes for lookups and per-lender borrower references.

None of these can be reversed or recomputed without the gateway's secret, and
two lenders never see the same `borrower_ref` for the same person.
"""

from __future__ import annotations

import hashlib
import hmac

from gateway.crypto.envelope import blind_index
from gateway.crypto.keys import KeyStore


def phone_index(keys: KeyStore, phone: str) -> str:
    """Lookup token of a mobile number."""
    return blind_index(keys.secret("blind-index:phone"), phone)


def borrower_index(keys: KeyStore, id_number: str) -> str:
    """Lookup token of a resident ID number: the borrower's internal identity."""
    return blind_index(keys.secret("blind-index:id-number"), id_number)


def borrower_ref(keys: KeyStore, lender_id: str, borrower: str) -> str:
    """Pairwise pseudonym `HMAC(secret, lender_id | borrower_id)`, stable per lender."""
    message = f"{lender_id}|{borrower}".encode()
    return hmac.new(keys.secret("pairwise-pseudonym"), message, hashlib.sha256).hexdigest()


def code_digest(keys: KeyStore, challenge_id: str, code: str) -> str:
    """Keyed hash of a one-time code, bound to its challenge."""
    message = f"{challenge_id}|{code}".encode()
    return hmac.new(keys.secret("one-time-code"), message, hashlib.sha256).hexdigest()
