"""lenders' products: registered versions, and the product a consent was asked under

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-03 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db

revision: str = "0010"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "product_registrations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=80), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("codes", sa.JSON(), nullable=False),
        sa.Column("created_at", gateway.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_product_registrations_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_registrations")),
    )
    with op.batch_alter_table("product_registrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_product_registrations_client_id"), ["client_id"], unique=False
        )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("product_terms", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_consents_product"), ["product"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_product"))
        batch_op.drop_column("product_terms")
        batch_op.drop_column("product")
    with op.batch_alter_table("product_registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_registrations_client_id"))
    op.drop_table("product_registrations")
