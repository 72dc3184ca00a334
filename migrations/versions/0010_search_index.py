"""the embedded search index: search_documents (weighted tsvector, GIN), the typo
vocabulary and its one-deletion variants, pg_trgm

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VECTOR = (
    "setweight(to_tsvector('english'::regconfig, title_words), 'A') || "
    "setweight(to_tsvector('english'::regconfig, description_words), 'B')"
)
INDEXED = ("status", "category", "seller_id", "ends_at", "listed_at", "price_scaled", "bid_count")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "search_documents",
        sa.Column("auction_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(120), nullable=False),
        sa.Column("condition", sa.String(20), nullable=False),
        sa.Column("type", sa.String(24), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("seller_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("price_scaled", sa.BigInteger(), nullable=False),
        sa.Column("bid_count", sa.Integer(), nullable=False),
        sa.Column("reserve_met", sa.Boolean(), nullable=False),
        sa.Column("has_buy_now", sa.Boolean(), nullable=False),
        sa.Column("featured", sa.Boolean(), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("listed_at", sa.DateTime(timezone=True), nullable=False),
        # services/search/words.py's words, joined by spaces: what the tsvector reads.
        sa.Column("title_words", sa.Text(), nullable=False),
        sa.Column("description_words", sa.Text(), nullable=False),
        sa.Column("document", postgresql.TSVECTOR(), sa.Computed(VECTOR, persisted=True)),
        sa.PrimaryKeyConstraint("auction_id", name="pk_search_documents"),
    )
    # fastupdate off: searches never scan a GIN pending list of recent writes.
    op.create_index(
        "ix_search_documents_document",
        "search_documents",
        ["document"],
        postgresql_using="gin",
        postgresql_with={"fastupdate": "off"},
    )
    for column in INDEXED:
        op.create_index(f"ix_search_documents_{column}", "search_documents", [column])
    op.create_table(
        "search_vocabulary",
        sa.Column("word", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("word"),
    )
    op.create_index(
        "ix_search_vocabulary_trigrams",
        "search_vocabulary",
        ["word"],
        postgresql_using="gin",
        postgresql_ops={"word": "gin_trgm_ops"},
    )
    op.create_table(
        "search_word_variants",
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("word", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("variant", "word"),
    )
    op.create_table(
        "search_stem_variants",
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("stem", sa.Text(), nullable=False),
        sa.Column("word", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("variant", "stem"),
    )


def downgrade() -> None:
    op.drop_table("search_stem_variants")
    op.drop_table("search_word_variants")
    op.drop_table("search_vocabulary")
    op.drop_table("search_documents")
    # pg_trgm stays: other databases objects may use it, and it holds no data.
