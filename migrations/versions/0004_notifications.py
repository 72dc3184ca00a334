"""notifications: per-user gapless sequence, dedupe key, email dispatch mark, counters,
per-kind email preferences

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_counters",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.add_column("notifications", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column(
        "notifications",
        sa.Column("dedupe_key", sa.String(length=120), nullable=True),
    )
    op.add_column(
        "notifications",
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
    )
    # Existing rows: numbered in the order they were created; never emailed afterwards.
    op.execute(
        """
        UPDATE notifications n SET seq = o.seq, emailed_at = n.created_at
        FROM (
            SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY created_at, id) AS seq
            FROM notifications
        ) o
        WHERE n.id = o.id
        """
    )
    op.execute(
        """
        INSERT INTO notification_counters (user_id, last_seq)
        SELECT user_id, max(seq) FROM notifications GROUP BY user_id
        """
    )
    op.alter_column("notifications", "seq", nullable=False)
    op.create_unique_constraint("uq_notifications_user_seq", "notifications", ["user_id", "seq"])
    op.create_index(
        "uq_notifications_user_dedupe",
        "notifications",
        ["user_id", "dedupe_key"],
        unique=True,
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )
    op.create_index(
        "ix_notifications_unemailed",
        "notifications",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("emailed_at IS NULL"),
    )
    op.add_column(
        "users",
        sa.Column(
            "notification_prefs",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("users", "notification_prefs")
    op.drop_index("ix_notifications_unemailed", table_name="notifications")
    op.drop_index("uq_notifications_user_dedupe", table_name="notifications")
    op.drop_constraint("uq_notifications_user_seq", "notifications", type_="unique")
    op.drop_column("notifications", "emailed_at")
    op.drop_column("notifications", "dedupe_key")
    op.drop_column("notifications", "seq")
    op.drop_table("notification_counters")
