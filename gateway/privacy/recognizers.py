"""Chinese PII recognizers on Presidio, and `find_pii` with a fast pre-filter.

Every recognizer is a Presidio `PatternRecognizer` whose checksum or date check
runs in `validate_result`, so a number that merely looks like an ID is not
reported. The analyzer runs with Presidio's `NoOpNlpEngine` and a registry that
holds only these recognizers: no spaCy model is ever loaded or downloaded.

Boundaries are look-arounds, never `\\b`: `\\b` needs a word/non-word change,
and Chinese characters count as word characters, so `身份证号11010519491231002X已核验`
would hide the ID from a `\\b` pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import Final

from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NoOpNlpEngine

from gateway.core.check_digits import (
    USCC_ALPHABET,
    resident_id_check_digit,
    uscc_check_character,
)
from gateway.privacy.masking import COMPOUND_SURNAMES, mask_value

LANGUAGE: Final = "zh"

CN_RESIDENT_ID: Final = "CN_RESIDENT_ID"
CN_MOBILE: Final = "CN_MOBILE"
BANK_CARD: Final = "BANK_CARD"
CN_USCC: Final = "CN_USCC"
EMAIL_ADDRESS: Final = "EMAIL_ADDRESS"
CN_NAME: Final = "CN_NAME"

ENTITIES: tuple[str, ...] = (
    CN_RESIDENT_ID,
    CN_MOBILE,
    BANK_CARD,
    CN_USCC,
    EMAIL_ADDRESS,
    CN_NAME,
)

# When two recognizers claim the same span (an 18-digit ID that also passes Luhn
# or the USCC check), report the most sensitive reading.
_PRIORITY: Final = {entity: rank for rank, entity in enumerate(ENTITIES)}

# Surnames by population, most common first (top ~100 and the next most common).
SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺"
    "顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿"
    "关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华"
    "喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗"
    "瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
    # Less common, but real (the tail of Faker's zh_CN list, ~3% of people):
    "萧赖洪鞠荆冀郁胥栗燕楚鄢谌奚皮粟冼蔺阚帅屠朴禹漆狄扈晁芮阙邸雍辜裘亓邰赫逯茹嵇湛戎茅昝匡卿"
    "劳楼杭门宣位官封惠储闻厉伊仝郜权廉祖索晋鹿薄况宿隆诸慕宾勾揭尉冶檀阴幸奉衡尧闭谈"
)

# Surnames that are also everyday function words (借款人向银行…, 借款人应按时…):
# right after a context word they count only behind an explicit `：`/`:`/`=`.
_FUNCTION_WORD_SURNAMES: Final = (
    "于向应和时成安全单申关管常明劳楼杭门宣位官封惠储闻厉伊权廉祖索晋鹿薄况宿隆诸慕宾勾揭尉冶檀"
    "阴幸奉衡尧闭谈"
)

# Words after which a Chinese name is expected (free text or a JSON/dict key).
NAME_CONTEXT_WORDS: tuple[str, ...] = (
    "姓名",
    "户名",
    "借款人",
    "客户",
    "联系人",
    "持卡人",
    "申请人",
    "收款人",
    "担保人",
    "开户人",
)

_HAN: Final = r"\u3400-\u4dbf\u4e00-\u9fff"
# Particles that end a name in running text (借款人张三已还款 → 张三, not 张三已).
_NAME_STOP: Final = "的已是与及等了被把向从说称将对"
_GIVEN_NAME: Final = rf"(?:(?![{_NAME_STOP}])[{_HAN}]){{1,2}}"
_ALL_SURNAMES: Final = "(?:" + "|".join(COMPOUND_SURNAMES) + f"|[{SURNAMES}])"
_PLAIN_SURNAMES: Final = (
    "(?:"
    + "|".join(COMPOUND_SURNAMES)
    + "|["
    + "".join(ch for ch in SURNAMES if ch not in _FUNCTION_WORD_SURNAMES)
    + "])"
)
_CONTEXT: Final = "(?:" + "|".join(NAME_CONTEXT_WORDS) + ")"
# Keys under which a bare value is read as a name (the same ones the patterns accept).
_NAME_KEY: Final = re.compile(rf"(?:(?i:name)|{_CONTEXT})$")

# Digit groups may be written with one space or hyphen between them (138 0013 8000).
_SEP: Final = "[ -]?"
# A number glued to Latin letters is part of a token (a hex digest, a key), and
# one right after `1.` is a decimal fraction: neither is a phone or card number.
_NUM_START: Final = r"(?<![\dA-Za-z])(?<!\d[.])"
_NUM_END: Final = r"(?![\dA-Za-z])(?![.]\d)"
_USCC_CLASS: Final = "[0-9A-HJ-NPQRTUWXY]"

RESIDENT_ID_18_REGEX: Final = (
    rf"(?<!\d)(?<!\d[.])\d{{6}}{_SEP}\d{{8}}{_SEP}\d{{3}}[\dXx](?![\dXx])(?![.]\d)"
)
# Legacy IDs carry no check digit, so they also refuse neighbouring letters.
RESIDENT_ID_15_REGEX: Final = rf"{_NUM_START}\d{{6}}{_SEP}\d{{6}}{_SEP}\d{{3}}{_NUM_END}"
MOBILE_REGEX: Final = (
    rf"(?<![\dA-Za-z+])(?<!\d[.])(?:(?:\+|00)?86{_SEP})?1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}"
    + _NUM_END
)
# ISO/IEC 7812 issuers start at 2: leading 0/1 are timestamps and counters, not cards.
BANK_CARD_REGEX: Final = rf"{_NUM_START}[2-9]\d{{15,18}}{_NUM_END}"
# Grouped cards get one pattern per length: a single greedy pattern would swallow a
# trailing number (`6222 0212 3456 7890 12期`), fail Luhn and hide the card.
_CARD_GROUPS: Final = r"[2-9]\d{3}([ -])\d{4}\1\d{4}\1\d{4}"
BANK_CARD_GROUPED_16_REGEX: Final = rf"{_NUM_START}{_CARD_GROUPS}{_NUM_END}"
BANK_CARD_GROUPED_19_REGEX: Final = rf"{_NUM_START}{_CARD_GROUPS}\1\d{{3}}{_NUM_END}"
USCC_REGEX: Final = rf"(?<![0-9A-Za-z]){_USCC_CLASS}{{2}}\d{{6}}{_USCC_CLASS}{{10}}(?![0-9A-Za-z])"
EMAIL_REGEX: Final = (
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
# Each name pattern opens with two cheap one-character checks (a Han character here,
# a context word's last character or a separator just before) so that the costly
# context look-behind runs only where a name can start; they change no match.
_NAME_START: Final = (
    "(?=[\u4e00-\u9fff])(?<=["
    + "".join(sorted({word[-1] for word in NAME_CONTEXT_WORDS}))
    + " \t：:=\"'])"
)
NAME_AFTER_CONTEXT_REGEX: Final = (
    rf"{_NAME_START}(?<={_CONTEXT}[ \t]*){_PLAIN_SURNAMES}{_GIVEN_NAME}"
)
NAME_AFTER_LABEL_REGEX: Final = (
    rf"{_NAME_START}(?<={_CONTEXT}[\"']?[ \t]*[：:=][ \t]*[\"']?){_ALL_SURNAMES}{_GIVEN_NAME}"
)
# `"name": "张三"`, `borrower_name='张三'`: the value must end where the name ends.
NAME_UNDER_KEY_REGEX: Final = (
    rf"{_NAME_START}(?<=name[\"']?[ \t]*[:=][ \t]*[\"']?)"
    rf"{_ALL_SURNAMES}{_GIVEN_NAME}(?![{_HAN}])"
)

# One cheap pass decides whether Presidio runs at all. Each alternative is a
# superset of what some recognizer needs, so skipping Presidio loses nothing:
# every phone, card and legacy ID has the digit groups of its recognizer (or is
# one run of 11+ digits), with neither a digit nor a Latin letter on either side;
# an 18-digit ID (the only number the recognizers accept next to letters) is
# 6 + 8 + 3 digits and a check character, its birth year 19xx or 20xx (or in
# non-ASCII digits); a USCC is 18 characters of its charset, an e-mail has `@`,
# a name follows a context word or a `name` key and its `:` or `=`. So hex
# digests (release ids, pseudonyms, payload digests), whose digit runs often
# reach 11, amount bands (`500000-1000000`) and feature names such as
# `identity_name_match` do not send clean payloads to Presidio. The leading
# look-aheads only make failing positions cheap; they match nothing more.
_CONTEXT_FIRST_CHARS: Final = "".join(sorted({word[0] for word in NAME_CONTEXT_WORDS}))
_NUMBER_SHAPES: Final = "|".join(
    (
        r"\d{11,}",  # any plain number long enough: phones, cards, legacy IDs
        rf"(?:(?:00)?86{_SEP})?1\d\d{_SEP}\d{{4}}{_SEP}\d{{4}}",  # 138 0013 8000, 86-138-…
        r"\d{4}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?P=sep)\d{4}(?:(?P=sep)\d{3})?",  # 6222 0212 …
        rf"\d{{6}}{_SEP}\d{{6}}{_SEP}\d{{3}}",  # 110105 491231 002
    )
)
PREFILTER: Final = re.compile(
    rf"(?=[\d@{_CONTEXT_FIRST_CHARS}nNA-Z])"
    "(?:"
    + "|".join(
        (
            rf"(?<![0-9A-Za-z])(?=[\d -]{{11}})(?:{_NUMBER_SHAPES})(?![0-9A-Za-z])",
            rf"(?<!\d)\d{{6}}{_SEP}(?:19|20|(?![0-9]{{2}})\d\d)\d{{6}}{_SEP}\d{{3}}[\dXx](?![\dXx])",
            "@",
            _CONTEXT,
            "[nN](?i:ame)[\"']?[ \t]*[:=]",
            rf"{_USCC_CLASS}(?=[0-9A-Z]{{17}}){_USCC_CLASS}{{17}}",
        )
    )
    + ")"
)

# GB/T 2260 province-level codes; legacy IDs have no checksum, so the region must be real.
_PROVINCE_CODES: Final = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_CHINA_TZ: Final = timezone(timedelta(hours=8))
_SEPARATORS: Final = str.maketrans("", "", " -")


def _compact(value: str) -> str:
    """Drop digit-group separators and normalize any Unicode digit to ASCII."""
    return "".join(str(int(ch)) if ch.isdecimal() else ch for ch in value.translate(_SEPARATORS))


def _is_digits(value: str) -> bool:
    """Only ASCII digits (`str.isdigit` also accepts `²`, which `int` refuses)."""
    return value.isascii() and value.isdigit()


def _is_birth_date(yyyymmdd: str, today: date | None) -> bool:
    """A real calendar date from 1900 up to today (China time)."""
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return born.year >= 1900 and born <= (today or datetime.now(_CHINA_TZ).date())


def is_valid_resident_id(value: str, *, today: date | None = None) -> bool:
    """GB 11643: 17 digits with a real birth date + check digit, or a 15-digit legacy ID."""
    # Exact form only (ASCII, no separators, upper-case X); the recognizer normalizes
    # scanned text before asking, callers validating input get a strict answer.
    if len(value) == 18:
        body, check = value[:17], value[17]
        if not (_is_digits(body) and _is_birth_date(body[6:14], today)):
            return False
        return resident_id_check_digit(body) == check
    if len(value) == 15:
        return (
            _is_digits(value)
            and int(value[:2]) in _PROVINCE_CODES
            and _is_birth_date("19" + value[6:12], today)
        )
    return False


def is_valid_bank_card(value: str) -> bool:
    """16–19 ASCII digits passing the Luhn check."""
    if not (16 <= len(value) <= 19 and _is_digits(value)):
        return False
    total = 0
    for i, ch in enumerate(reversed(value)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_valid_uscc(value: str) -> bool:
    """GB 32100 check: 18 characters of the USCC charset with a valid mod-31 check character."""
    if len(value) != 18 or any(ch not in USCC_ALPHABET for ch in value):
        return False
    return uscc_check_character(value[:17]) == value[17]


class ResidentIdRecognizer(PatternRecognizer):
    """PRC resident identity card numbers (18-digit GB 11643 and 15-digit legacy)."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity=CN_RESIDENT_ID,
            supported_language=LANGUAGE,
            patterns=[
                Pattern("cn_resident_id_18", RESIDENT_ID_18_REGEX, 0.5),
                Pattern("cn_resident_id_15", RESIDENT_ID_15_REGEX, 0.3),
            ],
        )

    def validate_result(self, pattern_text: str) -> bool:
        """Keep only numbers with a real birth date and, for 18 digits, a matching check digit."""
        return is_valid_resident_id(_compact(pattern_text).upper())


