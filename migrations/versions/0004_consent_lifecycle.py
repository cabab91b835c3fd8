"""consent lifecycle: signed receipts, the lender-notification outbox, deletion attestations

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_receipts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("consent_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("issued_at", gateway.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("created_at", gateway.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["consents.id"], name=op.f("fk_consent_receipts_consent_id_consents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_receipts")),
        sa.UniqueConstraint("consent_id", "kind", name=op.f("uq_consent_receipts_consent_id")),
    )
    op.create_table(
        "consent_notifications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("consent_id", sa.String(length=64), nullable=False),
        sa.Column("lender_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("callback_url", sa.String(length=500), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", gateway.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("leased_until", gateway.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", gateway.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("delivered_at", gateway.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", gateway.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
            name=op.f("fk_consent_notifications_consent_id_consents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_notifications")),
        sa.UniqueConstraint("consent_id", "seq", name=op.f("uq_consent_notifications_consent_id")),
    )
    with op.batch_alter_table("consent_notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_notifications_status_next_attempt_at",
            ["status", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_consent_notifications_lender_id_created_at",
            ["lender_id", "created_at"],
            unique=False,
        )
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deletion_attestation_leaf", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_releases_delete_by", ["delete_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_index("ix_releases_delete_by")
        batch_op.drop_column("deletion_attestation_leaf")
    with op.batch_alter_table("consent_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_notifications_lender_id_created_at")
        batch_op.drop_index("ix_consent_notifications_status_next_attempt_at")
    op.drop_table("consent_notifications")
    op.drop_table("consent_receipts")
