"""Which connector serves which source, and fetching from several sources at once.

Sources are plug-ins. A connector class registers itself with `@register_connector`;
the built-in sources are the modules in `BUILTIN_SOURCE_MODULES`, and an installed
package can add more through the `lendgate.sources` entry-point group (each entry
point names a module that registers its connector when imported). The release
pipeline only ever sees the `SourceConnector` interface, so a new source needs no
change there: a schema, a connector, settings (URL, credential) and features.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Collection, Mapping
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import TypeVar

import httpx

from connectors.base import MonthRange, SourceConnector, SourceRecord
from connectors.http import HttpSourceConnector
from connectors.resilience import CircuitBreaker, RetryPolicy
from connectors.schemas import SOURCE_SCHEMAS
from gateway.core.errors import SourceUnavailable
from gateway.core.settings import Settings

BUILTIN_SOURCE_MODULES = (
    "connectors.social_insurance",
    "connectors.housing_fund",
    "connectors.credit_bureau",
    "connectors.utility",
)

ENTRY_POINT_GROUP = "lendgate.sources"

_CLASSES: dict[str, type[HttpSourceConnector]] = {}
_loaded = False

Connector = TypeVar("Connector", bound=type[HttpSourceConnector])


def register_connector(connector: Connector) -> Connector:
    """Class decorator: make `connector` the one serving its `source`.

    The source's schema must be the one `connectors.schemas` declares for it (a
    plug-in from outside this package brings its schema and it is added there).
    """
    source = connector.source
    known = SOURCE_SCHEMAS.setdefault(source, connector.schema)
    if known != connector.schema:
        raise ValueError(f"connector {connector.__name__} disagrees with the schema of {source!r}")
    registered = _CLASSES.get(source)
    if registered is not None and registered is not connector:
        raise ValueError(f"source {source!r} already has connector {registered.__name__}")
    _CLASSES[source] = connector
    return connector


def connector_classes() -> Mapping[str, type[HttpSourceConnector]]:
    """Every registered connector by source: the built-in ones and installed plug-ins."""
    global _loaded
    if not _loaded:
        for module in BUILTIN_SOURCE_MODULES:
            importlib.import_module(module)
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            entry_point.load()
        _loaded = True
    return MappingProxyType(_CLASSES)


def build_connectors(
    settings: Settings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> dict[str, SourceConnector]:
    """One connector per source in `settings.source_urls`; `transports` replace the network.

    Each gets its own timeout, retry policy and circuit breaker (per source, per process).
    """
    transports = transports or {}
    classes = connector_classes()
    connectors: dict[str, SourceConnector] = {}
    for source, base_url in settings.source_urls.items():
        if source not in classes:
            raise ValueError(f"no connector for source {source!r}")
        if source not in settings.source_credentials:
            raise ValueError(f"no credential configured for source {source!r}")
        timeout = settings.source_timeouts.get(source, settings.source_timeout_seconds)
        client = httpx.AsyncClient(transport=transports.get(source), timeout=timeout)
        connectors[source] = classes[source](
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
