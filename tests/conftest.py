"""The session-wide check over every test, and the plugins that give the tests their fixtures.

The fixtures live in `tests/support/`: test databases on each backend, a whole gateway in
process with its simulators, and a gateway on a socket driven by a headless Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event

from connectors.simulators.population import Population
from gateway.audit.models import AuditEntry
from tests.support.leaks import KnownIdentity, find_leaks
from tests.support.stack import SIMULATOR_POPULATION, SIMULATOR_SEED, LogCapture

pytest_plugins = [
    "tests.support.databases",
    "tests.support.stack",
    "tests.support.browser",
]


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
