"""Request ids land in every log line and audit leaf: they must never look like personal data."""

from __future__ import annotations

import json

from gateway.core.ids import new_request_id
from gateway.privacy.recognizers import find_pii


def test_request_ids_are_unique_and_never_read_as_personal_data() -> None:
    ids = [new_request_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    leaves = json.dumps([{"request_id": request_id} for request_id in ids])
    assert find_pii(leaves) == []


def test_the_old_hex_form_could_read_as_a_card_number() -> None:
    # What happened before: 16 hex characters that are all digits and pass Luhn.
    assert [finding.entity for finding in find_pii('{"request_id":"2385000000009796"}')] == [
        "BANK_CARD"
    ]
