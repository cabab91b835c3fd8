"""The check characters of Chinese identifiers: resident IDs (GB 11643) and USCCs (GB 32100)."""

from __future__ import annotations

from typing import Final

USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters a unified social credit code is written in (no I, O, S, V, Z)."""

_RESIDENT_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK: Final = "10X98765432"
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def resident_id_check_digit(first_17: str) -> str:
    """The GB 11643 check character for the first 17 digits of a resident ID."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first_17, _RESIDENT_ID_WEIGHTS, strict=True)
    )
    return _RESIDENT_ID_CHECK[total % 11]


def uscc_check_character(first_17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a USCC."""
    total = sum(
        USCC_ALPHABET.index(char) * weight
        for char, weight in zip(first_17, _USCC_WEIGHTS, strict=True)
    )
    return USCC_ALPHABET[(31 - total % 31) % 31]
