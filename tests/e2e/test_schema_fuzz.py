"""Schemathesis against the served OpenAPI, with valid credentials for a lender, a regulator
and a borrower: bounded examples per operation; no 5xx, and every status code, content type
and body conforms to what the OpenAPI says.
"""

from __future__ import annotations

import asyncio

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case
from schemathesis.openapi import from_dict
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.stack import Parties, Stack, on_socket, parties_of

EXAMPLES_PER_OPERATION = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz(schema_document: dict[str, object], base_url: str, credentials: Parties) -> int:
    """Every operation with bounded examples; the number of requests made."""
    schema = from_dict(schema_document)
    made = 0
    for result in schema.get_all_operations():
        # An operation the fuzzer cannot read is a defect of the OpenAPI itself.
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        made += examine(operation, base_url, credentials.for_path(operation.path))
    return made


def examine(operation: APIOperation, base_url: str, auth: dict[str, str]) -> int:
    """Call one operation with generated cases and check each answer; how many were made."""
    made = 0

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Case) -> None:
        nonlocal made
        response = case.call(base_url=base_url, headers=auth)
        made += 1
        case.validate_response(response, checks=CHECKS)

    check()
    return made


async def test_the_api_conforms_to_its_openapi_under_generated_input(stack: Stack) -> None:
    credentials = await parties_of(stack)
    document = stack.app.openapi()
    async with on_socket(stack.app) as served:
        # The fuzzer's client is synchronous: it runs in a thread while this loop serves.
        made = await asyncio.to_thread(fuzz, document, served, credentials)
        async with httpx.AsyncClient(base_url=served) as http:
            assert (await http.get("/healthz")).status_code == 200
    assert made >= len(document["paths"])
