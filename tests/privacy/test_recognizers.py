"""Chinese PII recognizers: what is found, what is not, and that the pre-filter misses nothing.

Test values are fictional: the contract's sandbox identity and numbers whose check
digits are computed here, independently of the code under test.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import uuid
from datetime import date

import pytest
from presidio_analyzer.nlp_engine import NoOpNlpEngine

from gateway.privacy.recognizers import (
    ENTITIES,
    PREFILTER,
    Finding,
    build_analyzer,
    find_pii,
    find_pii_in_field,
    is_valid_bank_card,
    is_valid_resident_id,
    is_valid_uscc,
    redact_text,
)


def resident_id(first17: str) -> str:
    """Append the GB 11643 check digit."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return (
        first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]
    )


def luhn(prefix: str) -> str:
    """Append the Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return prefix + str((10 - total % 10) % 10)


def uscc(first17: str) -> str:
    """Append the GB 32100 check character."""
    charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(charset.index(c) * w for c, w in zip(first17, weights, strict=True))
    return first17 + charset[(31 - total % 31) % 31]


def wrong_check(value: str, alphabet: str = "0123456789X") -> str:
    """The same value with a different (so invalid) last character."""
    return value[:-1] + next(c for c in alphabet if c != value[-1])


SANDBOX_ID = "11010519491231002X"
ID_2 = resident_id("32010619880814351")  # 32010619880814351X
ID_LEGACY = "110105491231002"
CARD_16 = luhn("622202123456789")  # 6222021234567894
CARD_19 = luhn("622848001234567890")  # 6228480012345678903
CODE = uscc("91110105MA01ABCD2")  # 91110105MA01ABCD26


def entities(text: str) -> list[str]:
    """The entity types found in `text`, in order."""
    return [f.entity for f in find_pii(text)]


def only(text: str) -> Finding:
    """The single finding in `text`."""
    findings = find_pii(text)
    assert len(findings) == 1, findings
    return findings[0]


def test_test_values_are_what_the_comments_say() -> None:
    assert (ID_2, CARD_16, CARD_19, CODE) == (
        "32010619880814351X",
        "6222021234567894",
        "6228480012345678903",
        "91110105MA01ABCD26",
    )


# --- the analyzer ------------------------------------------------------------


def test_entities_are_the_six_of_the_contract() -> None:
    assert ENTITIES == (
        "CN_RESIDENT_ID",
        "CN_MOBILE",
        "BANK_CARD",
        "CN_USCC",
        "EMAIL_ADDRESS",
        "CN_NAME",
    )


def test_analyzer_holds_only_our_recognizers_and_loads_no_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import spacy

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("a spaCy model was requested")

    monkeypatch.setattr(spacy, "load", no_model)
    analyzer = build_analyzer.__wrapped__()  # a fresh, uncached engine

    assert isinstance(analyzer.nlp_engine, NoOpNlpEngine)
    assert analyzer.supported_languages == ["zh"]
    assert sorted(analyzer.get_supported_entities("zh")) == sorted(ENTITIES)
    assert {type(r).__module__ for r in analyzer.registry.recognizers} == {
        "gateway.privacy.recognizers"
    }
    results = analyzer.analyze(text=f"身份证号{SANDBOX_ID}", language="zh")
    assert [r.entity_type for r in results] == ["CN_RESIDENT_ID"]
    assert not [m for m in sys.modules if m.startswith(("en_core", "zh_core"))]


def test_build_analyzer_is_cached() -> None:
    assert build_analyzer() is build_analyzer()


# --- CN_RESIDENT_ID ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span"),
    [
        (SANDBOX_ID, (0, 18)),
        (f"身份证号{SANDBOX_ID}已核验", (4, 22)),
        (f"身份证号：{ID_2}，请核对", (5, 23)),
        ("证件号11010519491231002x。", (3, 21)),
        (f'{{"id_number": "{SANDBOX_ID}"}}', (15, 33)),
        ('{"id_number": 440304199001010011}', (14, 32)),
        ('{"ids":[310101198506150024,1]}', (8, 26)),
        ("110105 19491231 002X", (0, 20)),
        (f"旧证号{ID_LEGACY}有效", (3, 18)),
    ],
)
def test_resident_ids_are_found(text: str, span: tuple[int, int]) -> None:
    finding = only(text)
    assert (finding.entity, finding.start, finding.end) == ("CN_RESIDENT_ID", *span)


@pytest.mark.parametrize(
    "text",
    [
        wrong_check(SANDBOX_ID),
        f"身份证号{wrong_check(ID_2)}已核验",
        resident_id("11010519490230002"),  # 30 February
        resident_id("11010519491331002"),  # month 13
        resident_id("11010520990101123"),  # born in 2099
        resident_id("11010518991231002"),  # before 1900
        "110105491331002",  # legacy, month 13
        "110105490230002",  # legacy, 30 February
        "990105491231002",  # legacy, no such province
    ],
)
def test_invalid_checksums_and_impossible_dates_are_not_ids(text: str) -> None:
    assert "CN_RESIDENT_ID" not in entities(text)


def test_an_id_inside_a_longer_number_is_not_an_id() -> None:
    assert "CN_RESIDENT_ID" not in entities("1" + "440304199001010011" + "5")


def test_birth_date_may_not_lie_in_the_future() -> None:
    born_2026 = resident_id("11010520261120123")
    assert is_valid_resident_id(born_2026, today=date(2026, 11, 23))
    assert not is_valid_resident_id(born_2026, today=date(2026, 11, 19))


def test_validators_want_the_exact_form() -> None:
    # Scanned text is normalized by the recognizers; direct callers validate input.
    assert is_valid_resident_id(SANDBOX_ID)
    assert not is_valid_resident_id(SANDBOX_ID.lower())
    assert not is_valid_resident_id("110105 19491231 002X")
    assert is_valid_bank_card(CARD_16)
    assert not is_valid_bank_card("6222 0212 3456 7894")


@pytest.mark.parametrize("junk", ["", "X", "abc", "²" * 18, "1101051949123100²X", " " * 18])
def test_validators_refuse_junk_without_raising(junk: str) -> None:
    assert not is_valid_resident_id(junk)
    assert not is_valid_bank_card(junk)
    assert not is_valid_uscc(junk)


def test_full_width_digits_are_read_as_digits() -> None:
    full_width = (
        SANDBOX_ID[:-1].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + "X"
    )
    finding = only(f"身份证{full_width}")
    assert (finding.entity, finding.masked) == ("CN_RESIDENT_ID", "１１０***********００２X")


# --- CN_MOBILE ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "13800138000",
        "手机13800138000已验证",
        "电话：+86 138 0013 8000。",
        "+8613800138000",
        "8613800138000",
        "0086-139-0013-9000",
        '{"phone": 13800138000}',
        '{"phone":"13800138000"}',
    ],
)
def test_mobile_numbers_are_found(text: str) -> None:
    assert entities(text) == ["CN_MOBILE"]


@pytest.mark.parametrize(
    "text",
    [
        "12800138000",  # no such network prefix
        "138001380001",  # twelve digits
        "1380013800",  # ten digits
        "a13800138000",  # part of a token
        "0.13800138000",  # a decimal fraction
    ],
)
def test_non_mobile_numbers_are_not_mobiles(text: str) -> None:
    assert "CN_MOBILE" not in entities(text)


# --- BANK_CARD ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        CARD_16,
        CARD_19,
        f"卡号{CARD_16}已绑定",
        "卡号 6222 0212 3456 7894 已绑定",
        "6228-4800-1234-5678-903",
        "卡号6222 0212 3456 7894 12期",  # a trailing number must not hide the card
        f'{{"card": {CARD_19}}}',
    ],
)
def test_luhn_valid_cards_are_found(text: str) -> None:
    assert entities(text) == ["BANK_CARD"]


@pytest.mark.parametrize(
    "text",
    [
        wrong_check(CARD_16, "0123456789"),
        f"卡号{wrong_check(CARD_19, '0123456789')}",
        "1763856000000000",  # a microsecond timestamp (starts with 1), Luhn-valid or not
        "6222 0212 3456 7895",
    ],
)
def test_luhn_invalid_numbers_are_not_cards(text: str) -> None:
    assert "BANK_CARD" not in entities(text)


# --- CN_USCC -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [CODE, f"统一社会信用代码{CODE}。", f'{{"uscc": "{CODE}"}}', uscc("92440300L12345678")],
)
def test_valid_credit_codes_are_found(text: str) -> None:
    assert entities(text) == ["CN_USCC"]


@pytest.mark.parametrize(
    "text",
    [
        wrong_check(CODE, "0123456789ABCDEFGHJKLMNPQRTUWXY"),
        CODE.lower(),
        "X" + CODE,  # part of a longer token
        "91110105MA01ABCI26",  # I is outside the charset
    ],
)
def test_invalid_credit_codes_are_not_found(text: str) -> None:
    assert "CN_USCC" not in entities(text)


def test_an_id_that_is_also_luhn_valid_is_reported_once_as_an_id() -> None:
    # An 18-digit ID is also a candidate card number; the more sensitive reading
    # wins and the span is reported once.
    ids = (resident_id(f"44030419900101{n:03d}") for n in range(1000))
    both = next(i for i in ids if i.isdigit() and luhn(i[:-1]) == i)
    assert entities(f"号码{both}") == ["CN_RESIDENT_ID"]


# --- EMAIL_ADDRESS -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("邮箱zhang.san@example.com已验证", "z***@example.com"),
        ('{"email":"li_si+loan@mail.example.cn"}', "l***@mail.example.cn"),
        ("13800138000@qq.example", "1***@qq.example"),
    ],
)
def test_email_addresses_are_found(text: str, masked: str) -> None:
    finding = only(text)
    assert (finding.entity, finding.masked) == ("EMAIL_ADDRESS", masked)


# --- CN_NAME -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("姓名：张三", "张三"),
        ("姓名: 王小明，身份待核", "王小明"),
        ("户名 李四", "李四"),
        ("借款人张三已还款", "张三"),
        ("持卡人赵六的账户", "赵六"),
        ("联系人：欧阳明远", "欧阳明远"),
        ("申请人司马一鸣", "司马一鸣"),
        ("借款人：向华强", "向华强"),
        ('{"name": "王五"}', "王五"),
        ('{"borrower_name":"张三"}', "张三"),
        ('{"姓名": "欧阳明远", "age": 30}', "欧阳明远"),
        ("{'holder_name': '李四'}", "李四"),
        ("Name=赵六", "赵六"),
        ("借款人洪涛已还款", "洪涛"),
        ("户名：赖红霞", "赖红霞"),
        ('{"name": "鞠玉华"}', "鞠玉华"),
        ("联系人：宣岩", "宣岩"),
    ],
)
def test_names_after_a_context_word_or_key_are_found(text: str, name: str) -> None:
    finding = only(text)
    assert finding.entity == "CN_NAME"
    assert text[finding.start : finding.end] == name


@pytest.mark.parametrize(
    "text",
    [
        "张三",
        "今天王五来了",
        "王小明还款正常",
        '{"name": "王府井店"}',  # a place, not a name: the value goes on after 王府井
        '{"name": "consumer_installment_underwriting"}',
        "借款人向银行申请贷款",  # 向 is a surname, but here it means "to"
        "借款人应按时还款",
        "客户经理已核实",
        "客户服务",
        "借款人门店地址",  # 门 and 位 are surnames too, but not right after 借款人 without a colon
        "申请人位于北京",
    ],
)
def test_names_without_context_are_not_reported(text: str) -> None:
    assert "CN_NAME" not in entities(text)


def test_a_field_key_gives_a_bare_value_its_context() -> None:
    assert find_pii("张三") == []
    assert find_pii_in_field("name", "张三") == [Finding("CN_NAME", 0, 2, "张*")]
    assert find_pii_in_field("借款人", "欧阳明远") == [Finding("CN_NAME", 0, 4, "欧阳**")]
    assert find_pii_in_field("purpose", "张三") == []
    assert find_pii_in_field("note", f"证件{SANDBOX_ID}") == [
        Finding("CN_RESIDENT_ID", 2, 20, "110***********002X")
    ]


# --- no false positives on what releases and logs carry ---------------------


@pytest.mark.parametrize(
    "text",
    [
        "8000-12000",
        "2026-10",
        "2026-11-23T00:00:00+08:00",
        "1763856000",
        "0.3",
        "consumer_installment_underwriting",
        '{"si_active": true, "income_proxy_band": "8000-12000", "cb_overdue_accounts_24m": 0}',
        str(uuid.UUID(int=0x3F2A9C1E8B7D4C21A0F35D6E7F8A9B0C)),
        "12000-20000 24-36 10000-50000 2026-10 2026-09",
    ],
)
def test_release_shaped_values_are_clean(text: str) -> None:
    assert find_pii(text) == []


def test_hex_digests_are_not_cards_or_phones() -> None:
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(500)]
    assert [f for d in digests for f in find_pii(d)] == []


def test_the_prefilter_lets_long_digit_runs_inside_hex_digests_through() -> None:
    # Release ids, pseudonyms and digests often hold 11+ digits in a row; glued to
    # hex letters they are no phone or card, and Presidio need not run at all.
    digests = [
        "9f" + "13800138000" + "ab",
        "cns_" + "62220212345678947" + "e1",
        "e3b0" + "1101051949123100" + "fa",
    ]
    assert [d for d in digests if PREFILTER.search(json.dumps({"ref": d}))] == []
    # A resident ID glued to letters is still an ID, and still reaches Presidio.
    glued = f"ab{SANDBOX_ID}cd"
    assert PREFILTER.search(glued) and entities(glued) == ["CN_RESIDENT_ID"]


# --- findings never carry the value -------------------------------------------


def test_findings_hold_the_masked_form_only() -> None:
    text = f"姓名：张三 身份证{SANDBOX_ID} 手机13800138000 卡号{CARD_16} 邮箱zs@example.com"
    findings = find_pii(text)
    assert [f.entity for f in findings] == [
        "CN_NAME",
        "CN_RESIDENT_ID",
        "CN_MOBILE",
        "BANK_CARD",
        "EMAIL_ADDRESS",
    ]
    shown = repr(findings)
    for raw in ("张三", SANDBOX_ID, "13800138000", CARD_16, "zs@example.com"):
        assert raw not in shown
    assert redact_text(text) == (
        "姓名：张* 身份证110***********002X 手机138****8000 "
        "卡号6222********7894 邮箱z***@example.com"
    )


# --- the pre-filter loses nothing ----------------------------------------------

POSITIVES = [
    SANDBOX_ID,
    f"身份证号{SANDBOX_ID}已核验",
    "110105 19491231 002X",
    ID_LEGACY,
    "13800138000",
    "+86 138 0013 8000",
    "0086-139-0013-9000",
    CARD_16,
    CARD_19,
    "6222 0212 3456 7894",
    "6228-4800-1234-5678-903",
    CODE,
    "a@b.example",
    "姓名：张三",
    "借款人张三已还款",
    "户名 李四",
    '{"name": "王五"}',
    "NAME=赵六",
    "{'Holder_Name': '欧阳明远'}",
    '{"姓名":"司马一鸣"}',
    f"ab{SANDBOX_ID}cd",
    '"Name" = "张三"',
    "86-13900139000",
    "110105 491231 002",
]


@pytest.mark.parametrize("text", POSITIVES)
def test_every_positive_trips_the_prefilter(text: str) -> None:
    assert PREFILTER.search(text)
    assert find_pii(text)


def test_prefilter_never_hides_what_the_recognizers_would_find() -> None:
    # Random mixtures of positives, their fragments, and noise; Presidio runs on
    # each text directly, bypassing the pre-filter, and every time it finds
    # something the pre-filter must have said yes.
    rng = random.Random(20261123)
    pieces = [*POSITIVES, *(p[: len(p) // 2] for p in POSITIVES), *(p[1:] for p in POSITIVES)]
    noise = ["，", " ", "-", ":", '"', "x", "7", "名", "人", "已", "\n", "姓名", "客户", "@"]
    analyzer = build_analyzer()
    found = 0
    for _ in range(1500):
        text = "".join(rng.choice(pieces if rng.random() < 0.4 else noise) for _ in range(6))
        if analyzer.analyze(text=text, language="zh"):
            found += 1
            assert PREFILTER.search(text), text
    assert found > 300  # the mixtures really did exercise the recognizers


def test_prefilter_says_no_to_a_clean_release_payload() -> None:
    payload = {
        "si_active": True,
        "income_proxy_band": "8000-12000",
        "cb_overdue_accounts_24m": 0,
        "cb_card_utilization": 0.3,
        "sources": {"social_insurance": {"as_of": "2026-10"}},
        "iat": 1763856000,
    }
    assert PREFILTER.search(json.dumps(payload, ensure_ascii=False)) is None
