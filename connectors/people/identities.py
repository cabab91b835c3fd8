"""Who the generated people are: resident IDs (GB 11643), mobile numbers, employer codes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from faker.providers.ssn.zh_CN import Provider as _ChineseSsnProvider

from gateway.core.check_digits import resident_id_check_digit, uscc_check_character

_ORGANIZATION_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# County-level codes only: province/prefecture codes (…00) and the Taiwan, Hong Kong
# and Macao codes (71, 81, 82, 83) do not appear on mainland resident IDs.
_COUNTY_CODES = tuple(
    code
    for code in _ChineseSsnProvider.area_codes
    if not code.endswith("00") and code[:2] not in {"71", "81", "82", "83"}
)

_MOBILE_PREFIXES = (
    *(f"13{d}" for d in range(10)),
    "147",
    *(f"15{d}" for d in (0, 1, 2, 3, 5, 6, 7, 8, 9)),
    "166",
    "173",
    "177",
    *(f"18{d}" for d in range(10)),
    "191",
    "198",
    "199",
)


def _organization_code(rng: random.Random) -> str:
    """A GB 11714 organisation code: 8 digits and their check character."""
    body = f"{rng.randrange(10**8):08d}"
    remainder = (
        11 - sum(int(d) * w for d, w in zip(body, _ORGANIZATION_CODE_WEIGHTS, strict=True)) % 11
    )
    return body + {10: "X", 11: "0"}.get(remainder, str(remainder))


def employer_code(rng: random.Random) -> str:
    """A USCC (GB 32100) of an enterprise registered by the market regulator."""
    # 9 = registered by the market regulator, 1 = enterprise: the common case for employers.
    first_17 = "91" + rng.choice(_COUNTY_CODES) + _organization_code(rng)
    return first_17 + uscc_check_character(first_17)


@dataclass(frozen=True)
class Identity:
    """Who a generated person is; their history is drawn only when first looked up."""

    index: int
    id_number: str
    phone: str
    birth_date: date


def draw_identity(rng: random.Random, index: int, taken: set[str]) -> Identity:
    """A fresh resident ID (valid GB 11643, real birth date) and mobile number."""
    while True:
        area = rng.choice(_COUNTY_CODES)
        birth = date(1962, 1, 1) + timedelta(days=rng.randrange(43 * 365))
        first_17 = f"{area}{birth:%Y%m%d}{rng.randrange(1000):03d}"
        id_number = first_17 + resident_id_check_digit(first_17)
        if id_number not in taken:
            break
    phone = rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    return Identity(index, id_number, phone, birth)
