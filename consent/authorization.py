"""The authorization letter of a consent (个人信息授权书, and 征信查询授权书 when it reads the
credit report): the consent's own terms in the borrower's words, bound to the digest of the
signed consent artefact, as a page and as a PDF with its Chinese font embedded.

The letter is drawn from what the consent keeps (its terms, the lender's product it was asked
under, its features and its signed artefact), so the same consent always yields the same
letter: nothing is stored twice.
Before approval it is the letter the borrower is asked to sign; after, it carries the
artefact's digest and the time of approval.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from fpdf import FPDF
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from consent.models import Consent
from consent.notice import beijing_time
from consent.views import sources_read
from gateway.runtime.context import GatewayContext

Language = Literal["zh", "en"]

_TEMPLATES: Final = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# The page's one style sheet, inline so the letter is a single file a borrower can save; the
# page's Content-Security-Policy allows that style sheet by its hash, and nothing else.
LETTER_STYLE: Final = (
    Path(__file__).resolve().parent / "templates" / "authorization.css"
).read_text(encoding="utf-8")
LETTER_CSP: Final = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(LETTER_STYLE.encode("utf-8")).digest()).decode("ascii")
    + "'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

_WORDS: Final[dict[Language, dict[str, str]]] = {
    "zh": {
        "title": "个人信息授权书",
        "title_credit": "征信查询及个人信息授权书",
        "intro": "本人同意以下机构按本授权书所列条款，经 Lendgate 获取并使用由本人数据计算出的"
        "评估结果（区间、计数或是否，不含原始记录）。",
        "borrower": "授权人",
        "borrower_value": "{name}（身份证号 {id_number}）",
        "lender": "被授权机构",
        "on_behalf_of": "{lender}（代表资金方{funder}）",
        "purpose": "用途",
        "product": "产品",
        "product_value": "{lender}的「{title}」",
        "features": "授权获取的评估结果",
        "sources": "数据来源",
        "validity": "授权期限",
        "validity_value": "北京时间 {start} 至 {end}",
        "usage": "使用次数",
        "once": "仅一次",
        "periodic": "每{unit}最多 {n} 次",
        "range": "数据范围",
        "range_value": "最近 {n} 个月",
        "life": "对方保存期限",
        "life_value": "收到结果后最多 {n} 天，到期须删除",
        "credit_notice": "查询征信会在本人的征信报告中留下一条查询记录（贷款审批查询）。",
        "withdrawal": "本人可以随时在 Lendgate“我的授权”中撤回本授权，撤回立即生效；"
        "撤回前已经提供的结果不受影响。",
        "consent_id": "授权编号",
        "status": "授权状态",
        "pending": "待本人同意：本人以验证码确认同意后生效。",
        "approved": "本人已于北京时间 {time} 以短信验证码确认同意。",
        "digest": "授权文件摘要（SHA-256）",
        "digest_pending": "同意后生成",
        "digest_note": "摘要对应 Lendgate 签名的授权文件（consent artefact），可据此核对本授权书。",
        "unit_DAY": "天",
        "unit_MONTH": "月",
        "unit_YEAR": "年",
        "separator": "、",
    },
    "en": {
        "title": "Personal information authorization",
        "title_credit": "Credit report query and personal information authorization",
        "intro": "I authorize the institution below, on the terms of this letter, to obtain "
        "through Lendgate and use results computed from my data (bands, counts or yes/no, "
        "never raw records).",
        "borrower": "Authorizing person",
        "borrower_value": "{name} (ID number {id_number})",
        "lender": "Authorized institution",
        "on_behalf_of": "{lender} (on behalf of the funding institution {funder})",
        "purpose": "Purpose",
        "product": "Product",
        "product_value": "“{title}” of {lender}",
        "features": "Results authorized",
        "sources": "Data sources",
        "validity": "Valid",
        "validity_value": "{start} to {end}, Beijing time",
        "usage": "How often",
        "once": "Once",
        "periodic": "At most {n} per {unit}",
        "range": "Data range",
        "range_value": "The last {n} months",
        "life": "Lender may keep results",
        "life_value": "At most {n} days after receipt, then must delete them",
        "credit_notice": "Querying the credit report leaves a query record on my credit report "
        "(a loan-approval query).",
        "withdrawal": "I can withdraw this authorization at any time under “My consents” in "
        "Lendgate; withdrawal takes effect at once, and results already shared stay as they were.",
        "consent_id": "Consent number",
        "status": "Status",
        "pending": "Awaiting my agreement: it takes effect once I confirm with a texted code.",
        "approved": "I agreed on {time} Beijing time, confirmed with a texted code.",
        "digest": "Digest of the signed consent (SHA-256)",
        "digest_pending": "Issued on agreement",
        "digest_note": "The digest is of the consent artefact Lendgate signed; it lets anyone "
        "match this letter to it.",
        "unit_DAY": "day",
        "unit_MONTH": "month",
        "unit_YEAR": "year",
        "separator": ", ",
    },
}


@dataclass(frozen=True)
class LetterFeature:
    """One result the letter authorizes, in plain words."""

    label: str
    explanation: str
    sources: str


@dataclass(frozen=True)
class Letter:
    """What an authorization letter says, in one language."""

    language: Language
    title: str
    intro: str
    terms: tuple[tuple[str, str], ...]
    features_heading: str
    features: tuple[LetterFeature, ...]
    notes: tuple[str, ...]
    closing: tuple[tuple[str, str, bool], ...]
    """Label, value, and whether the value is an identifier (the consent number, the digest)."""
    digest_note: str
    digest: str | None
    approved_at: datetime | None


def artefact_digest(artefact: str) -> str:
    """`sha256:` + hex SHA-256 of the signed artefact's compact JWS, as the letter prints it."""
    return "sha256:" + hashlib.sha256(artefact.encode("ascii")).hexdigest()