class MobileRecognizer(PatternRecognizer):
    """Mainland mobile numbers, optionally with a +86 / 0086 / 86 prefix."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity=CN_MOBILE,
            supported_language=LANGUAGE,
            patterns=[Pattern("cn_mobile", MOBILE_REGEX, 0.6)],
        )


class BankCardRecognizer(PatternRecognizer):
    """Bank card numbers of 16–19 digits, plain or in groups of four."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity=BANK_CARD,
            supported_language=LANGUAGE,
            patterns=[
                Pattern("bank_card", BANK_CARD_REGEX, 0.3),
                Pattern("bank_card_grouped_16", BANK_CARD_GROUPED_16_REGEX, 0.3),
                Pattern("bank_card_grouped_19", BANK_CARD_GROUPED_19_REGEX, 0.3),
            ],
        )

    def validate_result(self, pattern_text: str) -> bool:
        """Keep only numbers passing the Luhn check."""
        return is_valid_bank_card(_compact(pattern_text))


class UsccRecognizer(PatternRecognizer):
    """Unified social credit codes (统一社会信用代码)."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity=CN_USCC,
            supported_language=LANGUAGE,
            patterns=[Pattern("cn_uscc", USCC_REGEX, 0.3)],
            # The check character is computed over upper-case letters only.
            global_regex_flags=re.DOTALL | re.MULTILINE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        """Keep only codes whose GB 32100 check character matches."""
        return is_valid_uscc(pattern_text)


class EmailRecognizer(PatternRecognizer):
    """E-mail addresses (ASCII), also when glued to Chinese text."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity=EMAIL_ADDRESS,
            supported_language=LANGUAGE,
            patterns=[Pattern("email", EMAIL_REGEX, 0.6)],
        )


