"""The borrower's rights: the notice, receipts, every access, and a complete copy (PIPL Art. 45)."""

from __future__ import annotations

import json
from typing import Any

from lendgate_sdk import LendgateClient, jose
from lendgate_sdk.claims import RECEIPT_TYPE
from sqlalchemy import event

from connectors.people.histories import Person
from tests.support.stack import Stack


async def approved_consent(
    stack: Stack, lender: LendgateClient, person: Person, auth: dict[str, str]
) -> str:
    """Another consent for a borrower already logged in (one code per approval)."""
    consent = await lender.request_consent(stack.consent_body(person))
    approved = await stack.approve(consent["consent_id"], person.phone, auth)
    assert approved.status_code == 200, approved.text
    return str(consent["consent_id"])


def verified_receipt(stack: Stack, receipt: dict[str, Any]) -> dict[str, Any]:
    """The claims of a stored receipt, checked against the gateway's JWKS."""
    claims = jose.verify_jwt(
        receipt["jws"],
        stack.context.keys.jwks(),
        audience=None,
        issuer="lendgate",
        required=("iat", "jti", "sub"),
        typ=RECEIPT_TYPE,
    )
    assert claims == receipt["claims"]
    return claims


async def test_the_notice_says_who_what_where_why_how_long_and_the_way_out(stack: Stack) -> None:
    async with stack.lender_client(await stack.register(name="示例银行")) as lender:
        consent_id, _, auth = await stack.active_consent(lender)
        release = await lender.release(consent_id)
    view = (await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
    notice = view["notice"]
    assert notice["title"]["zh"] and notice["text"]["en"]
    zh, en = notice["summary"]["zh"], notice["summary"]["en"]
    assert "示例银行" in zh and "示例银行" in en
    assert "社保" in zh and "Social insurance" in en
    assert "只获取一次" in zh and "once" in en
    assert "30天" in zh and "30 days" in en
    assert "24个月" in zh and "24 months" in en
    assert f"/v1/borrower/consents/{consent_id}/revoke" in notice["withdrawal"]["zh"]
    [access] = view["accesses"]
    assert access["release_id"] == release.release_id
    assert access["features"] == sorted(release.features)
    assert access["values"] == release.features
    assert access["deleted_at"] is None
    assert view["use_count"] == 1


async def test_receipts_are_signed_kept_and_shaped_after_iso_27560(stack: Stack) -> None:
    person = stack.person()
    async with stack.lender_client(await stack.register(name="示例银行")) as lender:
        consent = await lender.request_consent(stack.consent_body(person))
        consent_id = consent["consent_id"]
        receipts = f"/v1/borrower/consents/{consent_id}/receipt"
        auth = await stack.borrower_login(person.phone)
        early = await stack.http.get(receipts, headers=auth)
        assert (early.status_code, early.json()["error"]) == (403, "ConsentPending")
        approved = (await stack.approve(consent_id, person.phone, auth)).json()
        await lender.release(consent_id)

    kept = (
        await stack.http.get(f"/v1/borrower/consents/{consent_id}/receipt", headers=auth)
    ).json()
    assert kept["withdrawal_receipt"] is None
    given = verified_receipt(stack, kept["consent_receipt"])
    assert given == approved["receipt"]
    assert kept["consent_receipt"]["jws"] == approved["receipt_jws"]
    assert given["record_id"] == given["sub"] == consent_id
    assert given["kind"] == "consent" and given["event"]["type"] == "given"
    assert given["principal"]["pseudonym"] == consent["borrower_ref"]
    assert given["controllers"][0]["name"] == "示例银行"
    assert given["purpose"]["code"] == "consumer_installment_underwriting"
    assert given["purpose"]["text"]["zh"] and given["purpose"]["legal_basis"]
    assert given["data_categories"] == consent["terms"]["features"]
    assert {"social_insurance", "housing_fund", "credit_bureau"} <= set(given["sources"])
    assert given["retention"]["data_life_days"] == 30
    assert given["jurisdiction"] == "CN"
    assert given["withdrawal"]["endpoint"] == f"POST /v1/borrower/consents/{consent_id}/revoke"
    assert given["timestamps"]["approved_at"] and given["timestamps"]["withdrawn_at"] is None
    assert given["artefact_digest"].startswith("sha256:")
    # No personal data in what the borrower may forward anywhere.
    text = json.dumps(given, ensure_ascii=False)
    assert person.name not in text and person.id_number not in text and person.phone not in text

    revoked = await stack.http.post(f"/v1/borrower/consents/{consent_id}/revoke", headers=auth)
    kept = (
        await stack.http.get(f"/v1/borrower/consents/{consent_id}/receipt", headers=auth)
    ).json()
    withdrawn = verified_receipt(stack, kept["withdrawal_receipt"])
    assert withdrawn == revoked.json()["receipt"]
    assert withdrawn["kind"] == "withdrawal"
    assert withdrawn["event"]["by"] == "borrower"
    assert withdrawn["refers_to"] == given["receipt_id"]
    assert withdrawn["consequences"]["releases_made"] == 1
    assert withdrawn["consequences"]["data_key_destroyed"] is True
    assert withdrawn["consequences"]["lender_must_delete_by"]
    assert withdrawn["timestamps"]["withdrawn_at"] == withdrawn["event"]["at"]


async def test_the_access_log_lists_every_access_newest_first_in_pages(stack: Stack) -> None:
    person = stack.person()
    auth = await stack.borrower_login(person.phone)
    released = []
    async with (
        stack.lender_client(await stack.register(name="甲银行")) as first,
        stack.lender_client(await stack.register(name="乙银行")) as second,
    ):
        for lender in (first, second, first):
            consent_id = await approved_consent(stack, lender, person, auth)
            released.append((await lender.release(consent_id), lender.client_id))
    stranger = await stack.borrower_login(stack.person().phone)

    page = (await stack.http.get("/v1/borrower/access-log?limit=2", headers=auth)).json()
    rest = (
        await stack.http.get(
            "/v1/borrower/access-log",
            params={"limit": 2, "cursor": page["next_cursor"]},
            headers=auth,
        )
    ).json()
    entries = page["accesses"] + rest["accesses"]
    assert rest["next_cursor"] is None
    # A page that ends the list exactly names no next page.
    whole = (await stack.http.get("/v1/borrower/access-log?limit=3", headers=auth)).json()
    assert (len(whole["accesses"]), whole["next_cursor"]) == (3, None)
    assert [entry["release_id"] for entry in entries] == [
        release.release_id for release, _ in reversed(released)
    ]
    assert [entry["lender"]["id"] for entry in entries] == [
        lender_id for _, lender_id in reversed(released)
    ]
    assert entries[1]["lender"]["name"] == "乙银行"
    assert entries[0]["purpose"]["code"] == "consumer_installment_underwriting"
    assert {"social_insurance", "credit_bureau"} <= set(entries[0]["sources"])
    none = (await stack.http.get("/v1/borrower/access-log", headers=stranger)).json()
    assert none == {"accesses": [], "next_cursor": None}
    bad = await stack.http.get("/v1/borrower/access-log?cursor=nonsense!", headers=auth)
    assert (bad.status_code, bad.json()["error"]) == (422, "InvalidRequest")


async def test_the_export_is_complete_and_only_about_the_borrower(stack: Stack) -> None:
    person, other = stack.person(), stack.person()
    async with stack.lender_client(await stack.register(name="示例银行")) as lender:
        kept_id, _, auth = await stack.active_consent(lender, person)
        kept_release = await lender.release(kept_id)
        ended_id = await approved_consent(stack, lender, person, auth)
        await lender.release(ended_id)
        await stack.http.post(f"/v1/borrower/consents/{ended_id}/revoke", headers=auth)
        others_id, _, _ = await stack.active_consent(lender, other)

    answer = await stack.http.get("/v1/borrower/export", headers=auth)
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.headers["cache-control"] == "no-store"
    copy = answer.json()
    assert copy["format"] == "lendgate-borrower-export/1"
    by_id = {consent["consent_id"]: consent for consent in copy["consents"]}
    assert set(by_id) == {kept_id, ended_id}
    assert others_id not in answer.text and other.id_number not in answer.text

    kept = by_id[kept_id]
    assert kept["identity"]["values"] == {
        "id_number": person.id_number,
        "phone": person.phone,
        "name": person.name,
    }
    assert kept["identity"]["deleted_at"] is None
    assert kept["accesses"][0]["values"] == kept_release.features
    assert [receipt["kind"] for receipt in kept["receipts"]] == ["consent"]
    assert [n["event"] for n in kept["notifications"]] == ["consent.requested", "consent.approved"]
    types = [event["leaf"]["type"] for event in kept["audit_events"]]
    assert types[:2] == ["consent.requested", "consent.approved"] and "release.granted" in types
    assert kept["artefact"] and kept["terms"]["features"]

    # What was deleted stays deleted, and the copy says when.
    ended = by_id[ended_id]
    assert ended["status"] == "REVOKED"
    assert ended["identity"]["values"] is None
    assert ended["identity"]["deleted_at"] == ended["data_deleted_at"] is not None
    assert ended["identity"]["masked"]["id_number"].endswith(person.id_number[-4:])
    assert [access["values"] for access in ended["accesses"]] == [None]
    assert ended["accesses"][0]["deleted_at"] == ended["data_deleted_at"]
    assert [receipt["kind"] for receipt in ended["receipts"]] == ["consent", "withdrawal"]

    codes = copy["one_time_codes"]
    assert {code["purpose"] for code in codes} == {"login", "approve"}
    assert all("code" not in code and "code_hash" not in code for code in codes)
    # The copy itself is on record, for each consent it covered.
    for consent_id in (kept_id, ended_id):
        assert (await stack.audit_types(consent_id))[-1] == "borrower.exported"
    assert "borrower.exported" not in await stack.audit_types(others_id)


async def test_listing_the_consents_costs_the_same_queries_however_many_there_are(
    stack: Stack,
) -> None:
    person = stack.person()
    auth = await stack.borrower_login(person.phone)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async def queries_to_list() -> int:
        statements.clear()
        event.listen(stack.context.engine.sync_engine, "before_cursor_execute", count)
        try:
            listed = await stack.http.get("/v1/borrower/consents", headers=auth)
        finally:
            event.remove(stack.context.engine.sync_engine, "before_cursor_execute", count)
        assert listed.status_code == 200, listed.text
        return len(statements)

    async with stack.lender_client(await stack.register()) as lender:
        await lender.release(await approved_consent(stack, lender, person, auth))
        one = await queries_to_list()
        for _ in range(3):
            await lender.release(await approved_consent(stack, lender, person, auth))
    assert await queries_to_list() == one