def letter_of(
    context: GatewayContext, consent: Consent, lender_name: str, language: Language
) -> Letter:
    """The consent's authorization letter in `language`, from its own terms and features."""
    words = _WORDS[language]
    catalog = context.catalog
    purpose = catalog.purposes.get(consent.purpose)
    features = [catalog.features[name] for name in consent.features if name in catalog.features]
    source_names = sources_read(context, features)

    def titles(names: list[str] | tuple[str, ...]) -> str:
        return words["separator"].join(context.sources[name].title[language] for name in names)

    credit = context.catalog.reads_credit_report(consent.features)
    shown = consent.borrower_display
    lender = lender_name
    if consent.on_behalf_of:
        lender = words["on_behalf_of"].format(lender=lender_name, funder=consent.on_behalf_of)
    if consent.fetch_type == "ONETIME":
        usage = words["once"]
    else:
        unit = words[f"unit_{consent.frequency_unit}"]
        usage = words["periodic"].format(n=consent.frequency_value, unit=unit)
    purpose_text = ""
    if purpose is not None:
        purpose_text = f"{getattr(purpose.title, language)} — {getattr(purpose.why, language)}"
    # The lender's own product, named with the lender (a county bank, a funder) it belongs to,
    # as the consent keeps them from when it was asked.
    product: tuple[tuple[str, str], ...] = ()
    if consent.product_terms is not None:
        terms = consent.product_terms
        product = (
            (
                words["product"],
                words["product_value"].format(
                    title=terms["title"][language], lender=terms.get("client_name") or lender_name
                ),
            ),
        )
    approved_at = consent.decided_at if consent.artefact else None
    digest = artefact_digest(consent.artefact) if consent.artefact else None
    status = (
        words["approved"].format(time=beijing_time(approved_at))
        if approved_at is not None
        else words["pending"]
    )
    return Letter(
        language=language,
        title=words["title_credit" if credit else "title"],
        intro=words["intro"],
        terms=(
            (
                words["borrower"],
                words["borrower_value"].format(
                    name=shown.get("name", "—"), id_number=shown.get("id_number", "—")
                ),
            ),
            (words["lender"], lender),
            *product,
            (words["purpose"], purpose_text),
            (words["sources"], titles(source_names)),
            (
                words["validity"],
                words["validity_value"].format(
                    start=beijing_time(consent.valid_from), end=beijing_time(consent.valid_until)
                ),
            ),
            (words["usage"], usage),
            (words["range"], words["range_value"].format(n=consent.data_range_months)),
            (words["life"], words["life_value"].format(n=consent.data_life_days)),
        ),
        features_heading=words["features"],
        features=tuple(
            LetterFeature(
                label=getattr(feature.label, language),
                explanation=getattr(feature.explanation, language),
                sources=titles(feature.sources),
            )
            for feature in features
        ),
        notes=(*((words["credit_notice"],) if credit else ()), words["withdrawal"]),
        closing=(
            (words["consent_id"], consent.id, True),
            (words["status"], status, False),
            (words["digest"], digest or words["digest_pending"], digest is not None),
        ),
        digest_note=words["digest_note"],
        digest=digest,
        approved_at=approved_at,
    )


def letter_html(letter: Letter) -> str:
    """The letter as a page a borrower reads on a phone or prints."""
    return _TEMPLATES.get_template("authorization.html").render(
        letter=letter, html_lang="zh-CN" if letter.language == "zh" else "en", style=LETTER_STYLE
    )


class FontMissing(RuntimeError):
    """The font the PDF embeds is not installed."""


def letter_pdf(letter: Letter, font: Path) -> bytes:
    """The letter as a PDF with the font's glyphs it uses embedded (a subset of `font`)."""
    if not font.is_file():
        raise FontMissing(
            f"the authorization letter's font {font} is missing: install Debian's "
            "fonts-wqy-microhei or set LENDGATE_AUTHORIZATION_FONT"
        )
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.set_title(letter.title)
    pdf.set_creator("Lendgate")
    # The same letter yields the same file: its date is the approval's, not the download's.
    pdf.set_creation_date(letter.approved_at or datetime(2000, 1, 1, tzinfo=UTC))
    pdf.add_font("letter", fname=str(font))
    pdf.add_page()

    def line(text: str, size: float = 10.5, height: float = 6.5) -> None:
        pdf.set_font("letter", size=size)
        pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")

    line(letter.title, size=16, height=10)
    pdf.ln(2)
    line(letter.intro)
    pdf.ln(2)
    for label, value in letter.terms:
        line(f"{label}：{value}" if letter.language == "zh" else f"{label}: {value}")
    pdf.ln(2)
    line(letter.features_heading, size=12, height=8)
    for number, feature in enumerate(letter.features, start=1):
        line(f"{number}. {feature.label}（{feature.sources}）")
        line(feature.explanation, size=9.5, height=5.5)
    pdf.ln(2)
    for note in letter.notes:
        line(note)
    pdf.ln(2)
    for label, value, _ in letter.closing:
        line(f"{label}：{value}" if letter.language == "zh" else f"{label}: {value}")
    line(letter.digest_note, size=9, height=5)
    return bytes(pdf.output())
