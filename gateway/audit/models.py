"""Audit tables: the append-only leaves, the Merkle tree over them, tree heads and co-signatures.

`audit_head` is the log's single head row: its size and the tree's right edge
(`frontier`). Every append updates it first, so its row lock serializes appends
across all gateway processes. The other tables only ever grow: the database
refuses UPDATE and DELETE on them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, CreatedAt


class AuditEntry(Base):
    """One leaf of the log. The database refuses UPDATE and DELETE on this table."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(64))
    consent_id: Mapped[str | None] = mapped_column(String(64))
    lender_id: Mapped[str | None] = mapped_column(String(64))
    leaf: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_entries_consent_id_seq", "consent_id", "seq"),
        Index("ix_audit_entries_lender_id_seq", "lender_id", "seq"),
        Index("ix_audit_entries_type_seq", "type", "seq"),
        Index("ix_audit_entries_ts", "ts"),
    )


class AuditHead(Base):
    """The log's one head row: size and the tree's frontier. Updating it takes the append lock."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    frontier: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    """The hashes of the perfect subtrees along the tree's right edge, largest first."""


class AuditNode(Base):
    """A perfect subtree of the Merkle tree: `2**level` leaves from leaf `position * 2**level`.

    Level 0 holds the leaf hashes. Written in the transaction of the leaf that
    completes the subtree, never rewritten.
    """

    __tablename__ = "audit_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditTreeHead(CreatedAt, Base):
    """A signed tree head: the gateway's JWS over `{tree_size, root_hash, timestamp}`."""

    __tablename__ = "audit_tree_heads"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    """Milliseconds since the Unix epoch, as in RFC 6962."""
    signature: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(String(64))


class AuditCosignature(CreatedAt, Base):
    """A witness's (regulator's) JWS over a tree head it checked."""

    __tablename__ = "audit_cosignatures"

    tree_size: Mapped[int] = mapped_column(
        ForeignKey("audit_tree_heads.tree_size"), primary_key=True, autoincrement=False
    )
    witness_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    signature: Mapped[str] = mapped_column(Text)
