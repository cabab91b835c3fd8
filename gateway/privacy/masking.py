"""Display masking of personal values (DESIGN.md, "Protection").

Pure functions, no I/O and no Presidio import, so any module (logging, web pages,
the borrower's own view) can mask cheaply. Masking is for display only: a masked
value is never used to look anything up.
"""

from __future__ import annotations

from collections.abc import Callable

# Two-character surnames keep both characters visible: `欧阳**`, not `欧***`.
COMPOUND_SURNAMES: tuple[str, ...] = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "夏侯",
    "轩辕",
    "令狐",
    "端木",
    "独孤",
    "南宫",
    "西门",
    "司空",
    "澹台",
    "公冶",
    "宗政",
    "濮阳",
    "淳于",
    "单于",
    "太叔",
    "申屠",
    "钟离",
    "闻人",
    "万俟",
    "呼延",
    "赫连",
    "拓跋",
    "百里",
    "东郭",
    "南门",
    "羊舌",
    "微生",
    "梁丘",
    "左丘",
    "第五",
)

_SEPARATORS = str.maketrans("", "", " -")


def _compact(value: str) -> str:
    """Drop the spaces and hyphens people put between digit groups."""
    return value.strip().translate(_SEPARATORS)


def _keep_ends(value: str, head: int, tail: int, *, min_length: int) -> str:
    """Keep `head` and `tail` characters; mask everything when too short to hide enough."""
    if len(value) < min_length:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]


def mask_name(name: str) -> str:
    """Mask a personal name, keeping only the surname: `张*`, `欧阳**`."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    # A two-character name such as 欧阳 alone is surname 欧 + given name 阳.
    if len(name) > 2 and name[:2] in COMPOUND_SURNAMES:
        return name[:2] + "*" * (len(name) - 2)
    return name[0] + "*" * (len(name) - 1)


def mask_id_number(value: str) -> str:
    """Mask a resident ID (18 or legacy 15 digits) to first 3 + last 4: `110***********002X`."""
    return _keep_ends(_compact(value).upper(), 3, 4, min_length=15)


def mask_phone(value: str) -> str:
    """Mask a mobile number to first 3 + last 4 (`138****8000`), dropping any +86 prefix."""
    digits = _compact(value)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            digits = digits[len(prefix) :]
            break
    return _keep_ends(digits, 3, 4, min_length=11)


def mask_bank_card(value: str) -> str:
    """Mask a bank card number to first 4 + last 4: `6222***********0123`."""
    return _keep_ends(_compact(value), 4, 4, min_length=12)


def mask_uscc(value: str) -> str:
    """Mask a unified social credit code to first 3 + last 4, like a resident ID."""
    return _keep_ends(_compact(value).upper(), 3, 4, min_length=15)


def mask_email(value: str) -> str:
    """Mask an e-mail address to its first character and domain: `z***@example.com`."""
    local, at, domain = value.strip().rpartition("@")
    if not at:
        return "*" * len(value.strip())
    return f"{local[:1]}***@{domain}"


def _mask_all(value: str) -> str:
    """Hide every character of a value of unknown kind."""
    return "*" * len(value)


_MASKERS: dict[str, Callable[[str], str]] = {
    "CN_NAME": mask_name,
    "CN_RESIDENT_ID": mask_id_number,
    "CN_MOBILE": mask_phone,
    "BANK_CARD": mask_bank_card,
    "CN_USCC": mask_uscc,
    "EMAIL_ADDRESS": mask_email,
}


def mask_value(entity: str, value: str) -> str:
    """Mask `value` the way its entity type is shown; unknown types are masked entirely."""
    return _MASKERS.get(entity, _mask_all)(value)
