"""consents keep the latest delete_by of their releases

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "last_delete_by", gateway.core.db.UTCDateTime(timezone=True), nullable=True
            )
        )
    # Consents released from before the column existed take it from their releases.
    op.execute(
        "UPDATE consents SET last_delete_by = "
        "(SELECT max(releases.delete_by) FROM releases WHERE releases.consent_id = consents.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_column("last_delete_by")
