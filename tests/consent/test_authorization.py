"""The authorization letter: drawn from the consent's own terms, readable before approval,
bound after it to the signed artefact's digest and the approval time; a page and a PDF whose
embedded Chinese font extracts back to the same words."""

from __future__ import annotations

import hashlib
import html
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pypdf import PdfReader

from consent.notice import beijing_time
from policies.loading import load_catalog
from tests.support.products import Banks
from tests.support.stack import Stack

FEATURES = ["si_active", "income_proxy_band", "cb_overdue_accounts_24m"]


def pdf_text(body: bytes) -> str:
    """The PDF's text with every blank taken out (lines may wrap anywhere)."""
    reader = PdfReader(io.BytesIO(body))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def embedded_fonts(body: bytes) -> list[str]:
    """The base names of the fonts embedded in the PDF's first page."""
    page: Any = PdfReader(io.BytesIO(body)).pages[0]
    fonts = page["/Resources"]["/Font"]
    found = []
    for font in fonts.values():
        font = font.get_object()
        for descendant in font.get("/DescendantFonts", []):
            descriptor = descendant.get_object()["/FontDescriptor"].get_object()
            if "/FontFile2" in descriptor:
                found.append(str(font["/BaseFont"]))
    return found


def expected_terms(body: dict[str, Any], language: str) -> list[str]:
    """Every term of the request as the letter writes it."""
    catalog = load_catalog()
    start = beijing_time(datetime.fromisoformat(body["valid_from"]))
    end = beijing_time(datetime.fromisoformat(body["valid_until"]))
    features = [catalog.features[name] for name in body["features"]]
    words = [start, end, getattr(catalog.purposes[body["purpose"]].title, language)]
    words += [getattr(feature.label, language) for feature in features]
    if language == "zh":
        words += [f"最近{body['data_range_months']}个月", f"最多{body['data_life_days']}天"]
        words += ["社保", "公积金", "征信", "留下一条查询记录"]
    else:
        words += [f"last{body['data_range_months']}months", f"most{body['data_life_days']}days"]
        words += ["Socialinsurance", "Housingprovidentfund", "Creditreport", "queryrecord"]
    return [re.sub(r"\s+", "", word) for word in words]


async def test_the_letter_states_the_terms_before_and_the_digest_after_approval(
    stack: Stack,
) -> None:
    person = stack.person()
    body = stack.consent_body(
        person, features=FEATURES, data_range_months=13, data_life_days=17, on_behalf_of=None
    )
    auth = await stack.borrower_login(person.phone)
    async with stack.lender_client(await stack.register(name="示例银行")) as lender:
        consent_id = (await lender.request_consent(body))["consent_id"]
        letter_path = f"/v1/borrower/consents/{consent_id}/authorization"

        before = await stack.http.get(letter_path, headers=auth)
        assert before.status_code == 200
        assert before.headers["content-type"].startswith("text/html")
        assert "征信查询及个人信息授权书" in before.text and "同意后生成" in before.text
        page = re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", before.text))
        for word in expected_terms(body, "zh"):
            assert word in page, word
        pending_pdf = await stack.http.get(letter_path, params={"format": "pdf"}, headers=auth)
        assert "同意后生成" in pdf_text(pending_pdf.content)

        approved = await stack.approve(consent_id, person.phone, auth)
        assert approved.status_code == 200, approved.text
        consent = await lender.get_consent(consent_id)
        digest = "sha256:" + hashlib.sha256(consent["artefact"].encode("ascii")).hexdigest()
        token = {"Authorization": f"Bearer {await lender.access_token()}"}
        lender_path = f"/v1/consents/{consent_id}/authorization"
        lender_pdf = await stack.http.get(lender_path, params={"format": "pdf"}, headers=token)
        english = await stack.http.get(
            lender_path, params={"format": "pdf", "lang": "en"}, headers=token
        )

    assert lender_pdf.status_code == 200
    assert lender_pdf.headers["content-type"] == "application/pdf"
    assert lender_pdf.content.startswith(b"%PDF-")
    assert embedded_fonts(lender_pdf.content), "the Chinese font is not embedded"
    text = pdf_text(lender_pdf.content)
    for word in expected_terms(body, "zh"):
        assert word in text, word
    assert digest in text and consent_id in text
    view = (await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
    approved_at = beijing_time(datetime.fromisoformat(view["decided_at"]))
    assert re.sub(r"\s+", "", f"已于北京时间{approved_at}") in text
    # The borrower's copy is the same letter as the lender's.
    mine = await stack.http.get(letter_path, params={"format": "pdf"}, headers=auth)
    assert pdf_text(mine.content) == text
    english_text = pdf_text(english.content)
    for word in expected_terms(body, "en"):
        assert word in english_text, word
    assert digest in english_text


async def test_a_letter_is_only_for_the_consents_own_parties(stack: Stack) -> None:
    async with (
        stack.lender_client(await stack.register(name="示例银行")) as lender,
        stack.lender_client(await stack.register(name="另一家银行")) as other,
    ):
        consent_id, _, _ = await stack.active_consent(lender)
        token = {"Authorization": f"Bearer {await other.access_token()}"}
        answer = await stack.http.get(f"/v1/consents/{consent_id}/authorization", headers=token)
    assert answer.status_code == 404
    assert answer.json()["error"] == "ConsentNotFound"
    stranger = await stack.borrower_login(stack.person().phone)
    mine = await stack.http.get(
        f"/v1/borrower/consents/{consent_id}/authorization", headers=stranger
    )
    assert mine.status_code == 404 and mine.json()["error"] == "ConsentNotFound"
    unknown = await stack.http.get(
        f"/v1/borrower/consents/{consent_id}/authorization",
        params={"format": "docx"},
        headers=stranger,
    )
    assert (unknown.status_code, unknown.json()["error"]) == (422, "InvalidRequest")


async def test_a_letter_under_a_product_names_the_product_and_the_county_bank(
    stack: Stack, banks: Banks
) -> None:
    person = stack.person()
    body = stack.consent_body(
        person,
        product="jinyan_easy_loan",
        features=FEATURES,
        valid_until=(datetime.now(UTC) + timedelta(days=10)).isoformat(),
        data_life_days=10,
    )
    del body["purpose"]
    consent_id = (await banks.qingshan.request_consent(body))["consent_id"]
    auth = await stack.borrower_login(person.phone)
    letter_path = f"/v1/borrower/consents/{consent_id}/authorization"
    named = {
        "zh": "qingshan_rcb的「金燕e贷·随享贷」",
        "en": "“Jinyan e-loan (spend-as-you-go)” of qingshan_rcb",
    }
    for language, words in named.items():
        page = await stack.http.get(letter_path, params={"lang": language}, headers=auth)
        assert page.status_code == 200
        assert words in html.unescape(re.sub(r"<[^>]+>", "", page.text)), language
        pdf = await stack.http.get(
            letter_path, params={"format": "pdf", "lang": language}, headers=auth
        )
        assert pdf.status_code == 200
        assert re.sub(r"\s+", "", words) in pdf_text(pdf.content), language
    # The other county bank's letters never name it: a consent without a product has no line.
    consent_id, _, _ = await stack.active_consent(banks.baishui)
    token = {"Authorization": f"Bearer {await banks.baishui.access_token()}"}
    plain = await stack.http.get(f"/v1/consents/{consent_id}/authorization", headers=token)
    assert plain.status_code == 200
    assert "<dt>产品</dt>" not in plain.text and "qingshan_rcb" not in plain.text
