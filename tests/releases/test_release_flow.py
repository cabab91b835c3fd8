"""The main flow end to end, and each of its refusals, on every database backend."""

from __future__ import annotations

import hashlib
import json

import jwt
import pytest
from lendgate_sdk import LendgateAPIError, jose

from gateway.audit.merkle import leaf_hash
from tests.support.stack import FEATURES, Stack


async def test_whole_story_request_approve_release_revoke_refuse(stack: Stack) -> None:
    lender_reg = await stack.register("lender")
    async with stack.lender_client(lender_reg) as lender:
        person = stack.person()
        requested = await lender.request_consent(stack.consent_body(person))
        consent_id = requested["consent_id"]
        assert requested["status"] == "PENDING"
        assert requested["approval_url"].endswith(f"/portal/consents/{consent_id}")
        display = requested["borrower_display"]
        assert display["id_number"] == person.id_number[:3] + "*" * 11 + person.id_number[-4:]
        assert display["phone"] == person.phone[:3] + "****" + person.phone[-4:]
        assert person.name not in json.dumps(requested, ensure_ascii=False)

        with pytest.raises(LendgateAPIError) as pending:
            await lender.release(consent_id)
        assert pending.value.code == "ConsentPending"

        auth = await stack.borrower_login(person.phone)
        listed = await stack.http.get("/v1/borrower/consents", headers=auth)
        assert [c["consent_id"] for c in listed.json()["consents"]] == [consent_id]
        notice = listed.json()["consents"][0]["notice"]
        assert notice["title"]["zh"] and notice["text"]["zh"]

        approved = await stack.approve(consent_id, person.phone, auth)
        assert approved.status_code == 200, approved.text
        decision = approved.json()
        assert decision["status"] == "ACTIVE"
        artefact = jose.verify_jwt(
            decision["artefact"],
            stack.context.keys.jwks(),
            audience=lender_reg.client_id,
            issuer="lendgate",
            required=("exp", "iat", "sub"),
        )
        assert artefact["sub"] == consent_id
        assert artefact["terms"]["features"] == FEATURES
        assert decision["receipt"]["principal"]["pseudonym"] == requested["borrower_ref"]

        release = await lender.release(consent_id)
        payload = release.payload
        assert set(payload["features"]) == set(FEATURES)
        assert payload["consent_id"] == consent_id
        assert payload["aud"] == lender_reg.client_id
        assert payload["iss"] == "lendgate"
        assert payload["borrower_ref"] == requested["borrower_ref"]
        assert payload["policy_version"] == stack.context.catalog.version
        assert set(payload["sources"]) == {"social_insurance", "housing_fund", "credit_bureau"}
        assert person.id_number not in json.dumps(payload)

        leaves = await stack.audit_leaves(consent_id)
        granted = [leaf for leaf in leaves if leaf["type"] == "release.granted"]
        assert len(granted) == 1
        assert granted[0]["seq"] == release.audit["leaf_index"]
        assert granted[0]["payload_digest"].startswith("sha256:")
        assert {leaf["type"] for leaf in leaves} >= {
            "consent.requested",
            "consent.approved",
            "source.fetched",
            "release.granted",
        }

        revoked = await stack.http.post(f"/v1/borrower/consents/{consent_id}/revoke", headers=auth)
        assert revoked.status_code == 200
        assert revoked.json()["status"] == "REVOKED"

        with pytest.raises(LendgateAPIError) as refused:
            await lender.release(consent_id)
        assert refused.value.code == "ConsentRevoked"
        assert refused.value.status == 403
        assert await stack.release_count(consent_id) == 1

        types = await stack.audit_types(consent_id)
        assert types[-3:] == ["consent.revoked", "key.shredded", "release.denied"]

        view = await stack.http.get(f"/v1/borrower/consents/{consent_id}", headers=auth)
        body = view.json()
        assert body["status"] == "REVOKED"
        assert body["data_deleted_at"] is not None
        assert body["accesses"][0]["release_id"] == release.release_id
        assert body["accesses"][0]["values"] is None


async def test_release_payload_digest_matches_the_signed_payload(stack: Stack) -> None:
    registered = await stack.register()
    async with stack.lender_client(registered) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
        jws = jose.decrypt(
            release.raw["jwe"], jose.find_key(registered.private_jwks, "enc")
        ).decode()
        header = jwt.get_unverified_header(jws)
        assert header["alg"] == "EdDSA"
        assert header["kid"] == stack.context.keys.signing_key.kid
        leaves = await stack.audit_leaves(consent_id)
        granted = next(leaf for leaf in leaves if leaf["type"] == "release.granted")
        assert granted["payload_digest"] == "sha256:" + hashlib.sha256(jws.encode()).hexdigest()


async def test_audit_leaf_hashes_are_rfc6962_leaf_hashes(stack: Stack) -> None:
    regulator = await stack.register("regulator", name="监管机构")
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
    async with stack.regulator_client(regulator) as client:
        page = await client.audit_entries(consent_id=consent_id)
    assert [entry["leaf"]["type"] for entry in page["entries"]][:2] == [
        "consent.requested",
        "consent.approved",
    ]
    for entry in page["entries"]:
        canonical = json.dumps(
            entry["leaf"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        assert leaf_hash(canonical).hex() == entry["leaf_hash"]
        assert entry["index"] == entry["leaf"]["seq"]


async def test_a_narrower_release_fetches_only_what_its_features_need(stack: Stack) -> None:
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id, features=["hf_status"])
    assert set(release.payload["features"]) == {"hf_status"}
    assert set(release.payload["sources"]) == {"housing_fund"}
    fetched = [
        leaf for leaf in await stack.audit_leaves(consent_id) if leaf["type"] == "source.fetched"
    ]
    assert [leaf["source_fields"] for leaf in fetched] == [["housing_fund.account_status"]]


async def test_the_log_refuses_update_and_delete(stack: Stack) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    async with stack.context.engine.connect() as connection:
        for statement in ("UPDATE audit_entries SET type = 'x'", "DELETE FROM audit_entries"):
            with pytest.raises(DBAPIError, match="append-only"):
                await connection.execute(text(statement))
            await connection.rollback()
    assert await stack.audit_leaves()
