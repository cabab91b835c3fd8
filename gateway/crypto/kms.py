"""Key-encryption keys behind a small KMS interface, and the file-backed default.

The gateway never stores a data key in the clear: each consent's data key is
kept wrapped by a key-encryption key (KEK) that lives outside the database.
`Kms` is everything the gateway asks of whatever holds the KEKs; `FileKms`
keeps them as files of the key directory (`LENDGATE_KMS=file`, the default),
and a deployment with a hardware or cloud KMS names its own factory instead
(`LENDGATE_KMS=package.module:factory`, called with the settings).

A wrapped key starts with the id of the KEK that wrapped it (`kek-1a2b3c4d:`),
so KEKs can rotate: new keys are wrapped under the active KEK, older ones still
open with the KEK that wrapped them until they are re-wrapped, and a KEK no
wrapped key needs any more can be destroyed.
"""

from __future__ import annotations

import base64
import importlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from gateway.crypto.envelope import DATA_KEY_BYTES, open_sealed, seal
from gateway.crypto.key_files import replace_text, write_private

if TYPE_CHECKING:
    from gateway.core.settings import Settings

FILE_KMS = "file"
ACTIVE_FILE = "active"
KEK_SUFFIX = ".key"
_SEPARATOR = b":"


class KekUnavailable(LookupError):
    """A wrapped key names a KEK this KMS does not hold (never had, or destroyed)."""


@runtime_checkable
class Kms(Protocol):
    """What the gateway needs from a key management service."""

    @property
    def active_kek_id(self) -> str:
        """The KEK that wraps new data keys."""
        ...

    def kek_ids(self) -> frozenset[str]:
        """Every KEK this KMS still holds."""
        ...

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        """`data_key` encrypted under the active KEK, bound to `context`, KEK id in front."""
        ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """The data key back; `KekUnavailable` or `InvalidTag` if it cannot be opened."""
        ...

    def create_kek(self) -> str:
        """Make a new KEK (not yet active) and return its id."""
        ...

    def activate_kek(self, kek_id: str) -> None:
        """Make `kek_id` the KEK that wraps new data keys."""
        ...

    def destroy_kek(self, kek_id: str) -> None:
        """Destroy a KEK for good: whatever it still wraps can never be opened again."""
        ...


def wrapping_kek_id(wrapped: bytes) -> str:
    """The id of the KEK that wrapped `wrapped` (read from its header, nothing decrypted)."""
    kek_id, separator, _ = wrapped.partition(_SEPARATOR)
    if not separator:
        raise ValueError("not a wrapped data key")
    return kek_id.decode("ascii")


def kek_prefix(kek_id: str) -> bytes:
    """The header every key wrapped by `kek_id` starts with."""
    return kek_id.encode("ascii") + _SEPARATOR


def new_kek_id() -> str:
    """A fresh KEK id."""
    return f"kek-{secrets.token_hex(4)}"


