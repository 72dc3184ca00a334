"""saved searches and the category feed: saved_search_queue (listings
waiting to be matched, filled by a trigger on publish), auction_feed_marks (ENDING_SOON
announced once per auction), and the trigger announcing every publish on
pg_notify('gavel_auction_feed', '<auction id>:<category>:PUBLISHED')

Revision ID: 0013
Revises: 0010
Create Date: 2026-11-30
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One function for both ways of becoming public: a draft published (UPDATE) and a row
# inserted public (seeds, imports). In the publishing transaction, so the queue row and
# the feed's NOTIFY exist exactly when the publish committed. (`':' || 'PUBLISHED'`: a
# colon before a word inside the SQL text would read as a bind parameter.)
_PUBLISHED = """
CREATE FUNCTION gavel_auction_published() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cat text;
BEGIN
    SELECT i.category INTO cat FROM items i WHERE i.id = NEW.item_id;
    INSERT INTO saved_search_queue (auction_id, published_at)
    VALUES (NEW.id, NEW.published_at)
    ON CONFLICT (auction_id) DO NOTHING;
    PERFORM pg_notify(
        'gavel_auction_feed', NEW.id::text || ':' || coalesce(cat, '') || ':' || 'PUBLISHED'
    );
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "saved_search_queue",
        sa.Column("auction_id", sa.Uuid(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["auction_id"], ["auctions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("auction_id"),
    )
    op.create_index(
        "ix_saved_search_queue_published_at", "saved_search_queue", ["published_at"]
    )
    op.create_table(
        "auction_feed_marks",
        sa.Column("auction_id", sa.Uuid(), nullable=False),
        sa.Column("ending_soon_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["auction_id"], ["auctions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("auction_id"),
    )
    op.execute(_PUBLISHED)
    # `UPDATE OF published_at`: the persister's and closer's updates never name the
    # column, so they never even evaluate the condition.
    op.execute(
        """
        CREATE TRIGGER auctions_published AFTER UPDATE OF published_at ON auctions
        FOR EACH ROW WHEN (
            OLD.published_at IS NULL AND NEW.published_at IS NOT NULL
            AND NEW.status IN ('SCHEDULED', 'ACTIVE')
        )
        EXECUTE FUNCTION gavel_auction_published()
        """
    )
    op.execute(
        """
        CREATE TRIGGER auctions_inserted_public AFTER INSERT ON auctions
        FOR EACH ROW WHEN (
            NEW.published_at IS NOT NULL AND NEW.status IN ('SCHEDULED', 'ACTIVE')
        )
        EXECUTE FUNCTION gavel_auction_published()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS auctions_inserted_public ON auctions")
    op.execute("DROP TRIGGER IF EXISTS auctions_published ON auctions")
    op.execute("DROP FUNCTION IF EXISTS gavel_auction_published()")
    op.drop_table("auction_feed_marks")
    op.drop_index("ix_saved_search_queue_published_at", table_name="saved_search_queue")
    op.drop_table("saved_search_queue")
