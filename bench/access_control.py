"""What access control costs a request, and where its shared state lives.

One in-process gateway on a scratch SQLite database. Every timed request is a lender's
`GET /v1/consents/{id}` for an id that does not exist (404 after the whole auth path:
token signature, client standing, rate-limit window, scope; with DPoP also the proof's
signature and its `jti` spent in the shared store). Baseline, measured in the same
run: `GET /healthz` through the same app and middleware, with no auth at all. Each
configuration is measured with the database store (the embedded default) and, when
Redis answers on 127.0.0.1:6379, with the Redis store.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from lendgate_sdk import dpop, jose

from gateway.app import create_app
from gateway.clients import service as clients_service
from gateway.core.migrate import upgrade
from gateway.core.settings import Settings
from gateway.runtime.context import build_context
from gateway.security.store import RedisStore

REQUESTS = 400
ROUNDS = 3
BASE = "http://testserver"
REDIS_URL = "redis://127.0.0.1:6379/0"


def run() -> None:
    """Print p50 per request for each auth path, and its ratio to the unauthenticated baseline."""
    asyncio.run(_run())


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


async def _p50(call: Callable[[], Awaitable[int]], expected: int) -> float:
    times: list[float] = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        status = await call()
        times.append(time.perf_counter() - started)
        assert status == expected, status
    return statistics.median(times)


async def _run() -> None:
    with tempfile.TemporaryDirectory(prefix="lendgate-bench-access-") as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'lendgate.db'}"
        await upgrade(url)
        settings = Settings(
            environment="test",
            data_dir=Path(scratch),
            database_url=url,
            issuer=BASE,
            client_rate_limit=10**9,
        )
        context = build_context(settings)
        app = create_app(context)
        private, public = jose.generate_client_jwks("lender")
        async with context.sessionmaker() as session, session.begin():
            client = await clients_service.register(
                session, name="基准银行", kind="lender", jwks=public, actor="operator:bench"
            )
        sig = jose.find_key(private, "sig")
        signing_key = jose.signing_key_from_jwk(sig)
        proof_key = jose.generate_signing_key()
        path = "/v1/consents/cns_0000000000000000000000be"
        stores = {"database": context.shared_store}
        if _redis_answers():
            stores["redis"] = RedisStore(REDIS_URL)
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=BASE
            ) as http:

                async def token(bound: bool) -> str:
                    now = int(time.time())
                    assertion = jose.sign_jwt(
                        {
                            "iss": client.id,
                            "sub": client.id,
                            "aud": f"{BASE}/oauth/token",
                            "iat": now,
                            "exp": now + 60,
                            "jti": f"bench-{time.perf_counter_ns()}",
                        },
                        signing_key,
                        sig["kid"],
                    )
                    headers = (
                        {"DPoP": dpop.make_proof(proof_key, "POST", f"{BASE}/oauth/token")}
                        if bound
                        else {}
                    )
                    answer = await http.post(
                        "/oauth/token",
                        data={
                            "grant_type": "client_credentials",
                            "client_assertion_type": (
                                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                            ),
                            "client_assertion": assertion,
                        },
                        headers=headers,
                    )
                    access: str = answer.json()["access_token"]
                    return access

                async def health() -> int:
                    return (await http.get("/healthz")).status_code

                bearer_token, bound_token = await token(False), await token(True)

                async def bearer() -> int:
                    headers = {"Authorization": f"Bearer {bearer_token}"}
                    return (await http.get(path, headers=headers)).status_code

                async def with_dpop() -> int:
                    proof = dpop.make_proof(proof_key, "GET", BASE + path, access_token=bound_token)
                    headers = {"Authorization": f"DPoP {bound_token}", "DPoP": proof}
                    return (await http.get(path, headers=headers)).status_code

                results: dict[str, list[float]] = {}
                for _ in range(ROUNDS):  # taking turns, so drift hits every row alike
                    results.setdefault("baseline /healthz", []).append(await _p50(health, 200))
                    for name, store in stores.items():
                        context.shared_store = store
                        results.setdefault(f"bearer, {name} store", []).append(
                            await _p50(bearer, 404)
                        )
                        results.setdefault(f"DPoP, {name} store", []).append(
                            await _p50(with_dpop, 404)
                        )
                    context.shared_store = stores["database"]
        finally:
            if "redis" in stores:
                await stores["redis"].aclose()
            await context.aclose()
    baseline = min(results["baseline /healthz"])
    for name, samples in results.items():
        best = min(samples)
        print(f"   {name:<24} p50 {best * 1000:6.2f} ms   {best / baseline:5.2f}x baseline")
