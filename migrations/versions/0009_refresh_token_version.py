"""refresh tokens bound to the account's credential version: refresh_tokens.token_version
(the users.token_version at issue; a refresh refuses an older one)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "refresh_tokens",
        sa.Column("token_version", sa.Integer(), server_default="0", nullable=False),
    )
    # Every live token was issued at its account's current version (a version change
    # revokes all of them), so the live ones keep working after the upgrade.
    op.execute(
        "UPDATE refresh_tokens AS t SET token_version = u.token_version"
        " FROM users AS u WHERE u.id = t.user_id"
    )


def downgrade() -> None:
    op.drop_column("refresh_tokens", "token_version")
