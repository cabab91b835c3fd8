"""access control: DPoP-bound clients, borrower sessions, the shared security counters

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dpop_required", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "borrower_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("phone_index", sa.String(length=64), nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.Column("expires_at", gateway.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", gateway.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", gateway.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_borrower_sessions")),
    )
    with op.batch_alter_table("borrower_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_borrower_sessions_phone_index"), ["phone_index"], unique=False
        )
    op.create_table(
        "security_counters",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_security_counters")),
    )
    with op.batch_alter_table("security_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_counters_expires_at_ms"), ["expires_at_ms"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("security_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_counters_expires_at_ms"))
    op.drop_table("security_counters")
    with op.batch_alter_table("borrower_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_borrower_sessions_phone_index"))
    op.drop_table("borrower_sessions")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("dpop_required")
