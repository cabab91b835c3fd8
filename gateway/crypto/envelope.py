"""Envelope encryption for what the gateway keeps, and keyed blind indexes for lookups.

Each consent has its own 256-bit data key; values are sealed with AES-256-GCM
under it, with associated data binding each ciphertext to its consent and
field so ciphertexts cannot be swapped between rows. Data keys are stored only
wrapped by a key-encryption key (KEK) that lives outside the database, behind
the small `Kms` interface (`gateway.crypto.kms`). Destroying a consent's
wrapped data key makes all of its ciphertexts unrecoverable (crypto-shredding).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
DATA_KEY_BYTES = 32


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
