"""Looking for personal data where none may be: the test run's logs and audit leaves.

Two nets: the gateway's own recognizers (any valid resident ID, mobile, card,
USCC, e-mail or labelled name, whoever it belongs to), and the exact values of
every identity the tests could have used (names carry no checksum, so only an
exact match finds a bare `张三`). Reports show where and what kind, masked. As a
plugin of the root conftest.py, the check runs over every test of the session.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import pytest
from sqlalchemy import event

from connectors.simulators.population import Population
from gateway.audit.models import AuditEntry
from gateway.privacy.masking import mask_value
from gateway.privacy.recognizers import find_pii
from tests.support.stack import SIMULATOR_POPULATION, SIMULATOR_SEED, LogCapture

# Where an exact value can hide: runs of digits (IDs end in X) and runs of Han characters.
_DIGIT_RUN: Final = re.compile(r"[0-9Xx]{11,}")
_HAN_RUN: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff·]{2,}")
# Lines are scanned in blocks: one Presidio call per block instead of per line.
_BLOCK_LINES: Final = 400


@dataclass(frozen=True)
class Leak:
    """Personal data found in one item (a log line, an audit leaf), shown masked."""

    where: str
    entity: str
    masked: str

    def __str__(self) -> str:
        return f"{self.where}: {self.entity} {self.masked}"


@dataclass(frozen=True)
class KnownIdentity:
    """The raw values of one identity the tests may have used."""

    name: str
    id_number: str
    phone: str


def find_leaks(items: Sequence[str], known: Iterable[KnownIdentity], *, label: str) -> list[Leak]:
    """Every recognizer finding and exact known value in `items` (named `label` #N)."""
    leaks = _recognized(items, label)
    numbers: dict[str, str] = {}
    names: dict[str, str] = {}
    for identity in known:
        numbers[identity.id_number.upper()] = "CN_RESIDENT_ID"
        numbers[identity.phone] = "CN_MOBILE"
        names[identity.name] = "CN_NAME"
    for index, item in enumerate(items, start=1):
        where = f"{label} #{index}"
        for run in _DIGIT_RUN.findall(item):
            leaks.extend(
                Leak(where, entity, mask_value(entity, value))
                for value, entity in numbers.items()
                if value in run.upper()
            )
        for run in _HAN_RUN.findall(item):
            leaks.extend(
                Leak(where, entity, mask_value(entity, value))
                for value, entity in names.items()
                if value in run
            )
    return sorted(set(leaks), key=lambda leak: (leak.where, leak.entity, leak.masked))


def _recognized(items: Sequence[str], label: str) -> list[Leak]:
    """What the recognizers find, item by item (items are scanned in blocks of lines)."""
    leaks: list[Leak] = []
    for first in range(0, len(items), _BLOCK_LINES):
        block = [item.replace("\n", " ") for item in items[first : first + _BLOCK_LINES]]
        starts = []
        position = 0
        for item in block:
            starts.append(position)
            position += len(item) + 1
        for finding in find_pii("\n".join(block)):
            index = bisect.bisect_right(starts, finding.start) - 1
            leaks.append(Leak(f"{label} #{first + index + 1}", finding.entity, finding.masked))
    return leaks


@pytest.fixture(scope="session", autouse=True)
def no_personal_data_in_logs_or_audit(captured_logs: LogCapture) -> Iterator[list[str]]:
    """After the whole run: no log line and no audit leaf of any test database holds personal data.

    Leaves are collected as they are written (in whatever database) and read back
    from each `stack` database before it is dropped; the check uses the gateway's
    recognizers and the exact values of every identity of the simulators' population.
    """
    leaves: list[str] = []

    def collect(_mapper: object, _connection: object, entry: AuditEntry) -> None:
        leaves.append(entry.leaf)

    event.listen(AuditEntry, "after_insert", collect)
    yield leaves
    event.remove(AuditEntry, "after_insert", collect)
    population = Population.generate(SIMULATOR_SEED, SIMULATOR_POPULATION)
    known = [
        KnownIdentity(person.name, person.id_number, person.phone)
        for person in map(population.get, population.id_numbers())
        if person is not None
    ]
    leaks = find_leaks(captured_logs.lines(), known, label="log line") + find_leaks(
        list(dict.fromkeys(leaves)), known, label="audit leaf"
    )
    if leaks:
        shown = "\n".join(str(leak) for leak in leaks[:50])
        pytest.fail(f"personal data in {len(leaks)} places:\n{shown}", pytrace=False)