class FileKms:
    """KEKs as files: `<directory>/<kek_id>.key` (base64, mode 0600) and `active` naming one.

    Several processes share the directory (gateway replicas, the operator's CLI),
    so every use first checks (two `stat` calls) whether the directory changed: a
    KEK rotated by the CLI wraps a running gateway's next data key, keys the CLI
    re-wrapped open at once, and a destroyed KEK is dropped from memory too.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self._keks: dict[str, bytes] = {}
        self._active = ""
        self._seen: tuple[int, ...] | None = None
        self._load()

    @classmethod
    def initialise(cls, directory: Path) -> None:
        """Create and activate a first KEK in `directory` unless one is active already."""
        if (directory / ACTIVE_FILE).exists():
            return
        kek_id = new_kek_id()
        write_private(directory / f"{kek_id}{KEK_SUFFIX}", _new_kek_text())
        replace_text(directory / ACTIVE_FILE, kek_id)

    @staticmethod
    def is_initialised(directory: Path) -> bool:
        """Whether `directory` holds an active KEK."""
        return (directory / ACTIVE_FILE).exists()

    @property
    def active_kek_id(self) -> str:
        """The KEK that wraps new data keys (re-read if another process switched it)."""
        self._refresh_if_changed()
        return self._active

    def kek_ids(self) -> frozenset[str]:
        """Every KEK file in the directory."""
        self._load()
        return frozenset(self._keks)

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        """The data key sealed under the active KEK; the KEK id is kept in front."""
        if len(data_key) != DATA_KEY_BYTES:
            raise ValueError("a data key is 32 bytes")
        kek_id = self.active_kek_id
        header = kek_prefix(kek_id)
        return header + seal(self._keks[kek_id], data_key, header + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Open a wrapped data key with whichever KEK wrapped it."""
        kek_id = wrapping_kek_id(wrapped)
        self._refresh_if_changed()
        kek = self._keks.get(kek_id)
        if kek is None:
            raise KekUnavailable(f"the key-encryption key {kek_id} is not held here")
        header = kek_prefix(kek_id)
        return open_sealed(kek, wrapped[len(header) :], header + context)

    def create_kek(self) -> str:
        """Write a new KEK file (not active yet) and return its id."""
        kek_id = new_kek_id()
        write_private(self.directory / f"{kek_id}{KEK_SUFFIX}", _new_kek_text())
        self._load()
        return kek_id

    def activate_kek(self, kek_id: str) -> None:
        """Point `active` at `kek_id`; every process sharing the directory follows."""
        if kek_id not in self.kek_ids():
            raise KekUnavailable(f"the key-encryption key {kek_id} is not held here")
        replace_text(self.directory / ACTIVE_FILE, kek_id)
        self._load()

    def destroy_kek(self, kek_id: str) -> None:
        """Delete a KEK file; the active KEK cannot be destroyed."""
        if kek_id == self.active_kek_id:
            raise ValueError("the active key-encryption key cannot be destroyed")
        path = self.directory / f"{kek_id}{KEK_SUFFIX}"
        if path.exists():
            # Overwrite before unlinking, so the key does not linger in the old blocks
            # of a simple file system (journaling and SSDs make this best effort).
            with path.open("r+b") as handle:
                handle.write(os.urandom(path.stat().st_size))
                handle.flush()
                os.fsync(handle.fileno())
            path.unlink()
        self._keks.pop(kek_id, None)

    def _stamp(self) -> tuple[int, ...] | None:
        """Changes when a KEK file is added or removed or `active` is replaced."""
        try:
            folder = self.directory.stat()
            active = (self.directory / ACTIVE_FILE).stat()
        except FileNotFoundError:
            return None
        return (folder.st_mtime_ns, active.st_ino, active.st_mtime_ns)

    def _refresh_if_changed(self) -> None:
        if self._stamp() != self._seen:
            self._load()

    def _load(self) -> None:
        self._seen = self._stamp()
        if self._seen is None:
            raise KekUnavailable(f"no active key-encryption key in {self.directory}")
        self._keks = {
            path.name.removesuffix(KEK_SUFFIX): base64.b64decode(path.read_text())
            for path in self.directory.glob(f"*{KEK_SUFFIX}")
        }
        active = (self.directory / ACTIVE_FILE).read_text().strip()
        if active not in self._keks:
            raise KekUnavailable(f"the active key-encryption key {active} has no file")
        if any(len(kek) != DATA_KEY_BYTES for kek in self._keks.values()):
            raise ValueError(f"a key-encryption key in {self.directory} is not 32 bytes")
        self._active = active


def configured_kms(settings: Settings) -> Kms | None:
    """The KMS `LENDGATE_KMS` names; None for `file`, the key directory's own `FileKms`."""
    if settings.kms == FILE_KMS:
        return None
    module_name, _, factory_name = settings.kms.partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    kms = factory(settings)
    if not isinstance(kms, Kms):
        raise TypeError(f"{settings.kms} did not return a Kms")
    return kms


def _new_kek_text() -> bytes:
    return base64.b64encode(os.urandom(DATA_KEY_BYTES))
