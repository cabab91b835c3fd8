"""Display masking: what a person sees instead of the value."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.privacy.masking import (
    mask_bank_card,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_value,
)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("王小明", "王**"),
        ("欧阳明远", "欧阳**"),
        ("司马一鸣", "司马**"),
        ("诸葛亮", "诸葛*"),
        ("上官婉", "上官*"),
        ("西门吹雪", "西门**"),
        # Two characters starting like a compound surname are surname + given name.
        ("欧阳", "欧*"),
        ("张", "*"),
        ("", ""),
        (" 李四 ", "李*"),
    ],
)
def test_mask_name_keeps_only_the_surname(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("11010519491231002X", "110***********002X"),
        ("11010519491231002x", "110***********002X"),
        ("440304199001010011", "440***********0011"),
        ("110105 19491231 002X", "110***********002X"),
        # 15-digit legacy IDs: first 3 + last 4 as well.
        ("110105491231002", "110********1002"),
    ],
)
def test_mask_id_number_shows_first_three_and_last_four(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13800138000", "138****8000"),
        ("138 0013 8000", "138****8000"),
        ("138-0013-8000", "138****8000"),
        ("+8613800138000", "138****8000"),
        ("+86 138 0013 8000", "138****8000"),
        ("008613900139000", "139****9000"),
    ],
)
def test_mask_phone_shows_first_three_and_last_four(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("6222021234567894", "6222********7894"),
        ("6222 0212 3456 7894", "6222********7894"),
        ("6228480012345678903", "6228***********8903"),
    ],
)
def test_mask_bank_card_shows_first_four_and_last_four(value: str, masked: str) -> None:
    assert mask_bank_card(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("zhangsan@example.com", "z***@example.com"),
        ("a@example.cn", "a***@example.cn"),
        ("not-an-address", "**************"),
    ],
)
def test_mask_email_keeps_first_character_and_domain(value: str, masked: str) -> None:
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    "masker", [mask_id_number, mask_phone, mask_bank_card], ids=["id", "phone", "card"]
)
def test_values_too_short_to_hide_are_masked_entirely(masker: Callable[[str], str]) -> None:
    assert masker("1234567") == "*******"


@pytest.mark.parametrize(
    ("entity", "value", "masked"),
    [
        ("CN_NAME", "欧阳明远", "欧阳**"),
        ("CN_RESIDENT_ID", "11010519491231002X", "110***********002X"),
        ("CN_MOBILE", "13800138000", "138****8000"),
        ("BANK_CARD", "6222021234567894", "6222********7894"),
        ("EMAIL_ADDRESS", "zhangsan@example.com", "z***@example.com"),
        ("CN_USCC", "91110105MA01ABCD26", "911***********CD26"),
        ("SOMETHING_NEW", "secret", "******"),
    ],
)
def test_mask_value_dispatches_by_entity(entity: str, value: str, masked: str) -> None:
    assert mask_value(entity, value) == masked
