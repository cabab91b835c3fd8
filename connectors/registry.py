"""Which sources this gateway knows, and building and asking their connectors.

Sources are plug-ins. Each built-in source is a folder of `connectors/sources/` declaring
a `SourceDefinition` as `SOURCE`; an installed package adds more with an entry point in the
`lendgate.sources` group naming its `SourceDefinition`. `load_sources` reads them all once
into an immutable `SourceRegistry`; the release pipeline only ever sees the
`SourceConnector` interface, so a new source needs no change there.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import pkgutil
from collections.abc import Collection, Iterable, Iterator, Mapping
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any

import httpx

import connectors.sources
from connectors.base import MonthRange, SourceConnector, SourceRecord
from connectors.definition import SourceDefinition
from connectors.resilience import CircuitBreaker, RetryPolicy
from gateway.core.errors import SourceUnavailable
from gateway.core.settings import Settings

ENTRY_POINT_GROUP = "lendgate.sources"


class SourceRegistry(Mapping[str, SourceDefinition]):
    """Every known source by name, in the order of their simulators' default ports."""

    def __init__(self, definitions: Iterable[SourceDefinition]) -> None:
        by_name: dict[str, SourceDefinition] = {}
        ports: dict[int, str] = {}
        for definition in sorted(definitions, key=lambda definition: definition.default_port):
            if definition.name in by_name:
                raise ValueError(f"source {definition.name!r} is declared twice")
            port = definition.default_port
            taken = ports.setdefault(port, definition.name)
            if taken != definition.name:
                raise ValueError(f"sources {taken!r} and {definition.name!r} share port {port}")
            by_name[definition.name] = definition
        self._definitions = MappingProxyType(by_name)

    def __getitem__(self, name: str) -> SourceDefinition:
        return self._definitions[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._definitions)

    def __len__(self) -> int:
        return len(self._definitions)

    @property
    def schemas(self) -> Mapping[str, frozenset[str]]:
        """Each source's field schema."""
        return MappingProxyType({name: source.schema for name, source in self.items()})

    @property
    def titles(self) -> Mapping[str, dict[str, str]]:
        """What borrowers and lenders call each source, by language."""
        return MappingProxyType({name: source.title for name, source in self.items()})

    @property
    def retention_months(self) -> Mapping[str, int]:
        """How many months back each source answers."""
        return MappingProxyType({name: source.retention_months for name, source in self.items()})

    @property
    def development_credentials(self) -> Mapping[str, str]:
        """Each source's development credential."""
        return MappingProxyType(
            {name: source.development_credential for name, source in self.items()}
        )

    def configure(self, settings: Settings) -> Settings:
        """`settings` with every source default the operator left unset filled in.

        Unset (empty) `source_urls`, `source_credentials` and `simulator_ports` mean every
        source here: its simulator on loopback at its default port, with its development
        credential. Production refuses a development credential.
        """
        updates: dict[str, Any] = {}
        if not settings.source_urls:
            updates["source_urls"] = {
                name: f"http://127.0.0.1:{source.default_port}" for name, source in self.items()
            }
        if not settings.source_credentials:
            updates["source_credentials"] = dict(self.development_credentials)
        if not settings.simulator_ports:
            updates["simulator_ports"] = {
                name: source.default_port for name, source in self.items()
            }
        configured = settings.model_copy(update=updates)
        if configured.environment == "production":
            for name, credential in configured.source_credentials.items():
                if name in self and credential == self[name].development_credential:
                    raise ValueError(
                        f"source credential for {name} is the development default; "
                        "set LENDGATE_SOURCE_CREDENTIALS"
                    )
        return configured


@functools.cache
def load_sources() -> SourceRegistry:
    """Every source: the built-in folders and the installed plug-ins (read once)."""
    builtin = (
        importlib.import_module(f"{connectors.sources.__name__}.{module.name}").SOURCE
        for module in pkgutil.iter_modules(connectors.sources.__path__)
        if module.ispkg
    )
    plugins = (entry_point.load() for entry_point in entry_points(group=ENTRY_POINT_GROUP))
    return SourceRegistry([*builtin, *plugins])


def build_connectors(
    settings: Settings,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    sources: SourceRegistry | None = None,
) -> dict[str, SourceConnector]:
    """One connector per source in `settings.source_urls`; `transports` replace the network.

    Each gets its own timeout, retry policy and circuit breaker (per source, per process).
    """
    sources = sources or load_sources()
    settings = sources.configure(settings)
    transports = transports or {}
    connectors: dict[str, SourceConnector] = {}
    for source, base_url in settings.source_urls.items():
        if source not in sources:
            raise ValueError(f"no connector for source {source!r}")
        if source not in settings.source_credentials:
            raise ValueError(f"no credential configured for source {source!r}")
        timeout = settings.source_timeouts.get(source, settings.source_timeout_seconds)
        # One long-lived client per source and process (closed with the context): releases
        # reuse its kept-alive connections instead of connecting to the source each time.
        pool = settings.source_max_connections
        client = httpx.AsyncClient(
            transport=transports.get(source),
            timeout=timeout,
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
        )
        connectors[source] = sources[source].connector(
            base_url,
            settings.source_credentials[source],
            timeout_seconds=timeout,
            client=client,
            retry=RetryPolicy(
                retries=settings.source_retries,
                backoff_seconds=settings.source_retry_backoff_seconds,
            ),
            breaker=CircuitBreaker(
                source,
                failure_threshold=settings.source_breaker_failures,
                reset_seconds=settings.source_breaker_reset_seconds,
            ),
        )
    return connectors


async def fetch_all(
    connectors: Mapping[str, SourceConnector],
    id_number: str,
    plan: Mapping[str, Collection[str]],
    months: MonthRange,
) -> dict[str, SourceRecord]:
    """Fetch the planned fields from every planned source in parallel.

    Each connector bounds its own call by its timeout. The first failure cancels
    the other fetches and is raised as `SourceUnavailable`: a release needs all
    its sources, and waiting for the rest would only hold the borrower's data longer.
    A planned source this gateway has no connector for is unavailable too.
    """
    missing = sorted(set(plan) - set(connectors))
    if missing:
        raise SourceUnavailable(f"Source {missing[0]} is not connected to this gateway.")
    try:
        async with asyncio.TaskGroup() as group:
            tasks = {
                source: group.create_task(connectors[source].fetch(id_number, fields, months))
                for source, fields in plan.items()
            }
    except* SourceUnavailable as failures:
        raise _first(failures) from None
    return {source: task.result() for source, task in tasks.items()}


def _first(group: BaseExceptionGroup[SourceUnavailable]) -> SourceUnavailable:
    """The first failure in a (possibly nested) exception group."""
    first = group.exceptions[0]
    return first if isinstance(first, SourceUnavailable) else _first(first)


async def close_all(connectors: Mapping[str, SourceConnector]) -> None:
    """Close every connector's connections."""
    await asyncio.gather(*(connector.aclose() for connector in connectors.values()))
