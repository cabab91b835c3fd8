"""Identity match: whether the sources know the claimed person, and by the same name and phone.

These are the one place a derivation reads a source's `name` or `phone`: they are
registered with `compares_identity=True`, receive the borrower's claimed identity, and
answer only true/false. No other derivation ever sees the claimed identity, and the
catalog refuses identity fields for every other derivation.
"""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Callable

from policies.derivations.base import CREDIT_BUREAU, Derivation, DerivationInput, derivation

# Ways sources and lenders write the middle dot of names such as 阿依古丽·买买提.
_NAME_DOTS = str.maketrans(dict.fromkeys("\u00b7\u2022\u2027\u2219\u22c5\u30fb\uff0e", "\u00b7"))


def identity_on_file(inputs: DerivationInput) -> bool:
    """Whether the credit bureau holds a file under the claimed resident ID number.

    Sources are asked by the claimed number itself, so whether one finds the person is the
    answer: no field is read, and no value is compared here.
    """
    return inputs.source(CREDIT_BUREAU).found


def identity_name_match(inputs: DerivationInput) -> bool:
    """Whether the name on the credit file is the claimed name; False without a file."""
    return _on_file_is(inputs, "name", inputs.claimed_identity().name, _normal_name)


def identity_phone_match(inputs: DerivationInput) -> bool:
    """Whether the mobile on the credit file is the claimed one; False without a file."""
    return _on_file_is(inputs, "phone", inputs.claimed_identity().phone, _normal_phone)


def _on_file_is(
    inputs: DerivationInput, field: str, claimed: str, normal: Callable[[str], str]
) -> bool:
    """Whether the credit file's `field` is the claimed value, both in `normal` form."""
    source = inputs.source(CREDIT_BUREAU)
    if not source.found:
        return False
    on_file = source.scalar(field)
    if not isinstance(on_file, str):
        raise source.malformed(field)
    return _same(normal(on_file), normal(claimed))


def _normal_name(name: str) -> str:
    """A name as compared: NFKC (full-width forms), one middle dot, no spaces, case-folded."""
    folded = unicodedata.normalize("NFKC", name).translate(_NAME_DOTS)
    return "".join(folded.split()).casefold()


def _normal_phone(phone: str) -> str:
    """A mainland mobile as compared: digits only, without a +86 / 0086 country prefix."""
    digits = "".join(char for char in unicodedata.normalize("NFKC", phone) if char.isdigit())
    for prefix in ("0086", "86"):
        if len(digits) == len(prefix) + 11 and digits.startswith(prefix):
            return digits[len(prefix) :]
    return digits


def _same(on_file: str, claimed: str) -> bool:
    """Equal and non-empty, compared in constant time (the answer is all that may leak)."""
    return bool(on_file) and hmac.compare_digest(on_file.encode(), claimed.encode())


DERIVATIONS: tuple[Derivation, ...] = (
    derivation(identity_on_file, reads={CREDIT_BUREAU: []}, output="boolean"),
    derivation(
        identity_name_match,
        reads={CREDIT_BUREAU: ["name"]},
        output="boolean",
        compares_identity=True,
    ),
    derivation(
        identity_phone_match,
        reads={CREDIT_BUREAU: ["phone"]},
        output="boolean",
        compares_identity=True,
    ),
)
"""Every derivation of this module, each with the contract features are held to."""
