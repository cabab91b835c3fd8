"""Which connector serves which source, and fetching from several sources at once."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping

import httpx

from connectors.base import MonthRange, SourceConnector, SourceRecord
from connectors.credit_bureau import CreditBureauConnector
from connectors.housing_fund import HousingFundConnector
from connectors.http import HttpSourceConnector
from connectors.social_insurance import SocialInsuranceConnector
from gateway.errors import SourceUnavailable
from gateway.settings import Settings

CONNECTOR_CLASSES: dict[str, type[HttpSourceConnector]] = {
    connector.source: connector
    for connector in (SocialInsuranceConnector, HousingFundConnector, CreditBureauConnector)
}


def build_connectors(
    settings: Settings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> dict[str, SourceConnector]:
    """One connector per source in `settings.source_urls`; `transports` replace the network."""
    transports = transports or {}
    connectors: dict[str, SourceConnector] = {}
    for source, base_url in settings.source_urls.items():
        if source not in CONNECTOR_CLASSES:
            raise ValueError(f"no connector for source {source!r}")
        if source not in settings.source_credentials:
            raise ValueError(f"no credential configured for source {source!r}")
        client = httpx.AsyncClient(
            transport=transports.get(source), timeout=settings.source_timeout_seconds
        )
        connectors[source] = CONNECTOR_CLASSES[source](
            base_url,
            settings.source_credentials[source],
            timeout_seconds=settings.source_timeout_seconds,
            client=client,
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
    """
    missing = set(plan) - set(connectors)
    if missing:
        raise ValueError(f"no connector for source(s) {sorted(missing)}")
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
