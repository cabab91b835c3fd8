"""No raw ID number, phone or name in audit leaves, logs or release payloads of the test run."""

from __future__ import annotations

import json

from connectors.people.histories import Person
from tests.support.stack import LogCapture, Stack


def raw_values(people: list[Person]) -> list[str]:
    """Every identifying value of the people the tests used."""
    return [value for person in people for value in (person.id_number, person.phone, person.name)]


async def test_no_personal_data_in_leaves_logs_or_payloads(
    stack: Stack, captured_logs: LogCapture
) -> None:
    # One more complete story, so this test holds even when run on its own.
    async with stack.lender_client(await stack.register()) as lender:
        consent_id, person, auth = await stack.active_consent(lender)
        release = await lender.release(consent_id)
        await stack.http.post(f"/v1/borrower/consents/{consent_id}/revoke", headers=auth)

    secrets_seen = raw_values(stack.used_identities)
    assert person.id_number in secrets_seen

    leaves = json.dumps(await stack.audit_leaves(), ensure_ascii=False)
    logs = "\n".join(captured_logs.lines())
    payload = json.dumps(release.payload, ensure_ascii=False)
    assert "consent.requested" in leaves and "release.granted" in logs
    for value in secrets_seen:
        assert value not in leaves
        assert value not in logs
        assert value not in payload
