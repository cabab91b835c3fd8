"""Client kinds: typed in the code, stored as the plain strings existing rows already hold."""

from __future__ import annotations

import pytest
from lendgate_sdk import jose
from sqlalchemy import text

from gateway.clients import repository as clients_repository
from gateway.clients import service as clients_service
from gateway.clients.service import ClientRegistrationError
from gateway.security.principals import ClientKind
from tests.support.stack import ClientKindName, Stack


@pytest.mark.parametrize("kind", ["lender", "regulator"])
async def test_client_kinds_are_stored_as_plain_strings(stack: Stack, kind: ClientKindName) -> None:
    registered = await stack.register(kind)
    async with stack.context.sessionmaker() as session:
        stored = await session.scalar(
            text("SELECT kind FROM clients WHERE id = :id"), {"id": registered.client_id}
        )
        client = await clients_repository.get(session, registered.client_id)
    assert stored == kind
    assert client is not None and client.kind is ClientKind(kind)


async def test_an_unknown_kind_is_refused_and_nothing_is_registered(stack: Stack) -> None:
    _, public_jwks = jose.generate_client_jwks("lender")
    async with stack.context.sessionmaker() as session:
        before = len(await clients_repository.list_all(session))
        with pytest.raises(ClientRegistrationError, match="kind must be one of lender, regulator"):
            await clients_service.register(
                session, name="测试银行", kind="broker", jwks=public_jwks, actor="operator:test"
            )
        assert len(await clients_repository.list_all(session)) == before
