"""key management: progress markers of key-encryption-key rotations

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kek_rotations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("last_consent_id", sa.String(length=64), nullable=True),
        sa.Column("rewrapped", sa.Integer(), nullable=False),
        sa.Column("finished_at", gateway.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", gateway.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kek_rotations")),
    )


def downgrade() -> None:
    op.drop_table("kek_rotations")
