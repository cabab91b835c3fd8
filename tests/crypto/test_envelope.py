"""Envelope encryption: AES-256-GCM bound to its consent and field, data keys wrapped by a KMS."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from gateway.core.settings import Settings
from gateway.crypto.envelope import blind_index, field_context, new_data_key, open_sealed, seal
from gateway.crypto.kms import FileKms, KekUnavailable, Kms, configured_kms, wrapping_kek_id


def file_kms(directory: Path) -> FileKms:
    """A file-backed KMS with one active KEK in `directory`."""
    FileKms.initialise(directory)
    return FileKms(directory)


def test_sealed_values_open_only_in_their_own_context() -> None:
    key = new_data_key()
    sealed = seal(key, b"secret", field_context("cns_a", "identity"))
    assert open_sealed(key, sealed, field_context("cns_a", "identity")) == b"secret"
    with pytest.raises(InvalidTag):
        open_sealed(key, sealed, field_context("cns_b", "identity"))
    with pytest.raises(InvalidTag):
        open_sealed(key, sealed, field_context("cns_a", "release:rel_1"))
    with pytest.raises(InvalidTag):
        open_sealed(new_data_key(), sealed, field_context("cns_a", "identity"))


def test_sealing_twice_gives_different_ciphertexts() -> None:
    key = new_data_key()
    assert seal(key, b"x", b"ad") != seal(key, b"x", b"ad")


def test_the_file_kms_is_a_kms_and_keeps_keks_private(tmp_path: Path) -> None:
    kms = file_kms(tmp_path / "kek")
    assert isinstance(kms, Kms)
    assert kms.kek_ids() == {kms.active_kek_id}
    files = list((tmp_path / "kek").glob("*.key"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o077 == 0


def test_kms_wraps_under_the_active_kek_and_unwraps_with_older_ones(tmp_path: Path) -> None:
    kms = file_kms(tmp_path)
    data_key = new_data_key()
    wrapped_by_old = kms.wrap(data_key, b"cns_1")
    old = kms.active_kek_id
    new = kms.create_kek()
    assert kms.active_kek_id == old  # created, not yet active
    kms.activate_kek(new)
    assert wrapping_kek_id(wrapped_by_old) == old
    assert kms.unwrap(wrapped_by_old, b"cns_1") == data_key
    assert wrapping_kek_id(kms.wrap(data_key, b"cns_1")) == new
    with pytest.raises(InvalidTag):
        kms.unwrap(wrapped_by_old, b"cns_2")


def test_a_wrapped_key_cannot_be_moved_to_another_kek_header(tmp_path: Path) -> None:
    kms = file_kms(tmp_path)
    wrapped = kms.wrap(new_data_key(), b"cns_1")
    other = kms.create_kek()
    relabelled = other.encode() + b":" + wrapped.partition(b":")[2]
    with pytest.raises(InvalidTag):
        kms.unwrap(relabelled, b"cns_1")


def test_another_process_rotating_the_kek_is_followed_without_restart(tmp_path: Path) -> None:
    gateway = file_kms(tmp_path)
    operator = FileKms(tmp_path)
    data_key = new_data_key()
    new = operator.create_kek()
    operator.activate_kek(new)
    rewrapped = operator.wrap(data_key, b"cns_1")
    # The gateway opens a key wrapped under a KEK it had not loaded, and wraps new keys under it.
    assert gateway.unwrap(rewrapped, b"cns_1") == data_key
    assert wrapping_kek_id(gateway.wrap(data_key, b"cns_2")) == new


def test_a_destroyed_kek_leaves_what_it_wrapped_unrecoverable(tmp_path: Path) -> None:
    kms = file_kms(tmp_path)
    old = kms.active_kek_id
    wrapped = kms.wrap(new_data_key(), b"cns_1")
    with pytest.raises(ValueError, match="active"):
        kms.destroy_kek(old)
    kms.activate_kek(kms.create_kek())
    kms.destroy_kek(old)
    assert old not in kms.kek_ids()
    assert not (tmp_path / f"{old}.key").exists()
    with pytest.raises(KekUnavailable):
        kms.unwrap(wrapped, b"cns_1")


def memory_kms_factory(settings: Settings) -> Kms:
    """What `LENDGATE_KMS=tests.crypto.test_envelope:memory_kms_factory` calls."""
    return file_kms(settings.data_dir / "hsm")


def test_settings_choose_the_kms(tmp_path: Path) -> None:
    assert configured_kms(Settings(data_dir=tmp_path)) is None  # `file`: the key directory's
    chosen = configured_kms(Settings(data_dir=tmp_path, kms=f"{__name__}:memory_kms_factory"))
    assert isinstance(chosen, FileKms) and chosen.directory == tmp_path / "hsm"
    with pytest.raises(TypeError):
        configured_kms(Settings(data_dir=tmp_path, kms="os.path:join"))


def test_blind_index_is_keyed_and_normalised() -> None:
    key = os.urandom(32)
    assert blind_index(key, "11010519491231002x ") == blind_index(key, "11010519491231002X")
    assert blind_index(key, "11010519491231002X") != blind_index(
        os.urandom(32), "11010519491231002X"
    )
    assert "11010519491231002X" not in blind_index(key, "11010519491231002X")
