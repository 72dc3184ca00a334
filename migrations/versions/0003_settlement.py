"""settlement: transaction steps and dates, ledger posting keys, dispute resolution,
user settlement record

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMES = (
    "step_started_at",
    "pay_by",
    "authorized_at",
    "capture_before",
    "captured_at",
    "shipped_at",
    "release_after",
    "received_at",
    "released_at",
    "refunded_at",
    "failed_at",
)
_STRINGS = (
    ("payment_method_id", 64),
    ("payout_id", 64),
    ("payout_status", 16),
    ("failure_reason", 200),
    ("carrier", 64),
    ("tracking_number", 100),
    ("pending_step", 16),
)


def upgrade() -> None:
    for name in ("reputation_count", "unpaid_strikes", "disputes_lost"):
        op.add_column(
            "users", sa.Column(name, sa.Integer(), server_default="0", nullable=False)
        )

    op.create_index(
        "uq_users_payment_method",
        "users",
        ["stripe_payment_method_id"],
        unique=True,
        postgresql_where=sa.text("stripe_payment_method_id IS NOT NULL"),
    )

    # A sale may fail and be offered again (second chance): one live row per auction.
    op.drop_constraint("transactions_auction_id_key", "transactions", type_="unique")
    op.create_index(
        op.f("ix_transactions_auction_id"), "transactions", ["auction_id"], unique=False
    )
    op.create_index(
        "uq_transactions_live_auction",
        "transactions",
        ["auction_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'FAILED'"),
    )
    op.create_index("ix_transactions_status", "transactions", ["status"], unique=False)
    # Rows from before this revision: the whole amount was the price.
    op.add_column("transactions", sa.Column("price", sa.BigInteger(), nullable=True))
    op.execute("UPDATE transactions SET price = amount")
    op.alter_column("transactions", "price", nullable=False)
    for name in ("buyer_premium", "refunded_amount"):
        op.add_column(
            "transactions",
            sa.Column(name, sa.BigInteger(), server_default="0", nullable=False),
        )
        op.alter_column("transactions", name, server_default=None)
    op.add_column(
        "transactions",
        sa.Column("second_chance", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "transactions",
        sa.Column("payment_attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("transactions", sa.Column("replaces_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "transactions_replaces_id_fkey",
        "transactions",
        "transactions",
        ["replaces_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    for name, length in _STRINGS:
        op.add_column(
            "transactions",
            sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=True),
        )
    for name in _TIMES:
        op.add_column("transactions", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        "ck_transactions_parts",
        "transactions",
        "price > 0 AND buyer_premium >= 0 AND amount = price + buyer_premium",
    )
    op.create_check_constraint(
        "ck_transactions_refunded",
        "transactions",
        "refunded_amount >= 0 AND refunded_amount <= amount",
    )
    op.create_check_constraint(
        "ck_transactions_step",
        "transactions",
        "pending_step IS NULL OR pending_step IN "
        "('authorize','capture','release','refund','partial_refund','cancel')",
    )

    op.add_column(
        "ledger_entries",
        sa.Column(
            "posting_key",
            sqlmodel.sql.sqltypes.AutoString(length=64),
            server_default="legacy",
            nullable=False,
        ),
    )
    op.alter_column("ledger_entries", "posting_key", server_default=None)
    op.create_unique_constraint(
        "uq_ledger_posting_account",
        "ledger_entries",
        ["transaction_id", "posting_key", "account"],
    )

    op.add_column("disputes", sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "disputes",
        sa.Column("resolution", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    )
    op.create_check_constraint(
        "ck_disputes_resolution",
        "disputes",
        "resolution IS NULL OR resolution IN ('REFUND_FULL','REFUND_PARTIAL','RELEASE')",
    )
    op.create_unique_constraint("uq_disputes_transaction", "disputes", ["transaction_id"])


def downgrade() -> None:
    op.drop_constraint("uq_disputes_transaction", "disputes", type_="unique")
    op.drop_constraint("ck_disputes_resolution", "disputes", type_="check")
    op.drop_column("disputes", "resolution")
    op.drop_column("disputes", "responded_at")

    op.drop_constraint("uq_ledger_posting_account", "ledger_entries", type_="unique")
    op.drop_column("ledger_entries", "posting_key")

    for name in ("ck_transactions_step", "ck_transactions_refunded", "ck_transactions_parts"):
        op.drop_constraint(name, "transactions", type_="check")
    for name in _TIMES:
        op.drop_column("transactions", name)
    for name, _ in _STRINGS:
        op.drop_column("transactions", name)
    op.drop_constraint("transactions_replaces_id_fkey", "transactions", type_="foreignkey")
    for name in ("payment_attempts", "replaces_id", "second_chance", "refunded_amount", "buyer_premium", "price"):
        op.drop_column("transactions", name)
    op.drop_index("ix_transactions_status", table_name="transactions")
    op.drop_index("uq_transactions_live_auction", table_name="transactions")
    op.drop_index(op.f("ix_transactions_auction_id"), table_name="transactions")
    # Only restorable while no auction has a failed sale and a second chance.
    op.create_unique_constraint("transactions_auction_id_key", "transactions", ["auction_id"])

    op.drop_index("uq_users_payment_method", table_name="users")
    for name in ("disputes_lost", "unpaid_strikes", "reputation_count"):
        op.drop_column("users", name)
