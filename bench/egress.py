"""The egress guard: its cost on clean releases against Presidio alone, and its recall.

Baseline, measured in the same run on the same payloads: Presidio's
`AnalyzerEngine` with the gateway's own recognizers (no NLP model), called on
each payload serialized as JSON — what a guard without the pre-filter and the
field walk would do. The guard must be much faster on clean payloads and find
at least as much in a generated corpus of payloads with planted personal data
(resident IDs 18 and 15 digits, mobiles, bank cards, USCCs, e-mails and names,
planted as text, next to Chinese, as JSON numbers, in lists and in keys).
"""

from __future__ import annotations

import json
import random
import secrets
import string
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from faker import Faker

from gateway.privacy.egress import EgressGuard
from gateway.privacy.recognizers import (
    BANK_CARD,
    CN_MOBILE,
    CN_NAME,
    CN_RESIDENT_ID,
    CN_USCC,
    EMAIL_ADDRESS,
    LANGUAGE,
    PREFILTER,
    build_analyzer,
)
from policies.catalog import Catalog
from policies.loading import load_catalog

SEED = 20261123
CLEAN_PAYLOADS = 2000
PLANTED_PAYLOADS = 3000
ROUNDS = 3

# County-level codes of a few real regions (GB/T 2260); birth dates and serials are random.
REGIONS = ("110105", "110108", "310101", "310115", "440304", "440106", "510107", "330106")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def run() -> None:
    """Print the guard's speed-up over Presidio on clean payloads, then recall on planted PII."""
    rng = random.Random(SEED)
    fake = Faker("zh_CN")
    fake.seed_instance(SEED)
    catalog = load_catalog(None)
    guard = EgressGuard()
    analyzer = build_analyzer()

    clean = [clean_payload(rng, catalog) for _ in range(CLEAN_PAYLOADS)]

    def guard_all() -> int:
        return sum(len(guard.scan(payload)) for payload in clean)

    def presidio_all() -> int:
        return sum(
            len(analyzer.analyze(text=json.dumps(payload, ensure_ascii=False), language=LANGUAGE))
            for payload in clean
        )

    guard_seconds, guard_hits = best_of(guard_all)
    presidio_seconds, presidio_hits = best_of(presidio_all)
    skipped = sum(
        PREFILTER.search(json.dumps(payload, ensure_ascii=False)) is None for payload in clean
    )
    print(f"   clean release payloads: {CLEAN_PAYLOADS} (best of {ROUNDS} rounds)")
    print(
        f"   egress guard      {guard_seconds / CLEAN_PAYLOADS * 1e6:8.1f} µs/payload"
        f"   findings {guard_hits}"
    )
    print(
        f"   Presidio alone    {presidio_seconds / CLEAN_PAYLOADS * 1e6:8.1f} µs/payload"
        f"   findings {presidio_hits}"
    )
    print(
        f"   speed-up          {presidio_seconds / guard_seconds:8.1f}x (baseline: Presidio alone)"
    )
    print(f"   pre-filter alone decided {skipped / CLEAN_PAYLOADS:.1%} of the clean payloads")

    planted = [plant(rng, fake, clean_payload(rng, catalog)) for _ in range(PLANTED_PAYLOADS)]
    found_by_guard: Counter[str] = Counter()
    found_by_presidio: Counter[str] = Counter()
    planted_count: Counter[str] = Counter()
    for payload, entity, _ in planted:
        planted_count[entity] += 1
        if entity in {finding.entity for finding in guard.scan(payload)}:
            found_by_guard[entity] += 1
        text = json.dumps(payload, ensure_ascii=False, default=str)
        if entity in {
            result.entity_type for result in analyzer.analyze(text=text, language=LANGUAGE)
        }:
            found_by_presidio[entity] += 1
    total = sum(planted_count.values())
    print(f"   planted-PII corpus: {total} payloads, one planted value each")
    print(
        f"   recall: egress guard {sum(found_by_guard.values()) / total:.1%}, "
        f"Presidio alone on the JSON {sum(found_by_presidio.values()) / total:.1%}"
    )
    for entity in sorted(planted_count):
        print(
            f"     {entity:<15} {planted_count[entity]:5d} planted"
            f"   guard {found_by_guard[entity] / planted_count[entity]:6.1%}"
            f"   Presidio alone {found_by_presidio[entity] / planted_count[entity]:6.1%}"
        )
    missed = Counter(
        form
        for payload, entity, form in planted
        if entity not in {finding.entity for finding in guard.scan(payload)}
    )
    if missed:
        print(f"   missed by the guard, by form: {dict(missed)}")


def best_of(work: Callable[[], int]) -> tuple[float, int]:
    """The fastest of `ROUNDS` runs of `work`, and its result."""
    work()  # warm-up: compiled patterns, caches
    times = []
    result = 0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


# -- clean payloads, shaped like DESIGN.md's release payload ------------------------------------


def clean_payload(rng: random.Random, catalog: Catalog) -> dict[str, Any]:
    """A release payload with realistic feature values and the gateway's identifiers."""
    names = rng.sample(sorted(catalog.features), k=min(len(catalog.features), rng.randint(4, 10)))
    features = {
        name: feature_value(rng, catalog.features[name].output.public_view()) for name in names
    }
    as_of = f"2026-{rng.randint(1, 10):02d}"
    return {
        "release_id": f"rel_{secrets.token_hex(12)}",
        "consent_id": f"cns_{secrets.token_hex(12)}",
        "purpose": rng.choice(sorted(catalog.purposes)),
        "borrower_ref": secrets.token_hex(32),
        "features": features,
        "sources": {source: {"as_of": as_of} for source in ("social_insurance", "credit_bureau")},
        "policy_version": secrets.token_hex(32),
        "iat": 1763856000 + rng.randint(0, 10_000_000),
        "iss": "lendgate",
        "aud": f"lnd_{secrets.token_hex(8)}",
    }


