"""The one interface every source connector implements, and the values it trades in."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, the unit sources keep their records in."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """Read `YYYY-MM`."""
        return _parse_month(text)

    @classmethod
    def of(cls, day: date) -> Month:
        """The month a date falls in."""
        return cls(day.year, day.month)

    def shift(self, months: int) -> Month:
        """The month `months` later (earlier when negative)."""
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@functools.lru_cache(maxsize=4096)
def _parse_month(text: str) -> Month:
    """`Month.parse`, once per distinct text: records repeat the same few dozen months."""
    year, month = text.split("-")
    parsed = Month(int(year), int(month))
    if not 1 <= parsed.month <= 12:
        raise ValueError(f"not a month: {text!r}")
    return parsed


@dataclass(frozen=True)
class MonthRange:
    """An inclusive range of months: the consented data range of a release."""

    first: Month
    last: Month

    @classmethod
    def ending(cls, last: Month, months: int) -> MonthRange:
        """The `months` months up to and including `last`."""
        return cls(last.shift(-(months - 1)), last)

    def __contains__(self, month: object) -> bool:
        return isinstance(month, Month) and self.first <= month <= self.last

    def __iter__(self) -> Iterator[Month]:
        month = self.first
        while month <= self.last:
            yield month
            month = month.shift(1)

    def __len__(self) -> int:
        return (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1


@dataclass(frozen=True)
class SourceRecord:
    """What one source answered about one person: only the fields asked for.

    `found` is False when the source holds no record of the person (for example
    no housing-fund account); `fields` is then empty. `overshared` names the
    fields the source sent without being asked; they were dropped, never kept.
    """

    source: str
    as_of: Month
    found: bool
    fields: Mapping[str, Any] = field(default_factory=dict)
    overshared: tuple[str, ...] = ()


class SourceConnector(ABC):
    """Fetches named fields about one person from one source system."""

    source: ClassVar[str]
    """The source's name, e.g. `social_insurance`."""

    schema: ClassVar[frozenset[str]]
    """Every field path the source can answer (`a` or `a.b` for a key of list items)."""

    @abstractmethod
    async def fetch(
        self, id_number: str, fields: Collection[str], months: MonthRange
    ) -> SourceRecord:
        """Fetch exactly `fields` for the person, restricted to `months`.

        Raises `gateway.core.errors.SourceUnavailable` when the source fails, times out
        or answers with something malformed.
        """

    @abstractmethod
    async def health(self) -> bool:
        """Whether the source answers its health check now."""

    @property
    def circuit(self) -> str | None:
        """The state of the connector's circuit breaker (`closed`, `open`, `half_open`), if any."""
        return None

    @abstractmethod
    async def aclose(self) -> None:
        """Release the connector's connections."""
