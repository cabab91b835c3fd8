"""`lendgate demo`: the whole story on loopback, told by the parties that live it.

The simulators and the gateway run as real HTTP servers in this process; the
lender (through the lender SDK), the borrower and the regulator each talk to
them over HTTP, exactly as outside clients would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from lendgate_sdk import (
    LendgateAPIError,
    LendgateClient,
    RegulatorClient,
    generate_client_jwks,
)

from connectors.simulators.server import SimulatorServer, build_simulator_servers
from gateway.app import create_app
from gateway.audit.merkle import canonical_json, leaf_hash, verify_inclusion
from gateway.audit.verify import tree_head_claims, verify_bundle
from gateway.cli.listening import PortUnavailable, listening_socket, url_of
from gateway.clients import service as clients_service
from gateway.core.db import create_engine, create_sessionmaker
from gateway.core.logging import configure_logging
from gateway.core.migrate import upgrade
from gateway.core.settings import Settings
from gateway.crypto.key_files import write_private
from gateway.privacy.pii import redact_pii

# 张三, one of the fictional sandbox identities every simulator holds (DESIGN.md).
SANDBOX_BORROWER = {"id_number": "11010519491231002X", "phone": "13800138000", "name": "张三"}
FEATURES = ["si_active", "hf_status", "income_proxy_band", "cb_overdue_accounts_24m"]


def say(party: str, message: str) -> None:
    """One line of the story, prefixed with who sees it."""
    print(f"[{party}] {message}", flush=True)


def demo_settings(settings: Settings) -> Settings:
    """The settings the demo runs with: an issuer matching its own address, quiet logs."""
    updates: dict[str, Any] = {}
    if "LENDGATE_ISSUER" not in os.environ:
        updates["issuer"] = f"http://{settings.host}:{settings.port}"
    if "LENDGATE_LOG_LEVEL" not in os.environ:
        updates["log_level"] = "WARNING"  # the story is the output; warnings still show
    return settings.model_copy(update=updates)


@contextlib.asynccontextmanager
async def running_stack(settings: Settings) -> AsyncIterator[dict[str, str]]:
    """Start the source simulators and the gateway; yield `{service: url}` until done.

    Every address is bound before anything serves, so a busy port is one line naming the
    setting to change (`PortUnavailable`) and nothing is left half started.
    """
    simulators = build_simulator_servers(settings)
    gateway_config = uvicorn.Config(
        create_app(settings=settings), log_level="warning", access_log=False
    )
    planned: list[tuple[str, uvicorn.Server, str, int, str]] = [
        (source, server, settings.simulator_host, _port_of(url), "LENDGATE_SIMULATOR_PORTS")
        for source, url, server in simulators
    ]
    planned.insert(
        0,
        ("gateway", SimulatorServer(gateway_config), settings.host, settings.port, "LENDGATE_PORT"),
    )
    sockets: list[socket.socket] = []
    try:
        for _, _, host, port, setting in planned:
            sockets.append(listening_socket(host, port, setting))
    except PortUnavailable:
        for bound in sockets:
            bound.close()
        raise
    servers = [server for _, server, _, _, _ in planned]
    tasks = [
        asyncio.create_task(server.serve(sockets=[sock]))
        for server, sock in zip(servers, sockets, strict=True)
    ]
    try:
        while not all(server.started for server in servers):
            failed = [task for task in tasks if task.done()]
            if failed:
                raise RuntimeError("a service failed to start") from failed[0].exception()
            await asyncio.sleep(0.05)
        yield {name: url_of(sock) for (name, *_), sock in zip(planned, sockets, strict=True)}
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for sock in sockets:
            sock.close()


def _port_of(url: str) -> int:
    port = httpx.URL(url).port
    assert port is not None, url
    return port


async def register_parties(
    settings: Settings,
) -> tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]:
    """The operator registers a lender and a regulator (as `lendgate clients add` does)."""
    lender_private, lender_public = generate_client_jwks("lender")
    regulator_private, regulator_public = generate_client_jwks("regulator")
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            lender = await clients_service.register(
                session,
                name="示例消费金融公司",
                kind="lender",
                jwks=lender_public,
                actor="operator:demo",
            )
            regulator = await clients_service.register(
                session,
                name="示例监管机构",
                kind="regulator",
                jwks=regulator_public,
                actor="operator:demo",
            )
    finally:
        await engine.dispose()
    for client_id, private in ((lender.id, lender_private), (regulator.id, regulator_private)):
        write_private(client_keys_file(settings, client_id), json.dumps(private).encode())
    return (lender.id, lender_private), (regulator.id, regulator_private)


def client_keys_file(settings: Settings, client_id: str) -> Path:
    """Where the demo keeps a party's private JWKS, so a developer can go on as that party."""
    return settings.data_dir / "clients" / f"{client_id}.jwks.json"


