"""Envelope encryption for what the gateway keeps, and keyed blind indexes for lookups.

Each consent has its own 256-bit data key; values are sealed with AES-256-GCM
under it, with associated data binding each ciphertext to its consent and
field so ciphertexts cannot be swapped between rows. Data keys are stored only
wrapped by a key-encryption key (KEK) that lives outside the database, behind
the small `Kms` interface. Destroying a consent's wrapped data key makes all of
its ciphertexts unrecoverable (crypto-shredding).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
DATA_KEY_BYTES = 32


class Kms(Protocol):
    """Wraps and unwraps data keys under a key-encryption key it never reveals."""

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        """The data key encrypted under the current KEK, bound to `context`."""
        ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """The data key back, or an error if `wrapped` or `context` was altered."""
        ...


class LocalKms:
    """A KEK held in a file of the key directory: the development and single-host default."""

    def __init__(self, kek_id: str, kek: bytes, retired: dict[str, bytes] | None = None):
        if len(kek) != DATA_KEY_BYTES:
            raise ValueError("a KEK is 32 bytes")
        self._kek_id = kek_id
        self._keks = {**(retired or {}), kek_id: kek}

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        """The data key sealed under the current KEK; the KEK id is kept in front."""
        header = self._kek_id.encode() + b":"
        return header + seal(self._keks[self._kek_id], data_key, header + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Open a wrapped data key with whichever KEK wrapped it."""
        kek_id, _, sealed = wrapped.partition(b":")
        kek = self._keks[kek_id.decode()]
        return open_sealed(kek, sealed, kek_id + b":" + context)


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """AES-256-GCM: a random nonce followed by ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def open_sealed(key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    """Reverse `seal`; raises `cryptography.exceptions.InvalidTag` on any alteration."""
    return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated_data)


def field_context(consent_id: str, field: str) -> bytes:
    """Associated data naming the row and field a ciphertext belongs to."""
    return f"lendgate:{consent_id}:{field}".encode()


def blind_index(key: bytes, value: str) -> str:
    """A keyed, deterministic lookup token for `value` (HMAC-SHA256, hex)."""
    return hmac.new(key, value.strip().upper().encode(), hashlib.sha256).hexdigest()
