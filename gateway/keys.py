"""The gateway's own keys: signing keys (with `kid`s), the KEK, and the secret for keyed hashes.

They live as files in the key directory, never in the database or the repository.
In development missing keys are generated on first start; elsewhere the gateway
refuses to start without them (`lendgate keys init` creates them on purpose).
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway import jose
from gateway.protection.envelope import LocalKms

SIGNING_DIR = "signing"
KEK_DIR = "kek"
ROOT_SECRET_FILE = "root.secret"
ACTIVE_FILE = "active"


class KeysMissing(RuntimeError):
    """The key directory lacks keys and may not generate them here."""


@dataclass(frozen=True)
class SigningKey:
    """One of the gateway's Ed25519 signing keys."""

    kid: str
    private_key: Ed25519PrivateKey

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK."""
        return jose.public_jwk(self.private_key, self.kid)


class KeyStore:
    """Reads the gateway's keys from the key directory."""

    def __init__(
        self,
        directory: Path,
        signing_keys: dict[str, SigningKey],
        active_kid: str,
        kms: LocalKms,
        root_secret: bytes,
    ):
        self.directory = directory
        self._signing_keys = signing_keys
        self._active_kid = active_kid
        self.kms = kms
        self._root_secret = root_secret

    @classmethod
    def open(cls, directory: Path, *, create_missing: bool) -> KeyStore:
        """Load the keys in `directory`, generating missing ones only if allowed."""
        if not _complete(directory):
            if not create_missing:
                raise KeysMissing(
                    f"no gateway keys in {directory}; create them with `lendgate keys init`"
                )
            initialise(directory)
        return cls._load(directory)

    @classmethod
    def _load(cls, directory: Path) -> KeyStore:
        signing_dir = directory / SIGNING_DIR
        signing_keys = {}
        for pem in sorted(signing_dir.glob("*.pem")):
            kid = pem.stem
            signing_keys[kid] = SigningKey(kid, jose.load_private_key_pem(pem.read_bytes()))
        active_kid = (signing_dir / ACTIVE_FILE).read_text().strip()
        kek_dir = directory / KEK_DIR
        keks = {path.stem: base64.b64decode(path.read_text()) for path in kek_dir.glob("*.key")}
        active_kek = (kek_dir / ACTIVE_FILE).read_text().strip()
        kms = LocalKms(active_kek, keks.pop(active_kek), retired=keks)
        root_secret = base64.b64decode((directory / ROOT_SECRET_FILE).read_text())
        return cls(directory, signing_keys, active_kid, kms, root_secret)

    @property
    def signing_key(self) -> SigningKey:
        """The key that signs new tokens, artefacts and payloads."""
        return self._signing_keys[self._active_kid]

    def jwks(self) -> dict[str, Any]:
        """Every public signing key still published (`/.well-known/jwks.json`)."""
        return {"keys": [key.public_jwk() for key in self._signing_keys.values()]}

    def secret(self, label: str) -> bytes:
        """A 32-byte secret for one purpose (blind index, pseudonyms, codes), derived by HKDF."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode())
        return hkdf.derive(self._root_secret)


def _complete(directory: Path) -> bool:
    return all(
        (directory / name).exists()
        for name in (f"{SIGNING_DIR}/{ACTIVE_FILE}", f"{KEK_DIR}/{ACTIVE_FILE}", ROOT_SECRET_FILE)
    )


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _replace_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def new_signing_kid() -> str:
    """A fresh key id: the date and a random suffix."""
    return f"gw-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


def add_signing_key(directory: Path, kid: str | None = None) -> str:
    """Generate a new signing key, make it active, keep the old ones published; return its kid."""
    private_key = jose.generate_signing_key()
    kid = kid or new_signing_kid()
    _write_private(directory / SIGNING_DIR / f"{kid}.pem", jose.private_key_pem(private_key))
    _replace_text(directory / SIGNING_DIR / ACTIVE_FILE, kid)
    return kid


def initialise(directory: Path) -> None:
    """Create whatever keys are missing in `directory` (never overwriting one)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (directory / SIGNING_DIR / ACTIVE_FILE).exists():
        add_signing_key(directory)
    if not (directory / KEK_DIR / ACTIVE_FILE).exists():
        kek_id = "kek-" + secrets.token_hex(4)
        _write_private(directory / KEK_DIR / f"{kek_id}.key", base64.b64encode(os.urandom(32)))
        _replace_text(directory / KEK_DIR / ACTIVE_FILE, kek_id)
    if not (directory / ROOT_SECRET_FILE).exists():
        _write_private(directory / ROOT_SECRET_FILE, base64.b64encode(os.urandom(32)))
