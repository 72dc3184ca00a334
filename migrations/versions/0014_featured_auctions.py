"""featured auctions: auctions.featured_at (when an admin featured it; NULL when not
featured or featured before this column existed) next to auctions.featured

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("auctions", sa.Column("featured_at", sa.DateTime(timezone=True), nullable=True))
    # Auctions featured before the column existed: since their publication, the closest
    # moment known (the admin app shows "featured since").
    op.execute(
        "UPDATE auctions SET featured_at = coalesce(published_at, created_at) WHERE featured"
    )


def downgrade() -> None:
    op.drop_column("auctions", "featured_at")
