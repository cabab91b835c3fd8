"""Client tables: registrations (keys, scopes, status, DPoP), spent client-assertion `jti`s,
and the product documents operators register for lenders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, CreatedAt, string_enum
from gateway.security.principals import ClientKind, ClientStatus


class Client(CreatedAt, Base):
    """A lender or regulator, known by its public JWKS only."""

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ClientKind] = mapped_column(string_enum(ClientKind))
    jwks: Mapped[dict[str, Any]] = mapped_column(JSON)
    scopes: Mapped[str] = mapped_column(String(400))
    status: Mapped[ClientStatus] = mapped_column(
        string_enum(ClientStatus), default=ClientStatus.ACTIVE
    )
    # Registered with `--dpop`: every token must be sender-constrained (RFC 9449).
    dpop_required: Mapped[bool] = mapped_column(default=False, server_default=false())


class UsedAssertion(Base):
    """A client assertion already spent; kept until it would have expired anyway."""

    __tablename__ = "used_client_assertions"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ProductRegistration(CreatedAt, Base):
    """One version of a lender's registered products (`lendgate products set`).

    Rows are only ever added: the newest is in force, the older ones say which products
    the lender had when. The document is kept as given, and checked again when read.
    """

    __tablename__ = "product_registrations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    version: Mapped[str] = mapped_column(String(80))
    document: Mapped[str] = mapped_column(Text)
    codes: Mapped[list[str]] = mapped_column(JSON)
