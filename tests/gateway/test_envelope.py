"""Envelope encryption: AES-256-GCM bound to its consent and field, wrapped data keys."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidTag

from gateway.protection.envelope import (
    LocalKms,
    blind_index,
    field_context,
    new_data_key,
    open_sealed,
    seal,
)


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


def test_kms_wraps_under_the_active_kek_and_unwraps_with_retired_ones() -> None:
    old, new = os.urandom(32), os.urandom(32)
    data_key = new_data_key()
    wrapped_by_old = LocalKms("kek-old", old).wrap(data_key, b"cns_1")
    rotated = LocalKms("kek-new", new, retired={"kek-old": old})
    assert rotated.unwrap(wrapped_by_old, b"cns_1") == data_key
    assert rotated.wrap(data_key, b"cns_1").startswith(b"kek-new:")
    with pytest.raises(InvalidTag):
        rotated.unwrap(wrapped_by_old, b"cns_2")


def test_blind_index_is_keyed_and_normalised() -> None:
    key = os.urandom(32)
    assert blind_index(key, "11010519491231002x ") == blind_index(key, "11010519491231002X")
    assert blind_index(key, "11010519491231002X") != blind_index(
        os.urandom(32), "11010519491231002X"
    )
    assert "11010519491231002X" not in blind_index(key, "11010519491231002X")
