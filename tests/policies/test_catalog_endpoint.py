"""`GET /v1/catalog`, and the `policy_version` every release and consent event carries."""

from __future__ import annotations

import json

from tests.support.stack import Stack


async def test_the_catalog_is_public_and_complete(stack: Stack) -> None:
    answer = await stack.http.get("/v1/catalog")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    catalog = stack.context.catalog
    # Exactly the checked catalog, nothing lost or added on the way out.
    assert answer.json() == json.loads(json.dumps(catalog.public_view()))
    body = answer.json()
    assert body["policy_version"] == catalog.version
    purposes = {purpose["code"]: purpose for purpose in body["purposes"]}
    assert set(purposes) == set(catalog.purposes)
    assert {feature["name"] for feature in body["features"]} == set(catalog.features)
    for purpose in purposes.values():
        assert purpose["title"]["zh"] and purpose["title"]["en"]
        assert purpose["notice"]["zh"] and purpose["notice"]["en"]
        assert purpose["legal_basis"] and purpose["sources"] and purpose["features"]
        assert {"max_validity_days", "max_data_range_months", "max_data_life_days"} <= set(purpose)
    identity = purposes["identity_match"]
    assert identity["sources"] == ["credit_bureau"]
    assert identity["fetch_types"] == ["ONETIME"]
    sources = {source["name"]: source for source in body["sources"]}
    assert sources["credit_bureau"]["retention_months"] == 60
    assert sources["credit_bureau"]["title"]["zh"]
    # Keys that do not apply to an output type are left out rather than sent as null.
    features = {feature["name"]: feature for feature in body["features"]}
    assert "edges" not in features["si_active"]["output"]
    assert features["identity_phone_match"]["output"] == {
        "type": "boolean",
        "nullable": False,
        "value_labels": {
            "true": {"zh": "一致", "en": "Matches"},
            "false": {"zh": "不一致", "en": "Does not match"},
        },
    }
    assert features["hf_status"]["output"]["value_labels"]["SEALED"]["zh"] == "封存"
    assert features["income_proxy_band"]["output"]["unit"] == {"zh": "元", "en": "yuan"}
    assert features["hf_status"]["label"]["zh"] == "公积金账户状态"
    assert features["identity_phone_match"]["compares_identity"] is True


async def test_the_catalog_schema_is_documented(stack: Stack) -> None:
    openapi = (await stack.http.get("/openapi.json")).json()
    operation = openapi["paths"]["/v1/catalog"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/CatalogView"}
    components = openapi["components"]["schemas"]
    assert {"policy_version", "purposes", "features", "sources"} <= set(
        components["CatalogView"]["properties"]
    )
    assert "max_data_range_months" in components["PurposeView"]["properties"]
    assert "source_fields" in components["FeatureView"]["properties"]
    assert "security" not in operation


async def test_every_consent_and_release_event_carries_the_policy_version(stack: Stack) -> None:
    version = stack.context.catalog.version
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
        view = await lender.get_consent(consent_id)
        await lender.revoke(consent_id)
    assert release.payload["policy_version"] == version
    assert view["policy_version"] == version
    leaves = await stack.audit_leaves(consent_id)
    assert {leaf["type"] for leaf in leaves} >= {
        "consent.requested",
        "consent.approved",
        "source.fetched",
        "release.granted",
        "consent.revoked",
    }
    assert {leaf["policy_version"] for leaf in leaves} == {version}