class ChineseNameRecognizer(PatternRecognizer):
    """Chinese personal names, only where a label or key says a name follows."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity=CN_NAME,
            supported_language=LANGUAGE,
            patterns=[
                Pattern("cn_name_after_label", NAME_AFTER_LABEL_REGEX, 0.5),
                Pattern("cn_name_after_context", NAME_AFTER_CONTEXT_REGEX, 0.4),
                Pattern("cn_name_under_key", NAME_UNDER_KEY_REGEX, 0.5),
            ],
        )


class _NoContextEnhancer(ContextAwareEnhancer):
    """Leaves scores alone: context is already part of the patterns, and no tokens exist."""

    def __init__(self) -> None:
        super().__init__(
            context_similarity_factor=0,
            min_score_with_context_similarity=0,
            context_prefix_count=0,
            context_suffix_count=0,
        )

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Return the results unchanged."""
        return raw_results


def gateway_recognizers() -> list[PatternRecognizer]:
    """Fresh instances of the gateway's recognizers, one per entity in `ENTITIES`."""
    return [
        ResidentIdRecognizer(),
        MobileRecognizer(),
        BankCardRecognizer(),
        UsccRecognizer(),
        EmailRecognizer(),
        ChineseNameRecognizer(),
    ]


@cache
def build_analyzer() -> AnalyzerEngine:
    """The shared Presidio analyzer: our recognizers only, for "zh", with no NLP model."""
    nlp_engine = NoOpNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": "none"}])
    # A non-empty registry stops AnalyzerEngine from loading Presidio's predefined
    # recognizers, which would pull in a spaCy model.
    registry = RecognizerRegistry(recognizers=gateway_recognizers(), supported_languages=[LANGUAGE])
    analyzer = AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=[LANGUAGE],
        context_aware_enhancer=_NoContextEnhancer(),
    )
    # Presidio compiles each pattern on first use; do it now, not inside a release.
    analyzer.analyze(text="warm-up", language=LANGUAGE)
    return analyzer


