"""A lender client's own products: from its file in the policy folder, and registered ones.

A lender's products are those `products/<client name>.yaml` declares, together with the
newest document an operator registered for it (`lendgate products set`). Each lender
sees and may use only its own products; another client's are as if they did not exist.
Every registration is kept (which products existed when) and is an audit event.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import service as audit_service
from gateway.audit.events import AuditEvent
from gateway.clients import repository
from gateway.clients.models import ProductRegistration
from gateway.core.errors import PurposeViolation
from gateway.core.ids import new_id
from gateway.runtime.context import GatewayContext
from gateway.security.principals import ClientKind, ClientPrincipal
from policies.catalog import Catalog, Product, document_version
from policies.loading import PRODUCTS_FOLDER, check_product_document
from policies.values import quoted

log = structlog.get_logger()


class ProductRegistrationError(ValueError):
    """The products cannot be registered; `problems` names each (`FILE:LINE` where it can)."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


async def products_of(
    session: AsyncSession, context: GatewayContext, lender: ClientPrincipal
) -> dict[str, Product]:
    """The products of `lender` by code (none for a client that is not a lender)."""
    if lender.kind is not ClientKind.LENDER:
        return {}
    products = dict(context.catalog.client_products(lender.name))
    registration = await repository.latest_product_registration(session, lender.client_id)
    if registration is not None:
        products.update(_registered(context.catalog, lender.name, registration))
    return products


async def product_of(
    session: AsyncSession, context: GatewayContext, lender: ClientPrincipal, code: object
) -> Product:
    """The lender's product `code`; another client's, or none, is an unknown product."""
    products = await products_of(session, context, lender)
    product = products.get(code) if isinstance(code, str) else None
    if product is None:
        raise PurposeViolation(f"Unknown product {quoted(code)}.")
    return product


async def set_products(
    session: AsyncSession,
    catalog: Catalog,
    client_id: str,
    document: bytes,
    origin: Path,
    *,
    actor: str,
) -> list[Product]:
    """Register `document` as the lender's products in force; an audit event records it.

    The document is checked like a product file of the policy folder, and may not
    declare a code the lender's file already does (one code, one product).
    """
    client = await repository.get(session, client_id, for_update=True)
    if client is None or client.kind is not ClientKind.LENDER:
        raise ProductRegistrationError([f"{client_id!r} is not a registered lender."])
    products, problems = check_product_document(catalog, client.name, document, origin)
    if problems:
        raise ProductRegistrationError(problems)
    in_file = sorted(set(products) & set(catalog.client_products(client.name)))
    if in_file:
        raise ProductRegistrationError(
            [
                f"{origin}: product `{code}` is already declared in "
                f"{PRODUCTS_FOLDER}/{client.name}.yaml of the policy folder."
                for code in in_file
            ]
        )
    version = document_version(document)
    session.add(
        ProductRegistration(
            id=new_id("prd"),
            client_id=client.id,
            version=version,
            document=document.decode("utf-8"),
            codes=sorted(products),
        )
    )
    await session.flush()
    await audit_service.append(
        session,
        AuditEvent(
            type="admin.product_set",
            actor=actor,
            lender_id=client.id,
            features=tuple(sorted({f for product in products.values() for f in product.features})),
            reason="products " + " ".join(sorted(products)),
            policy_version=version,
        ),
    )
    log.info("admin.product_set", lender_id=client.id, version=version, count=len(products))
    return list(products.values())


def _registered(
    catalog: Catalog, client: str, registration: ProductRegistration
) -> dict[str, Product]:
    """The registered products, checked again against today's catalog.

    A catalog replaced since may no longer allow what was registered: such products are
    left out (and logged) rather than used beyond the platform's ceilings.
    """
    origin = Path(f"registered/{registration.id}.yaml")
    products, problems = check_product_document(
        catalog, client, registration.document.encode("utf-8"), origin
    )
    if problems:
        log.warning(
            "products.registration_outside_catalog",
            registration_id=registration.id,
            problems=len(problems),
        )
    return products
