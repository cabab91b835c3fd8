"""The gateway's own keys: signing keys (with `kid`s), the KMS of KEKs, and the root secret.

They live as files in the key directory, never in the database or the repository:

    signing/<kid>.pem           private Ed25519 signing keys (0600); `signing/active` names one
    signing/<kid>.superseded    when a key stopped signing (written when the next one took over)
    signing/retired/<kid>.jwk   public halves of retired keys, for verifying old records
    kek/<kek_id>.key, kek/active   the file-backed KMS (`gateway.crypto.kms.FileKms`)
    root.secret                 the secret keyed hashes (blind indexes, pseudonyms) derive from

In development missing keys are generated on first start; elsewhere the gateway
refuses to start without them (`lendgate keys init` creates them on purpose).
Several processes share the directory, so a `KeyStore` re-reads its signing keys
when the directory changes: a key rotated by the operator's CLI is published and
used by a running gateway without a restart.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.crypto import jose
from gateway.crypto.key_files import replace_text, write_private
from gateway.crypto.kms import FileKms, Kms

SIGNING_DIR = "signing"
RETIRED_DIR = "retired"
KEK_DIR = "kek"
ROOT_SECRET_FILE = "root.secret"
ACTIVE_FILE = "active"
SUPERSEDED_SUFFIX = ".superseded"


class KeysMissing(RuntimeError):
    """The key directory lacks keys and may not generate them here."""


@dataclass(frozen=True)
class SigningKey:
    """One of the gateway's Ed25519 signing keys."""

    kid: str
    private_key: Ed25519PrivateKey
    created_at: datetime
    superseded_at: datetime | None = None

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK."""
        return jose.public_jwk(self.private_key, self.kid)


class KeyStore:
    """Reads the gateway's keys from the key directory."""

    def __init__(self, directory: Path, kms: Kms, root_secret: bytes):
        self.directory = directory
        self.kms = kms
        self._root_secret = root_secret
        self._signing_keys: dict[str, SigningKey] = {}
        self._active_kid = ""
        self._seen: tuple[int, ...] | None = None
        self._refresh()

    @classmethod
    def open(cls, directory: Path, *, create_missing: bool, kms: Kms | None = None) -> KeyStore:
        """Load the keys in `directory`, generating missing ones only if allowed.

        Without `kms` the KEKs are files of the key directory (the default KMS).
        """
        if not _complete(directory, with_kek=kms is None):
            if not create_missing:
                raise KeysMissing(
                    f"no gateway keys in {directory}; create them with `lendgate keys init`"
                )
            initialise(directory, with_kek=kms is None)
        root_secret = base64.b64decode((directory / ROOT_SECRET_FILE).read_text())
        return cls(directory, kms or FileKms(directory / KEK_DIR), root_secret)

    @property
    def signing_key(self) -> SigningKey:
        """The key that signs new tokens, artefacts and payloads."""
        self._refresh()
        return self._signing_keys[self._active_kid]

    def signing_keys(self) -> list[SigningKey]:
        """Every signing key still held (the active one and superseded ones), oldest first."""
        self._refresh()
        return sorted(self._signing_keys.values(), key=lambda key: (key.created_at, key.kid))

    def holds(self, kid: str) -> bool:
        """Whether `kid` is one of the signing keys still held (not retired)."""
        self._refresh()
        return kid in self._signing_keys

    def jwks(self) -> dict[str, Any]:
        """Every public signing key still published (`/.well-known/jwks.json`)."""
        return {"keys": [key.public_jwk() for key in self.signing_keys()]}

    def retired_jwks(self) -> dict[str, Any]:
        """Public keys of retired signing keys: no longer published, kept to check old records."""
        retired = sorted((self.directory / SIGNING_DIR / RETIRED_DIR).glob("*.jwk"))
        return {"keys": [json.loads(path.read_text()) for path in retired]}

    def secret(self, label: str) -> bytes:
        """A 32-byte secret for one purpose (blind index, pseudonyms, codes), derived by HKDF."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode())
        return hkdf.derive(self._root_secret)

    def _stamp(self) -> tuple[int, ...]:
        """Changes whenever a key is added or removed or another key becomes active."""
        folder = (self.directory / SIGNING_DIR).stat()
        active = (self.directory / SIGNING_DIR / ACTIVE_FILE).stat()
        return (folder.st_mtime_ns, active.st_ino, active.st_mtime_ns)

    def _refresh(self) -> None:
        stamp = self._stamp()
        if stamp == self._seen:
            return
        signing_dir = self.directory / SIGNING_DIR
        keys = {}
        for pem in signing_dir.glob("*.pem"):
            kid = pem.stem
            keys[kid] = SigningKey(
                kid,
                jose.load_private_key_pem(pem.read_bytes()),
                created_at=datetime.fromtimestamp(pem.stat().st_mtime, UTC),
                superseded_at=_read_time(signing_dir / f"{kid}{SUPERSEDED_SUFFIX}"),
            )
        active_kid = (signing_dir / ACTIVE_FILE).read_text().strip()
        if active_kid not in keys:
            raise KeysMissing(f"the active signing key {active_kid} has no file in {signing_dir}")
        self._signing_keys, self._active_kid, self._seen = keys, active_kid, stamp


def _complete(directory: Path, *, with_kek: bool) -> bool:
    needed = [directory / SIGNING_DIR / ACTIVE_FILE, directory / ROOT_SECRET_FILE]
    if with_kek:
        needed.append(directory / KEK_DIR / ACTIVE_FILE)
    return all(path.exists() for path in needed)


def _read_time(path: Path) -> datetime | None:
    try:
        return datetime.fromisoformat(path.read_text().strip())
    except FileNotFoundError:
        return None


def new_signing_kid() -> str:
    """A fresh key id: the date and a random suffix."""
    return f"gw-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


def add_signing_key(directory: Path, kid: str | None = None) -> str:
    """Generate a new signing key, make it active, keep the old ones published; return its kid."""
    signing_dir = directory / SIGNING_DIR
    private_key = jose.generate_signing_key()
    kid = kid or new_signing_kid()
    write_private(signing_dir / f"{kid}.pem", jose.private_key_pem(private_key))
    active = signing_dir / ACTIVE_FILE
    previous = active.read_text().strip() if active.exists() else None
    replace_text(active, kid)
    if previous and not (signing_dir / f"{previous}{SUPERSEDED_SUFFIX}").exists():
        replace_text(signing_dir / f"{previous}{SUPERSEDED_SUFFIX}", datetime.now(UTC).isoformat())
    return kid


def retire_signing_key(directory: Path, kid: str) -> None:
    """Stop publishing a superseded key: archive its public JWK, destroy its private key."""
    signing_dir = directory / SIGNING_DIR
    if (signing_dir / ACTIVE_FILE).read_text().strip() == kid:
        raise ValueError("the active signing key cannot be retired")
    pem = signing_dir / f"{kid}.pem"
    public = jose.public_jwk(jose.load_private_key_pem(pem.read_bytes()), kid)
    retired = signing_dir / RETIRED_DIR
    retired.mkdir(parents=True, exist_ok=True, mode=0o700)
    replace_text(retired / f"{kid}.jwk", json.dumps(public, sort_keys=True))
    pem.unlink()
    (signing_dir / f"{kid}{SUPERSEDED_SUFFIX}").unlink(missing_ok=True)


def superseded_times(keys: list[SigningKey], active_kid: str) -> dict[str, datetime]:
    """When each non-active key stopped signing.

    Keys rotated before these times were recorded count as superseded when the
    next key was made, which is never too early.
    """
    times = {}
    for key in keys:
        if key.kid == active_kid:
            continue
        later = [other.created_at for other in keys if other.created_at > key.created_at]
        fallback = min(later, default=datetime.now(UTC))
        times[key.kid] = key.superseded_at or fallback
    return times


def initialise(directory: Path, *, with_kek: bool = True) -> None:
    """Create whatever keys are missing in `directory` (never overwriting one)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (directory / SIGNING_DIR / ACTIVE_FILE).exists():
        add_signing_key(directory)
    if with_kek:
        FileKms.initialise(directory / KEK_DIR)
    if not (directory / ROOT_SECRET_FILE).exists():
        write_private(directory / ROOT_SECRET_FILE, base64.b64encode(os.urandom(32)))
