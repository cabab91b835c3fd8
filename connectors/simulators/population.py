"""The people a simulator knows: the sandbox identities and a seeded, generated population.

Each source's record of a person is derived from the person's one history when asked
(`connectors.people`), by the source's record builder.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import OrderedDict
from collections.abc import Iterator
from datetime import date
from typing import Any

from connectors.base import Month
from connectors.people.generator import HistoryGenerator
from connectors.people.histories import Person
from connectors.people.identities import Identity, draw_identity
from connectors.people.sandbox import SANDBOX_ID_NUMBERS, sandbox_people
from connectors.registry import load_sources


class Population:
    """The people a simulator knows, looked up by resident ID.

    Generation draws only identities; each person's name and history come from
    a stream seeded by (seed, position) when first looked up, so building a large
    population is cheap and a person is the same whichever order people are read in.
    Meant for one event loop: lookups share one generator and are not thread-safe.
    """

    cached_records = 4096

    def __init__(
        self, seed: int, today: date, sandbox: list[Person], identities: list[Identity]
    ) -> None:
        self.seed = seed
        self.today = today
        self._people: dict[str, Person] = {person.id_number: person for person in sandbox}
        self._identities = {identity.id_number: identity for identity in identities}
        self._generator = HistoryGenerator(seed, self.as_of)
        self._sources = load_sources()
        # Building a record walks every month of a person's history; benchmarks and
        # demos ask about the same people again and again.
        self._records: OrderedDict[tuple[str, str, Month], dict[str, Any] | None] = OrderedDict()

    @classmethod
    def generate(cls, seed: int, size: int, today: date | None = None) -> Population:
        """`size` seeded people plus the sandbox identities; same seed and day, same people."""
        today = today or date.today()
        sandbox = sandbox_people(Month.of(today).shift(-1))
        taken = {person.id_number for person in sandbox}
        rng = random.Random(f"{seed}:identity")
        identities = []
        for index in range(size):
            identity = draw_identity(rng, index, taken)
            taken.add(identity.id_number)
            identities.append(identity)
        return cls(seed, today, sandbox, identities)

    @property
    def as_of(self) -> Month:
        """The last complete month before `today`: the newest month any record covers."""
        return Month.of(self.today).shift(-1)

    def get(self, id_number: str) -> Person | None:
        """The person with this resident ID, if the population holds one."""
        person = self._people.get(id_number)
        if person is None:
            identity = self._identities.get(id_number)
            if identity is None:
                return None
            person = self._people[id_number] = self._generator.person(identity)
        return person

    def record(
        self, source: str, id_number: str, as_of: Month | None = None
    ) -> dict[str, Any] | None:
        """What `source` holds about the person; None when it holds nothing or no such person.

        Records are shared between callers (a person's past does not change): read them,
        never modify them.
        """
        as_of = as_of or self.as_of
        key = (source, id_number, as_of)
        if key in self._records:
            self._records.move_to_end(key)
            return self._records[key]
        person = self.get(id_number)
        record = None
        if person is not None:
            if source not in self._sources:
                raise ValueError(f"unknown source: {source}")
            record = self._sources[source].record_builder(person, as_of)
        self._records[key] = record
        if len(self._records) > self.cached_records:
            self._records.popitem(last=False)
        return record

    def id_numbers(self) -> list[str]:
        """Every resident ID held, sandbox identities first."""
        return [*SANDBOX_ID_NUMBERS, *self._identities]

    def canonical_dump(self, count: int | None = None) -> Iterator[bytes]:
        """One canonical JSON line per person (the first `count`): identity and every record.

        Sorted keys, no whitespace, UTF-8: two populations are the same exactly when
        their dumps are the same bytes.
        """
        for id_number in self.id_numbers()[:count]:
            person = self.get(id_number)
            assert person is not None
            line = {
                "name": person.name,
                "id_number": person.id_number,
                "phone": person.phone,
                "records": {source: self.record(source, id_number) for source in self._sources},
            }
            yield json.dumps(
                line, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()

    def digest(self, count: int | None = None) -> str:
        """Hex SHA-256 of the canonical dump of the first `count` people (all by default)."""
        hasher = hashlib.sha256()
        for line in self.canonical_dump(count):
            hasher.update(line + b"\n")
        return hasher.hexdigest()

    def __len__(self) -> int:
        return len(SANDBOX_ID_NUMBERS) + len(self._identities)

    def __iter__(self) -> Iterator[Person]:
        for id_number in self.id_numbers():
            person = self.get(id_number)
            assert person is not None
            yield person

    def __contains__(self, id_number: object) -> bool:
        return id_number in self._people or id_number in self._identities