@dataclass(frozen=True, slots=True)
class Finding:
    """Where personal data sits in a text, and how it is shown; never the value itself."""

    entity: str
    start: int
    end: int
    masked: str


def find_pii(text: str) -> list[Finding]:
    """Every piece of personal data in `text`, non-overlapping, in order of position."""
    if not PREFILTER.search(text):
        return []
    results = build_analyzer().analyze(text=text, language=LANGUAGE)
    # Longest span first at each position; on a tie, the most sensitive entity.
    results.sort(key=lambda r: (r.start, r.start - r.end, _PRIORITY.get(r.entity_type, 99)))
    findings: list[Finding] = []
    covered_to = 0
    for result in results:
        if result.start < covered_to:
            continue
        value = text[result.start : result.end]
        findings.append(
            Finding(
                result.entity_type, result.start, result.end, mask_value(result.entity_type, value)
            )
        )
        covered_to = result.end
    return findings


def find_pii_in_field(key: str, value: str) -> list[Finding]:
    """Personal data in a field's value, with the field's key as context (`"name": "张三"`)."""
    if not _NAME_KEY.search(key):
        return find_pii(value)
    # A bare value "张三" is no name without context; read it as the line `name: 张三`
    # so the same Presidio patterns decide, then shift positions back into the value.
    prefix = f"{key}: "
    return [
        Finding(f.entity, f.start - len(prefix), f.end - len(prefix), f.masked)
        for f in find_pii(prefix + value)
        if f.start >= len(prefix)
    ]


def apply_masks(text: str, findings: list[Finding]) -> str:
    """`text` with each finding's span replaced by its masked form."""
    if not findings:
        return text
    parts: list[str] = []
    position = 0
    for finding in findings:
        parts.append(text[position : finding.start])
        parts.append(finding.masked)
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def redact_text(text: str) -> str:
    """`text` with every piece of personal data replaced by its masked form."""
    return apply_masks(text, find_pii(text))
