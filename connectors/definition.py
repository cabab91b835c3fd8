"""What the gateway knows about one source system: everything its folder declares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.base import Month
from connectors.http import HttpSourceConnector
from connectors.people.histories import Person
from connectors.protocol import AuthScheme

RecordBuilder = Callable[[Person, Month], dict[str, Any] | None]
"""Derives what a source holds about a person up to a month from their history; None: nothing."""


@dataclass(frozen=True)
class SourceDefinition:
    """One source: its connector (which names it and its schema), titles, simulator and defaults.

    Each folder in `connectors/sources/` declares one as `SOURCE`; an installed package
    declares one behind an entry point of the `lendgate.sources` group.
    """

    connector: type[HttpSourceConnector]
    title_zh: str
    """What borrowers call the source, e.g. 社保."""
    title_en: str
    record_builder: RecordBuilder
    """How the source's simulator derives its record from a person's history."""
    default_port: int
    """The loopback port of its simulator, and of its default URL (`LENDGATE_SOURCE_URLS`)."""
    development_credential: str
    """The credential used in development; refused in production."""
    retention_months: int
    """How many months back the source answers: `lendgate policy check` refuses a purpose
    or feature window reaching further back than the sources it reads keep."""

    @property
    def name(self) -> str:
        """The source's name, e.g. `social_insurance`."""
        return self.connector.source

    @property
    def schema(self) -> frozenset[str]:
        """Every field path the source can answer."""
        return self.connector.schema

    @property
    def auth_scheme(self) -> AuthScheme:
        """How the source wants the gateway's credential presented."""
        return self.connector.auth_scheme

    @property
    def title(self) -> dict[str, str]:
        """The source's titles by language (`zh`, `en`)."""
        return {"zh": self.title_zh, "en": self.title_en}
