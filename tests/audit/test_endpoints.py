"""The regulator's API: signed tree heads, proofs, co-signing, exports; every read on record."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from lendgate_sdk import LendgateAPIError, RegulatorClient, jose
from sqlalchemy import func, select

from gateway.audit import repository
from gateway.audit.merkle import MemoryTree, verify_consistency, verify_inclusion
from gateway.audit.models import AuditCosignature, AuditEntry
from gateway.audit.scheduled import JOBS as AUDIT_JOBS
from gateway.crypto.keys import add_signing_key, retire_signing_key
from gateway.jobs.scheduler import Job, run_periodically, scheduler
from tests.support.audit import export_to, verify
from tests.support.stack import RegisteredClient, Stack


async def leaf_count(stack: Stack) -> int:
    async with stack.context.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def refused(call: Any) -> LendgateAPIError:
    with pytest.raises(LendgateAPIError) as caught:
        await call
    return caught.value


def signed_claims(sth: str, jwks: dict[str, Any]) -> dict[str, Any]:
    return jose.verify_jwt(sth, jwks, audience=None, issuer=None, required=(), typ="sth+jwt")


async def test_the_tree_head_is_signed_and_is_the_root_of_the_leaves(stack: Stack) -> None:
    regulator = await stack.register("regulator", name="监管机构")
    async with stack.regulator_client(regulator) as client:
        head = await client.tree_head()
        jwks = await client.gateway_jwks()
    claims = signed_claims(head["sth"], jwks)
    assert set(claims) == {"tree_size", "root_hash", "timestamp"}
    assert {name: head[name] for name in claims} == claims
    async with stack.context.sessionmaker() as session:
        hashes = (
            await session.scalars(
                select(AuditEntry.leaf_hash)
                .where(AuditEntry.seq < head["tree_size"])
                .order_by(AuditEntry.seq)
            )
        ).all()
    assert len(hashes) == head["tree_size"]
    assert MemoryTree([bytes.fromhex(h) for h in hashes]).root().hex() == head["root_hash"]


async def test_a_release_receipt_is_provably_in_a_signed_head(stack: Stack) -> None:
    regulator = await stack.register("regulator", name="监管机构")
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, _, _ = await stack.active_consent(lender)
        release = await lender.release(consent_id)
    async with stack.regulator_client(regulator) as client:
        first = await client.tree_head()
        proof = await client.inclusion_proof(release.audit["leaf_index"], first["tree_size"])
        async with stack.lender_client(await stack.register()) as other:
            await stack.active_consent(other)
        second = await client.tree_head()
        consistency = await client.consistency_proof(first["tree_size"], second["tree_size"])
    assert proof["leaf_hash"] == release.audit["leaf_hash"]
    assert proof["root_hash"] == first["root_hash"]
    assert proof["tree_head"]["sth"] == first["sth"]
    assert verify_inclusion(
        release.audit["leaf_index"],
        first["tree_size"],
        bytes.fromhex(release.audit["leaf_hash"]),
        [bytes.fromhex(h) for h in proof["inclusion_path"]],
        bytes.fromhex(first["root_hash"]),
    )
    assert second["tree_size"] > first["tree_size"]
    assert (consistency["first_root_hash"], consistency["second_root_hash"]) == (
        first["root_hash"],
        second["root_hash"],
    )
    assert verify_consistency(
        first["tree_size"],
        second["tree_size"],
        bytes.fromhex(first["root_hash"]),
        bytes.fromhex(second["root_hash"]),
        [bytes.fromhex(h) for h in consistency["consistency_path"]],
    )


async def test_every_regulator_read_is_itself_an_audit_event(stack: Stack) -> None:
    regulator = await stack.register("regulator", name="监管机构")
    async with stack.regulator_client(regulator) as client:
        head = await client.tree_head()
        await client.inclusion_proof(0, head["tree_size"])
        await client.consistency_proof(1, head["tree_size"])
        with pytest.raises(LendgateAPIError) as refused:
            await client.audit_entries(consent_id="张三 11010519491231002X", limit=1)
        await client.audit_entries(consent_id="cns_" + "0" * 24, limit=1)
        await client.export(0, 1)
    # A filter that is no id is refused before anything is read, and not echoed.
    assert (refused.value.status, refused.value.code) == (422, "InvalidRequest")
    assert "11010519491231002X" not in str(refused.value)
    async with stack.context.sessionmaker() as session:
        reads = (
            await session.scalars(
                select(AuditEntry.leaf)
                .where(AuditEntry.type == "audit.read")
                .order_by(AuditEntry.seq.desc())
                .limit(5)
            )
        ).all()
    leaves = [json.loads(leaf) for leaf in reversed(reads)]
    assert {leaf["actor"] for leaf in leaves} == {f"regulator:{regulator.client_id}"}
    assert [leaf["reason"].split()[0] for leaf in leaves] == [
        "tree",
        "inclusion",
        "consistency",
        "entries",
        "export",
    ]
    assert "consent_id=cns_000000000000000000000000" in leaves[3]["reason"]
    assert "11010519491231002X" not in json.dumps(leaves, ensure_ascii=False)


async def test_refused_reads_answer_the_error_code_and_write_nothing(stack: Stack) -> None:
    regulator = await stack.register("regulator", name="监管机构")
    async with stack.lender_client(await stack.register()) as lender:
        token = await lender.access_token()
    async with stack.regulator_client(regulator) as client:
        size = (await client.tree_head())["tree_size"]
        before = await leaf_count(stack)
        for call in (
            client.inclusion_proof(size, size),
            client.inclusion_proof(0, size + 1000),
            client.consistency_proof(5, 4),
            client.consistency_proof(1, size + 1000),
            client.export(5, 4),
            client.export("not-a-time"),
            client.compliance_report("2026-01-02T00:00:00+08:00", "2026-01-01T00:00:00+08:00"),
            client._call("GET", "/v1/audit/proofs/inclusion", params={"index": -1}),
            client._call("GET", "/v1/audit/sth", params={"tree_size": 10**9}),
        ):
            error = await refused(call)
            assert (error.status, error.code) == (422, "InvalidRequest"), error
        assert await leaf_count(stack) == before
    for path in ("/v1/audit/sth", "/v1/audit/proofs/consistency?first=1&second=1"):
        answer = await stack.http.get(path, headers={"Authorization": f"Bearer {token}"})
        assert (answer.status_code, answer.json()["error"]) == (403, "InsufficientScope")
    assert await leaf_count(stack) == before


async def cosigning(stack: Stack, witness: RegisteredClient) -> tuple[dict[str, Any], Any]:
    async with stack.regulator_client(witness) as client:
        head = await client.tree_head()
        jwks = await client.gateway_jwks()
        return head, await client.cosign(head, jwks)


async def test_a_regulator_cosigns_a_head_and_receipts_show_it(stack: Stack) -> None:
    witness = await stack.register("regulator", name="监管机构")
    head, cosigned = await cosigning(stack, witness)
    assert cosigned["tree_size"] == head["tree_size"]
    assert [c["witness"] for c in cosigned["cosignatures"]] == [witness.client_id]
    async with stack.regulator_client(witness) as client:
        again = await client.cosign(head, await client.gateway_jwks())
        shown = await client._call("GET", "/v1/audit/sth", params={"tree_size": head["tree_size"]})
    assert again["cosignatures"] == cosigned["cosignatures"]  # idempotent
    assert shown["cosignatures"] == cosigned["cosignatures"]
    leaves = await stack.audit_leaves()
    assert any(
        leaf["type"] == "audit.cosigned" and leaf["actor"] == f"regulator:{witness.client_id}"
        for leaf in leaves
    )

    async with stack.lender_client(await stack.register()) as lender:
        person = stack.person()
        consent = await lender.request_consent(stack.consent_body(person))
        auth = await stack.borrower_login(person.phone)
        approved = await stack.approve(consent["consent_id"], person.phone, auth)
    receipt = approved.json()["receipt"]
    assert receipt["audit_tree_head"]["tree_size"] >= head["tree_size"]
    assert receipt["audit_tree_head"]["cosigned_by"]
    claims = signed_claims(receipt["audit_tree_head"]["sth"], stack.context.keys.jwks())
    assert claims["tree_size"] == receipt["audit_tree_head"]["tree_size"]


async def test_a_cosignature_that_does_not_sign_this_head_is_refused(stack: Stack) -> None:
    witness = await stack.register("regulator", name="监管机构")
    stranger = await stack.register("regulator", name="另一监管机构")
    async with stack.regulator_client(witness) as client:
        head = await client.tree_head()
        jwks = await client.gateway_jwks()
    async with stack.regulator_client(stranger) as impostor:
        foreign = impostor.cosignature(head, jwks)  # signed with the stranger's key
    signing = jose.find_key(witness.private_jwks, "sig")
    forged = jose.sign_jwt(
        {
            "tree_size": head["tree_size"],
            "root_hash": "00" * 32,
            "timestamp": head["timestamp"],
            "iss": witness.client_id,
            "iat": int(time.time()),
        },
        jose.signing_key_from_jwk(signing),
        signing["kid"],
        typ="cosignature+jwt",
    )
    async with stack.regulator_client(witness) as client:
        genuine = client.cosignature(head, jwks)
        path = f"/v1/audit/sth/{head['tree_size']}/cosign"
        for signature in (foreign, forged, "not.a.jws"):
            error = await refused(client._call("POST", path, json={"signature": signature}))
            assert (error.status, error.code) == (422, "InvalidRequest"), error
        error = await refused(
            client._call("POST", "/v1/audit/sth/999999999/cosign", json={"signature": genuine})
        )
        assert (error.status, error.code) == (422, "InvalidRequest")
    async with stack.context.sessionmaker() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(AuditCosignature)
            .where(AuditCosignature.tree_size == head["tree_size"])
        )
    assert stored == 0


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/audit/sth/{2**63}/cosign",
        f"/v1/audit/sth?tree_size={2**63}",
        f"/v1/audit/proofs/inclusion?index={2**63}",
        f"/v1/audit/proofs/consistency?first=1&second={2**63}",
    ],
)
async def test_a_position_beyond_64_bits_is_refused_as_invalid(stack: Stack, path: str) -> None:
    witness = await stack.register("regulator", name="监管机构")
    leaves_before = len(await stack.audit_leaves())
    async with stack.regulator_client(witness) as client:
        if path.endswith("/cosign"):
            call = client._call("POST", path, json={"signature": "a.b.c"})
        else:
            call = client._call("GET", path)
        error = await refused(call)
    assert (error.status, error.code) == (422, "InvalidRequest")
    assert len(await stack.audit_leaves()) == leaves_before


async def test_cosigning_needs_the_cosign_scope_and_nothing_more(stack: Stack) -> None:
    witness = await stack.register("regulator", name="监管机构")
    async with stack.regulator_client(witness) as reader:
        head = await reader.tree_head()
        jwks = await reader.gateway_jwks()
    cosigner = RegulatorClient(
        "http://testserver",
        witness.client_id,
        witness.private_jwks,
        scope="audit:cosign",
        transport=httpx.ASGITransport(app=stack.app),
    )
    async with cosigner:
        cosigned = await cosigner.cosign(head, jwks)
        error = await refused(cosigner.tree_head())
    assert [c["witness"] for c in cosigned["cosignatures"]] == [witness.client_id]
    assert (error.status, error.code) == (403, "InsufficientScope")
    async with stack.lender_client(await stack.register()) as lender:
        token = await lender.access_token()
    answer = await stack.http.post(
        f"/v1/audit/sth/{head['tree_size']}/cosign",
        json={"signature": "x"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (answer.status_code, answer.json()["error"]) == (403, "InsufficientScope")


async def test_an_export_verifies_offline_whole_or_in_part(stack: Stack, tmp_path: Path) -> None:
    regulator = await stack.register("regulator", name="监管机构")
    witness_head, _ = await cosigning(stack, regulator)
    async with stack.lender_client(await stack.register()) as lender:
        await stack.active_consent(lender)
    async with stack.regulator_client(regulator) as client:
        whole = await export_to(client, tmp_path / "whole.json")
        size = whole["to"]
        part = await export_to(client, tmp_path / "part.json", start=size // 3, end=size // 2)
        kept = await client.tree_head()
        jwks = await client.gateway_jwks()
        by_time = await client.export(whole["leaves"][-1]["leaf"]["ts"])
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    (tmp_path / "kept.json").write_text(json.dumps(kept))

    result = verify(tmp_path / "whole.json", "--jwks", str(tmp_path / "jwks.json"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("verified")
    assert f"{size} leaves (0..{size - 1}) re-hashed" in result.output
    assert "co-signatures by witnesses verify" in result.output
    assert any(h["tree_size"] == witness_head["tree_size"] for h in whole["tree_heads"])

    assert (part["from"], part["to"]) == (size // 3, size // 2)
    assert len(part["leaves"]) == size // 2 - size // 3
    result = verify(tmp_path / "part.json")
    assert result.exit_code == 0, result.output

    # The whole export of today is consistent with the head kept now ...
    async with stack.regulator_client(regulator) as client:
        newer = await export_to(client, tmp_path / "newer.json")
    result = verify(tmp_path / "newer.json", "--previous", str(tmp_path / "kept.json"))
    assert result.exit_code == 0, result.output
    assert f"consistent with the earlier tree head of size {kept['tree_size']}" in result.output
    assert newer["to"] > kept["tree_size"]
    # ... and a time bound starts at the first leaf stamped at or after it.
    assert by_time["from"] <= size - 1

    _, stranger = jose.generate_client_jwks("regulator")
    (tmp_path / "other.json").write_text(json.dumps(stranger))
    result = verify(tmp_path / "whole.json", "--jwks", str(tmp_path / "other.json"))
    assert result.exit_code == 1
    assert "signed with an unknown key" in result.output


async def test_the_schedule_signs_a_head_when_the_log_grows(stack: Stack) -> None:
    await stack.register()  # one more leaf
    tree_head_job = Job(*AUDIT_JOBS[0])
    often = dataclasses.replace(
        stack.context,
        settings=stack.context.settings.model_copy(
            update={"audit_tree_head_interval_seconds": 0.05}
        ),
    )
    async with stack.context.sessionmaker() as session:
        size = (await repository.head(session)).size
    async with scheduler(often, [tree_head_job]):
        for _ in range(100):
            async with stack.context.sessionmaker() as session:
                latest = await repository.latest_tree_head(session)
            if latest is not None and latest.tree_size >= size:
                break
            await asyncio.sleep(0.05)
    assert latest is not None and latest.tree_size >= size
    off = dataclasses.replace(
        stack.context,
        settings=stack.context.settings.model_copy(update={"audit_tree_head_interval_seconds": 0}),
    )
    async with stack.context.sessionmaker() as session:
        newest = await repository.latest_tree_head(session)
    assert newest is not None
    # Switched off, the job is never due: the schedule ends at once and signs nothing.
    await asyncio.wait_for(run_periodically(off, [tree_head_job]), timeout=5)
    async with stack.context.sessionmaker() as session:
        after = await repository.latest_tree_head(session)
    assert after is not None and after.tree_size == newest.tree_size


async def test_old_tree_heads_verify_after_their_key_is_retired(
    fresh_stack: Stack, tmp_path: Path
) -> None:
    regulator = await fresh_stack.register("regulator", name="监管机构")
    keys = fresh_stack.context.keys
    async with fresh_stack.regulator_client(regulator) as client:
        old = await client.tree_head()
        old_kid = keys.signing_key.kid
        add_signing_key(keys.directory)
        retire_signing_key(keys.directory, old_kid)
        assert old_kid not in jose.jwks_kids(await client.gateway_jwks())
        await export_to(client, tmp_path / "bundle.json")
    result = verify(tmp_path / "bundle.json")
    assert result.exit_code == 0, result.output
    bundle = json.loads((tmp_path / "bundle.json").read_text())
    assert any(head["sth"] == old["sth"] for head in bundle["tree_heads"])
