"""fraud: scorer cursors, IP/device sightings, one OPEN flag per (user, rule, auction)

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-30
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fraud_cursors",
        sa.Column("auction_id", sa.Uuid(), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("last_sequence >= 0", name="ck_fraud_cursors_sequence"),
        sa.ForeignKeyConstraint(["auction_id"], ["auctions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("auction_id"),
    )
    op.create_table(
        "fraud_sightings",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("value_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("times_seen", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('ip','device')", name="ck_fraud_sightings_kind"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "kind", "value_hash"),
    )
    op.create_index(
        "ix_fraud_sightings_value", "fraud_sightings", ["kind", "value_hash"], unique=False
    )
    op.create_index(
        "uq_fraud_flags_open",
        "fraud_flags",
        ["user_id", "rule", "auction_id"],
        unique=True,
        postgresql_where=sa.text("status = 'OPEN'"),
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    op.drop_index("uq_fraud_flags_open", table_name="fraud_flags")
    op.drop_index("ix_fraud_sightings_value", table_name="fraud_sightings")
    op.drop_table("fraud_sightings")
    op.drop_table("fraud_cursors")