def how_to_continue(
    settings: Settings, gateway_url: str, lender_id: str, regulator_id: str
) -> list[str]:
    """What to do next as the lender, the regulator and a borrower, against the same data."""
    lender_keys = client_keys_file(settings, lender_id)
    regulator_keys = client_keys_file(settings, regulator_id)
    return [
        f"the lender is {lender_id}, its private keys {lender_keys} (mode 0600):",
        f"  LendgateClient({gateway_url!r}, {lender_id!r}, "
        f"json.loads(Path({str(lender_keys)!r}).read_text()))",
        f"the regulator is {regulator_id}, its private keys {regulator_keys}:",
        f"  RegulatorClient({gateway_url!r}, {regulator_id!r}, "
        f"json.loads(Path({str(regulator_keys)!r}).read_text()))",
        f"regulator console {gateway_url}/regulator/ (paste a token from "
        "`await RegulatorClient(...).access_token()`)",
        f"borrower portal {gateway_url}/portal/ (a sandbox identity of the README; codes in "
        f"{settings.resolved_sms_outbox})",
        "they work against `lendgate demo --keep-running`, or `lendgate serve` with "
        "`lendgate simulators serve`, run with the same LENDGATE_DATA_DIR",
    ]


def last_code(settings: Settings, phone: str) -> str:
    """What the borrower reads on their phone: the newest code in the SMS outbox."""
    lines = settings.resolved_sms_outbox.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if json.loads(line)["phone"] == phone][-1]["code"]


