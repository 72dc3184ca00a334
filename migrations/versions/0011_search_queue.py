"""search freshness: search_pending (the indexer's queue), search_changes (the reindex
journal) and the triggers on auctions and items that fill them

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One statement-level trigger per table and operation: a bulk write (the persister's
# batch, a seed) queues its rows in one INSERT, not one per row. Ids are sorted so two
# writers upserting the same journal rows lock them in one order.
ENQUEUE = """
CREATE FUNCTION search_enqueue(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF cardinality(ids) = 0 THEN
    RETURN;
  END IF;
  -- An update, not DO NOTHING, even when the auction is already queued: it locks the
  -- queued row until this transaction ends, so an indexer (FOR UPDATE SKIP LOCKED)
  -- cannot claim it and read the row as it was before this change commits.
  INSERT INTO search_pending (auction_id, queued_at)
    SELECT DISTINCT id, clock_timestamp() FROM unnest(ids) AS id ORDER BY id
    ON CONFLICT (auction_id)
    DO UPDATE SET queued_at = least(search_pending.queued_at, excluded.queued_at);
  INSERT INTO search_changes (auction_id, xid)
    SELECT DISTINCT id, pg_current_xact_id()::text::bigint FROM unnest(ids) AS id ORDER BY id
    ON CONFLICT (auction_id) DO UPDATE SET xid = excluded.xid;
  PERFORM pg_notify('gavel_search', '');
END $$;
"""

# Auctions: any change to the row (a column a document reads later cannot be forgotten
# here); an UPDATE that changes nothing queues nothing.
CAPTURE_AUCTIONS = """
CREATE FUNCTION search_capture_auctions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM search_enqueue(ARRAY(SELECT id FROM new_rows));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM search_enqueue(ARRAY(SELECT id FROM old_rows));
  ELSE
    PERFORM search_enqueue(ARRAY(
      SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE (o.*) IS DISTINCT FROM (n.*)));
  END IF;
  RETURN NULL;
END $$;
"""

# Items: the columns a document reads, queued under the item's auction.
CAPTURE_ITEMS = """
CREATE FUNCTION search_capture_items() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM search_enqueue(ARRAY(
    SELECT a.id FROM new_rows n JOIN old_rows o ON o.id = n.id
    JOIN auctions a ON a.item_id = n.id
    WHERE (o.title, o.description, o.category, o.condition)
      IS DISTINCT FROM (n.title, n.description, n.category, n.condition)));
  RETURN NULL;
END $$;
"""

TRIGGERS = (
    "CREATE TRIGGER search_auctions_insert AFTER INSERT ON auctions"
    " REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION search_capture_auctions()",
    "CREATE TRIGGER search_auctions_update AFTER UPDATE ON auctions"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION search_capture_auctions()",
    "CREATE TRIGGER search_auctions_delete AFTER DELETE ON auctions"
    " REFERENCING OLD TABLE AS old_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION search_capture_auctions()",
    "CREATE TRIGGER search_items_update AFTER UPDATE ON items"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION search_capture_items()",
)


def upgrade() -> None:
    op.create_table(
        "search_pending",
        sa.Column("auction_id", sa.Uuid(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("auction_id"),
    )
    op.create_index("ix_search_pending_queued_at", "search_pending", ["queued_at"], unique=False)
    op.create_table(
        "search_changes",
        sa.Column("auction_id", sa.Uuid(), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("auction_id"),
    )
    op.execute(ENQUEUE)
    op.execute(CAPTURE_AUCTIONS)
    op.execute(CAPTURE_ITEMS)
    for trigger in TRIGGERS:
        op.execute(trigger)
    # Auctions listed before this migration: queued once, so the index gets them all.
    op.execute(
        "INSERT INTO search_pending (auction_id, queued_at)"
        " SELECT id, clock_timestamp() FROM auctions WHERE status <> 'DRAFT'"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER search_items_update ON items")
    for name in ("search_auctions_delete", "search_auctions_update", "search_auctions_insert"):
        op.execute(f"DROP TRIGGER {name} ON auctions")
    op.execute("DROP FUNCTION search_capture_items()")
    op.execute("DROP FUNCTION search_capture_auctions()")
    op.execute("DROP FUNCTION search_enqueue(uuid[])")
    op.drop_table("search_changes")
    op.drop_index("ix_search_pending_queued_at", table_name="search_pending")
    op.drop_table("search_pending")
