"""audit tree: Merkle nodes, the head's frontier, signed tree heads and co-signatures

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00

Existing leaves are hashed into the tree here, so a log that predates this
revision gets the same nodes and frontier it would have had from the start.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db
from gateway.audit.merkle import Frontier

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("audit_nodes", "audit_tree_heads", "audit_cosignatures")
BACKFILL_BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("frontier", sa.LargeBinary(), server_default=sa.text("''"), nullable=False)
        )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_ts", ["ts"], unique=False)

    op.create_table(
        "audit_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "position", name=op.f("pk_audit_nodes")),
    )
    op.create_table(
        "audit_tree_heads",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("created_at", gateway.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_audit_tree_heads")),
    )
    op.create_table(
        "audit_cosignatures",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("created_at", gateway.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tree_size"],
            ["audit_tree_heads.tree_size"],
            name=op.f("fk_audit_cosignatures_tree_size_audit_tree_heads"),
        ),
        sa.ForeignKeyConstraint(
            ["witness_id"], ["clients.id"], name=op.f("fk_audit_cosignatures_witness_id_clients")
        ),
        sa.PrimaryKeyConstraint("tree_size", "witness_id", name=op.f("pk_audit_cosignatures")),
    )
    _hash_existing_leaves()
    _make_append_only()


def _hash_existing_leaves() -> None:
    """Build the tree over leaves written before this revision, in log order."""
    bind = op.get_bind()
    frontier = Frontier()
    nodes: list[dict[str, object]] = []
    rows = bind.execute(sa.text("SELECT seq, leaf_hash FROM audit_entries ORDER BY seq"))
    for seq, digest in rows:
        if seq != frontier.size:
            raise RuntimeError(f"audit_entries has a gap before leaf {seq}; refusing to hash it")
        for level, position, node in frontier.append(bytes.fromhex(digest)):
            nodes.append({"level": level, "position": position, "hash": node})
        if len(nodes) >= BACKFILL_BATCH:
            _insert_nodes(nodes)
            nodes = []
    _insert_nodes(nodes)
    size = bind.execute(sa.text("SELECT size FROM audit_head WHERE id = 1")).scalar_one()
    if size != frontier.size:
        raise RuntimeError(f"audit_head says {size} leaves but audit_entries holds {frontier.size}")
    bind.execute(
        sa.text("UPDATE audit_head SET frontier = :frontier WHERE id = 1"),
        {"frontier": frontier.to_bytes()},
    )


def _insert_nodes(nodes: list[dict[str, object]]) -> None:
    if nodes:
        op.get_bind().execute(
            sa.text(
                "INSERT INTO audit_nodes (level, position, hash) VALUES (:level, :position, :hash)"
            ),
            nodes,
        )


def _make_append_only() -> None:
    """The tree, its heads and their co-signatures only grow, like the leaves."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
            )
        return
    for table in APPEND_ONLY_TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    op.drop_table("audit_cosignatures")
    op.drop_table("audit_tree_heads")
    op.drop_table("audit_nodes")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_ts")
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("frontier")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")