def feature_value(rng: random.Random, output: dict[str, Any]) -> Any:
    """A value of the output type a feature declares (bands, counts, ratios, codes)."""
    kind = output.get("type")
    if output.get("nullable") and rng.random() < 0.1:
        return None
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "integer":
        return rng.randint(0, 36)
    if kind == "ratio":
        return round(rng.random(), 2)
    if kind == "band":
        edges = output.get("edges") or [0, 3000, 8000, 12000, 20000]
        index = rng.randrange(len(edges))
        if index == len(edges) - 1:
            return f"{edges[index]}+"
        return f"{edges[index]}-{edges[index + 1]}"
    values = output.get("values")
    if values:
        return rng.choice(values)
    return rng.choice(["NORMAL", "2026-10", 0])


# -- planted personal data ------------------------------------------------------------------------


def resident_id(rng: random.Random) -> str:
    """A valid 18-digit resident ID (GB 11643 check digit)."""
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    body = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    total = sum(int(digit) * weight for digit, weight in zip(body, ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def legacy_resident_id(rng: random.Random) -> str:
    """A 15-digit resident ID of before 1999."""
    born = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 60))
    return f"{rng.choice(REGIONS)}{born:%y%m%d}{rng.randrange(1000):03d}"


def mobile(rng: random.Random) -> str:
    """A mainland mobile number."""
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def bank_card(rng: random.Random) -> str:
    """A 16- or 19-digit card number with a valid Luhn digit."""
    body = "62" + "".join(rng.choice(string.digits) for _ in range(rng.choice((13, 16))))
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return body + str((10 - total % 10) % 10)


def uscc(rng: random.Random) -> str:
    """A unified social credit code with a valid GB 32100 check character."""
    org = "".join(rng.choice(USCC_CHARSET) for _ in range(9))
    body = f"91{rng.choice(REGIONS)}{org}"
    total = sum(
        USCC_CHARSET.index(char) * weight for char, weight in zip(body, USCC_WEIGHTS, strict=True)
    )
    return body + USCC_CHARSET[(31 - total % 31) % 31]


def grouped(value: str, separator: str, sizes: tuple[int, ...]) -> str:
    """`value` written in digit groups (`138 0013 8000`)."""
    parts, position = [], 0
    for size in sizes:
        parts.append(value[position : position + size])
        position += size
    if position < len(value):
        parts.append(value[position:])
    return separator.join(parts)


def plant(
    rng: random.Random, fake: Faker, payload: dict[str, Any]
) -> tuple[dict[str, Any], str, str]:
    """`payload` with one personal value planted; returns it, the entity and the form used."""
    features = payload["features"]
    entity = rng.choice(
        (
            CN_RESIDENT_ID,
            CN_RESIDENT_ID,
            CN_MOBILE,
            CN_MOBILE,
            BANK_CARD,
            CN_USCC,
            EMAIL_ADDRESS,
            CN_NAME,
        )
    )
    form = rng.choice(("text", "chinese", "number", "list", "key"))
    if entity == CN_RESIDENT_ID:
        value = resident_id(rng) if rng.random() < 0.85 else legacy_resident_id(rng)
        if form == "number" and value.isdigit():
            features["ref"] = int(value)
        elif form == "chinese":
            features["note"] = f"客户身份证号{value}已核验"
        else:
            form = form if form in ("list", "key") else "text"
            place(features, form, f"证件 {value}", value)
    elif entity == CN_MOBILE:
        value = mobile(rng)
        written = rng.choice(
            (value, f"+86 {grouped(value, ' ', (3, 4))}", grouped(value, "-", (3, 4)))
        )
        if form == "number":
            features["contact"] = float(value) if rng.random() < 0.5 else int(value)
        elif form == "chinese":
            features["note"] = f"联系电话{written}请回电"
        else:
            place(features, form, f"tel: {written}", value)
    elif entity == BANK_CARD:
        value = bank_card(rng)
        written = value if rng.random() < 0.5 else grouped(value, " ", (4, 4, 4, 4))
        if form == "number":
            features["account"] = int(value)
        elif form == "chinese":
            features["note"] = f"还款账户{written}已绑定"
        else:
            place(features, form, f"card {written}", value)
    elif entity == CN_USCC:
        value = uscc(rng)
        form = form if form != "number" else "text"
        features["note"] = f"雇主统一社会信用代码{value}" if form == "chinese" else value
        if form in ("list", "key"):
            del features["note"]
            place(features, form, value, value)
    elif entity == EMAIL_ADDRESS:
        value = f"{fake.user_name()}@{rng.choice(('lender.example', 'mail.example'))}"
        form = form if form != "number" else "text"
        features["note"] = f"邮箱{value}" if form == "chinese" else value
        if form in ("list", "key"):
            del features["note"]
            place(features, form, value, value)
    else:
        value = fake.name()
        form = rng.choice(("label", "context", "name_key"))
        if form == "label":
            features["note"] = f"户名：{value}"
        elif form == "context":
            features["note"] = f"借款人{value}已还款"
        else:
            payload["borrower"] = {"name": value}
    return payload, entity, form


def place(features: dict[str, Any], form: str, text: str, value: str) -> None:
    """Put `text` in a list item, or `value` as a key, or `text` as a plain string."""
    if form == "list":
        features["notes"] = ["ok", {"text": text}]
    elif form == "key":
        features[value] = 1
    else:
        features["note"] = text
