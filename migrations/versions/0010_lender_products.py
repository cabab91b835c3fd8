"""consents remember the lender's product they were asked under

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-03 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("product_terms", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_consents_product"), ["product"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_product"))
        batch_op.drop_column("product_terms")
        batch_op.drop_column("product")
