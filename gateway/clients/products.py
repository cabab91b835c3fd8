"""A lender client's own products: the ones its policy folder file declares.

Each lender sees and may use only its own products; another client's are as if they
did not exist (an unknown product).
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.core.errors import PurposeViolation
from gateway.runtime.context import GatewayContext
from gateway.security.principals import ClientKind, ClientPrincipal
from policies.catalog import Product
from policies.values import quoted


def products_of(context: GatewayContext, lender: ClientPrincipal) -> Mapping[str, Product]:
    """The products of `lender` by code (none for a client that is not a lender)."""
    if lender.kind is not ClientKind.LENDER:
        return {}
    return context.catalog.client_products(lender.name)


def product_of(context: GatewayContext, lender: ClientPrincipal, code: object) -> Product:
    """The lender's product `code`; another client's, or none, is an unknown product."""
    product = products_of(context, lender).get(code) if isinstance(code, str) else None
    if product is None:
        raise PurposeViolation(f"Unknown product {quoted(code)}.")
    return product
