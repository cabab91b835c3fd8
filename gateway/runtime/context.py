"""What one running gateway holds: settings, keys, catalogs, connectors, database and senders.

Built once at start-up (`build_context`) and handed to endpoints as `ContextDep`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

import httpx
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from connectors.base import SourceConnector
from connectors.registry import SourceRegistry, build_connectors, close_all, load_sources
from gateway.core.clock import Clock, SystemClock
from gateway.core.db import Admission, create_engine, create_sessionmaker
from gateway.core.settings import Settings
from gateway.crypto.keys import KeyStore
from gateway.crypto.kms import configured_kms
from gateway.privacy.egress import EgressGuard
from gateway.security.store import SharedStore, open_store
from gateway.security.tokens import VerifiedTokens
from gateway.sms.senders import SmsSender, configured_sms_sender
from policies.catalog import Catalog
from policies.derivations.registry import shipped_derivations
from policies.loading import load_catalog


@dataclass
class GatewayContext:
    """The gateway's long-lived collaborators."""

    settings: Settings
    keys: KeyStore
    catalog: Catalog
    connectors: Mapping[str, SourceConnector]
    sources: SourceRegistry
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    egress_guard: EgressGuard
    sms: SmsSender
    shared_store: SharedStore
    """Rate-limit windows and spent one-time values that every gateway process shares."""
    admission: Admission
    """How many requests of this process work on the database at once (`get_session`)."""
    notification_transport: httpx.AsyncBaseTransport | None = None
    """How lender notifications are sent; None: the network (tests inject a transport)."""
    clock: Clock = field(default_factory=SystemClock)
    """The time that decides windows, budgets, expiries and sessions (tests set it)."""
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)
    """The gateway's own access tokens this process has verified, until they expire."""

    async def aclose(self) -> None:
        """Close connections to the sources and the database."""
        await close_all(self.connectors)
        await self.shared_store.aclose()
        close_sms = getattr(self.sms, "aclose", None)
        if close_sms is not None:
            await close_sms()
        await self.engine.dispose()


def build_context(
    settings: Settings,
    *,
    source_transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    sms: SmsSender | None = None,
    notification_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
) -> GatewayContext:
    """Open keys, catalogs, connectors and the database engine for `settings`."""
    sources = load_sources()
    settings = sources.configure(settings)
    # The policy first: an invalid LENDGATE_POLICY_DIR stops start-up before any key is made.
    catalog = load_catalog(settings.policy_dir, shipped_derivations())
    # No way to text codes, no start: borrowers could never log in (`SmsNotConfigured`).
    sms = sms or configured_sms_sender(settings)
    keys = open_keys(settings)
    egress_guard = EgressGuard(egress_allowances(settings, catalog))
    engine = create_engine(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        connect_timeout=settings.database_connect_timeout_seconds,
    )
    sessionmaker = create_sessionmaker(engine)
    return GatewayContext(
        settings=settings,
        keys=keys,
        catalog=catalog,
        connectors=build_connectors(settings, source_transports, sources),
        sources=sources,
        engine=engine,
        sessionmaker=sessionmaker,
        shared_store=open_store(settings),
        egress_guard=egress_guard,
        sms=sms,
        notification_transport=notification_transport,
        clock=clock or SystemClock(),
        admission=Admission(settings.database_pool_size, settings.database_queue_seconds),
    )


def open_keys(settings: Settings) -> KeyStore:
    """The gateway's keys, with the KMS the settings choose (`LENDGATE_KMS`)."""
    return KeyStore.open(
        settings.resolved_key_dir,
        create_missing=settings.is_development,
        kms=configured_kms(settings),
    )


def egress_allowances(settings: Settings, catalog: Catalog) -> dict[str, frozenset[str]]:
    """The entity types each purpose may release (`LENDGATE_EGRESS_ALLOWED_ENTITIES`)."""
    unknown = set(settings.egress_allowed_entities) - set(catalog.purposes)
    if unknown:
        raise ValueError(f"egress allowances name unknown purposes: {', '.join(sorted(unknown))}")
    return {
        purpose: frozenset(entities)
        for purpose, entities in settings.egress_allowed_entities.items()
    }


async def get_context(request: Request) -> GatewayContext:
    """The running gateway's context (async: FastAPI runs a plain function in a thread)."""
    context: GatewayContext = request.app.state.context
    return context


ContextDep = Annotated[GatewayContext, Depends(get_context)]