async def tell_the_story(settings: Settings, gateway_url: str) -> tuple[str, str]:
    """Request → approve → release → decrypt → revoke → refused → regulator checks the log.

    Returns the ids of the lender and the regulator it registered.
    """
    (lender_id, lender_keys), (regulator_id, regulator_keys) = await register_parties(settings)
    say("operator", f"registered lender {lender_id} and regulator {regulator_id}")

    async with (
        LendgateClient(gateway_url, lender_id, lender_keys) as lender,
        httpx.AsyncClient(base_url=gateway_url) as borrower,
    ):
        now = datetime.now(UTC)
        consent = await lender.request_consent(
            {
                "borrower": SANDBOX_BORROWER,
                "purpose": "consumer_installment_underwriting",
                "features": FEATURES,
                "fetch_type": "ONETIME",
                "frequency": {"unit": "MONTH", "value": 1},
                "valid_from": now.isoformat(),
                "valid_until": (now + timedelta(days=30)).isoformat(),
                "data_range_months": 24,
                "data_life_days": 30,
                "on_behalf_of": None,
                "callback_url": "https://lender.example/hooks/lendgate",
            }
        )
        consent_id = consent["consent_id"]
        display = consent["borrower_display"]
        say(
            "lender",
            f"consent {consent_id} is {consent['status']} for borrower "
            f"{display['name']} {display['id_number']} {display['phone']}",
        )
        say("lender", f"send the borrower to {consent['approval_url']}")

        phone = SANDBOX_BORROWER["phone"]
        await borrower.post("/v1/borrower/otp", json={"phone": phone})
        session = await borrower.post(
            "/v1/borrower/session", json={"phone": phone, "code": last_code(settings, phone)}
        )
        auth = {"Authorization": f"Bearer {session.json()['access_token']}"}
        view = (await borrower.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
        say("borrower", f"{view['lender']['name']} asks: {view['notice']['title']['zh']}")
        say("borrower", view["notice"]["summary"]["zh"])
        for feature in view["notice"]["features"]:
            say("borrower", f"  · {feature['label']['zh']}：{feature['explanation']['zh']}")
        await borrower.post(
            "/v1/borrower/otp",
            json={"phone": phone, "purpose": "approve", "consent_id": consent_id},
            headers=auth,
        )
        approved = await borrower.post(
            f"/v1/borrower/consents/{consent_id}/approve",
            json={"code": last_code(settings, phone)},
            headers=auth,
        )
        decision = approved.json()
        say(
            "borrower",
            f"approved with a one-time code: consent is {decision['status']}, "
            f"receipt {decision['receipt']['receipt_id']}",
        )

        release = await lender.release(consent_id)
        say("lender", f"release {release.release_id} decrypted and signature verified; features:")
        for name, value in release.payload["features"].items():
            say("lender", f"  {name} = {json.dumps(value, ensure_ascii=False)}")
        say(
            "lender",
            f"sources as of: {json.dumps(release.payload['sources'])}; "
            f"audit leaf {release.audit['leaf_index']}",
        )

        revoked = await borrower.post(f"/v1/borrower/consents/{consent_id}/revoke", headers=auth)
        say("borrower", f"revoked: consent is {revoked.json()['status']}")
        try:
            await lender.release(consent_id)
            raise RuntimeError("a revoked consent released data")
        except LendgateAPIError as refusal:
            say("lender", f"release refused: {refusal.status} {refusal.code} — {refusal.detail}")
        history = (await borrower.get(f"/v1/borrower/consents/{consent_id}", headers=auth)).json()
        say(
            "borrower",
            f"access history: {len(history['accesses'])} release(s); "
            f"data key destroyed at {history['data_deleted_at']}",
        )

    async with RegulatorClient(gateway_url, regulator_id, regulator_keys) as regulator:
        await regulator_checks(regulator, consent_id, release.audit)
    return lender_id, regulator_id


async def regulator_checks(
    regulator: RegulatorClient, consent_id: str, release_leaf: dict[str, Any]
) -> None:
    """What a regulator does without trusting the gateway: hashes, proofs, heads, the bundle."""
    page = await regulator.audit_entries(consent_id=consent_id)
    for entry in page["entries"]:
        leaf = entry["leaf"]
        if leaf_hash(canonical_json(leaf)).hex() != entry["leaf_hash"]:
            raise RuntimeError(f"audit leaf {entry['index']} does not match its hash")
        say(
            "regulator",
            f"#{entry['index']} {leaf['type']:<17} {leaf['actor']:<30} "
            f"{leaf['outcome']:<6} leaf hash ok",
        )

    jwks = await regulator.gateway_jwks()
    head = await regulator.tree_head()
    tree_head_claims(head["sth"], jwks)
    say(
        "regulator",
        f"signed tree head: {head['tree_size']} leaves, root {head['root_hash'][:16]}…, "
        "gateway signature ok",
    )
    proof = await regulator.inclusion_proof(release_leaf["leaf_index"], head["tree_size"])
    included = verify_inclusion(
        release_leaf["leaf_index"],
        head["tree_size"],
        bytes.fromhex(release_leaf["leaf_hash"]),
        [bytes.fromhex(node) for node in proof["inclusion_path"]],
        bytes.fromhex(head["root_hash"]),
    )
    if not included:
        raise RuntimeError("the release is not in the signed tree")
    say(
        "regulator",
        f"the release (leaf {release_leaf['leaf_index']}) is in that tree: "
        f"inclusion proof of {len(proof['inclusion_path'])} hashes verified",
    )
    cosigned = await regulator.cosign(head, jwks)
    say(
        "regulator",
        f"co-signed tree head {cosigned['tree_size']} as a witness "
        f"({len(cosigned['cosignatures'])} co-signature(s))",
    )
    bundle = await regulator.export(0)
    verification = verify_bundle(bundle, trusted_jwks=jwks)
    if not verification.ok:
        raise RuntimeError("\n".join(verification.lines()))
    say(
        "regulator",
        f"exported the log ({len(bundle['leaves'])} leaves) and verified it offline: "
        "every leaf hash, root and signature recomputed",
    )


async def run_demo(settings: Settings, *, keep_running: bool = False) -> int:
    """Run the story; with `keep_running`, then print `SERVICE URL` lines and `ready` and serve."""
    settings = demo_settings(settings)
    configure_logging(settings.log_level, redact=redact_pii)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade(settings.resolved_database_url)
    async with running_stack(settings) as urls:
        say("operator", " · ".join(f"{service} {url}" for service, url in urls.items()))
        lender_id, regulator_id = await tell_the_story(settings, urls["gateway"])
        for line in how_to_continue(settings, urls["gateway"], lender_id, regulator_id):
            say("operator", line)
        if not keep_running:
            return 0
        for service, url in urls.items():
            print(f"{service} {url}", flush=True)
        print("ready", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
    return 0
