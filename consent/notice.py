"""The plain-language notice of a consent, in Chinese and English (pure: terms in, text out).

It answers what DESIGN.md's main flow asks the borrower to read before deciding:
who asks (and for whom), what, from which sources, why, for how long, what the
lender may keep, and how to withdraw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from consent.budget import CHINA_STANDARD_TIME
from policies.evaluation import ConsentTerms

_UNITS = {
    "DAY": ("天", "day"),
    "MONTH": ("月", "month"),
    "YEAR": ("年", "year"),
}


@dataclass(frozen=True)
class NoticeTerms:
    """What the notice speaks of."""

    lender_name: str
    on_behalf_of: str | None
    purpose_title: Mapping[str, str]
    source_titles: Sequence[Mapping[str, str]]
    feature_count: int
    terms: ConsentTerms
    product_title: Mapping[str, str] | None = None
    """The lender's own product the request names, if any."""


def beijing_time(moment: datetime) -> str:
    """`2026-11-23 08:00` in Beijing time, the time borrowers read."""
    return moment.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M")


def summary(notice: NoticeTerms) -> dict[str, str]:
    """One paragraph per language: who, what, from where, why, how often, how long, the way out."""
    terms = notice.terms
    unit_zh, unit_en = _UNITS[terms.frequency_unit]
    sources_zh = "、".join(title["zh"] for title in notice.source_titles)
    sources_en = _join_en([title["en"] for title in notice.source_titles])
    who_zh = notice.lender_name
    who_en = notice.lender_name
    if notice.on_behalf_of:
        who_zh += f"（代表资金方{notice.on_behalf_of}）"
        who_en += f" (on behalf of the funding institution {notice.on_behalf_of})"
    why_zh = f"「{notice.purpose_title.get('zh', '')}」"
    why_en = f"“{notice.purpose_title.get('en', '')}”"
    if notice.product_title is not None:
        why_zh = f"其产品「{notice.product_title.get('zh', '')}」（{why_zh}）"
        why_en = f"its product “{notice.product_title.get('en', '')}” ({why_en})"
    if terms.fetch_type == "ONETIME":
        often_zh, often_en = "只获取一次", "once"
    else:
        often_zh = f"每{unit_zh}最多{terms.frequency_value}次"
        times = "time" if terms.frequency_value == 1 else "times"
        often_en = f"at most {terms.frequency_value} {times} a {unit_en}"
    start, end = beijing_time(terms.valid_from), beijing_time(terms.valid_until)
    zh = (
        f"{who_zh}为{why_zh}请求获取您的"
        f"{notice.feature_count}项概括信息（区间、计数或是否，不含原始记录），"
        f"来源：{sources_zh}，覆盖最近{terms.data_range_months}个月的记录。"
        f"授权期间为北京时间{start}至{end}，{often_zh}。"
        f"对方收到后最多保留{terms.data_life_days}天，到期必须删除。"
        "您可以随时暂停或撤回授权，撤回立即生效。"
    )
    en = (
        f"{who_en} asks for {notice.feature_count} generalized facts about you (bands, counts "
        f"or yes/no, never raw records) for {why_en}, from "
        f"{sources_en}, covering the last {terms.data_range_months} months of records. "
        f"The consent runs from {start} to {end} Beijing time; they may receive them "
        f"{often_en}. They may keep what they receive for at most {terms.data_life_days} "
        "days and must then delete it. You can pause or withdraw this consent at any time; "
        "withdrawal takes effect at once."
    )
    return {"zh": zh, "en": en}


def withdrawal(consent_id: str) -> dict[str, str]:
    """How to withdraw, in both languages."""
    endpoint = f"POST /v1/borrower/consents/{consent_id}/revoke"
    return {
        "zh": (
            "在授权页面点击“撤回授权”（或调用 "
            f"{endpoint}）。撤回立即生效：此后不再向对方提供任何信息，"
            "网关销毁为您保存的数据密钥，并通知对方。"
        ),
        "en": (
            f"Choose “Withdraw” on the consent's page (or call {endpoint}). It takes effect "
            "at once: nothing more is released, the gateway destroys the data key it kept "
            "for you, and the lender is told."
        ),
    }


def _join_en(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
