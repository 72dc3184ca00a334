"""The embedded search index's tables (adapters/search/postgres.py; docs/search.md).

- `search_documents`: one row per searchable auction, a copy of its `SearchDocument`
  (services/search/port.py) plus `document`, a stored weighted tsvector: the title's words
  at weight A, the description's at weight B, both with the `english` configuration
  (stemmed, stop words dropped).
- `search_vocabulary`: every word the documents have held (lower-cased, split as
  `adapters/search/pg_typos.py` splits), the words typo correction may suggest.
- `search_word_variants`: each vocabulary word under itself and each of its one-letter
  deletions (SymSpell): a query word finds every word one edit away through them.
- `search_stem_variants`: the same for the vocabulary words' English stems
  (PostgreSQL's `english_stem`), so "camreas" finds "camera" ("camrea" is one typo
  from "camera").

The rebuild writes a table beside `search_documents` (`documents_table(..., suffix)`)
and swaps it in by renaming.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlmodel import SQLModel

DOCUMENTS = "search_documents"
# Title over description (ts_rank's weights: A = 1.0, B = 0.4), from the words
# services/search/words.py splits (`title_words`, `description_words`: normalised words
# joined by spaces), never the raw text: PostgreSQL's parser would keep a path, a host
# or an e-mail address as one lexeme and only lower-case, where queries are split and
# casefolded by that same function.
DOCUMENT_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, title_words), 'A') || "
    "setweight(to_tsvector('english'::regconfig, description_words), 'B')"
)
# Filter and sort columns with an index of their own (`ix_<table>_<column>`).
INDEXED = ("status", "category", "seller_id", "ends_at", "listed_at", "price_scaled", "bid_count")


def documents_table(metadata: MetaData, suffix: str = "", *, indexes: bool = True) -> Table:
    """`search_documents` (or the rebuild's `search_documents<suffix>`), its indexes named
    after the table so both can exist at once (`indexes=False`: none, to load first)."""
    name = DOCUMENTS + suffix
    return Table(
        name,
        metadata,
        Column("auction_id", Uuid(), nullable=False),
        Column("title", Text(), nullable=False),
        Column("description", Text(), nullable=False),
        Column("category", String(120), nullable=False),
        Column("condition", String(20), nullable=False),
        Column("type", String(24), nullable=False),
        Column("status", String(12), nullable=False),
        Column("seller_id", Uuid(), nullable=False),
        Column("currency", String(3), nullable=False),
        Column("price", BigInteger(), nullable=False),
        Column("price_scaled", BigInteger(), nullable=False),
        Column("bid_count", Integer(), nullable=False),
        Column("reserve_met", Boolean(), nullable=False),
        Column("has_buy_now", Boolean(), nullable=False),
        Column("featured", Boolean(), nullable=False),
        Column("ends_at", DateTime(timezone=True), nullable=False),
        Column("listed_at", DateTime(timezone=True), nullable=False),
        Column("title_words", Text(), nullable=False),
        Column("description_words", Text(), nullable=False),
        Column("document", TSVECTOR(), Computed(DOCUMENT_VECTOR, persisted=True)),
        PrimaryKeyConstraint("auction_id", name=f"pk_{name}"),
        *(index_of(name) if indexes else ()),
    )


def index_of(table: str) -> tuple[Index, ...]:
    return (
        # fastupdate off: a search never scans a pending list of recent writes (each
        # write merges its entries at once); docs/performance.md "Search (issue 16)".
        Index(
            f"ix_{table}_document",
            "document",
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
        ),
        *(Index(f"ix_{table}_{column}", column) for column in INDEXED),
    )


search_documents = documents_table(SQLModel.metadata)

search_vocabulary = Table(
    "search_vocabulary",
    SQLModel.metadata,
    Column("word", Text(), primary_key=True),
    # Two-typo candidates of long words come from trigram similarity (pg_trgm).
    Index(
        "ix_search_vocabulary_trigrams",
        "word",
        postgresql_using="gin",
        postgresql_ops={"word": "gin_trgm_ops"},
    ),
)

search_word_variants = Table(
    "search_word_variants",
    SQLModel.metadata,
    Column("variant", Text(), primary_key=True),
    Column("word", Text(), primary_key=True),
)

# Stem-level typos: each English stem of a vocabulary word under itself and each of its
# one-letter deletions, with one vocabulary word that has the stem (what a correction
# puts in the tsquery: it stems to `stem` there).
search_stem_variants = Table(
    "search_stem_variants",
    SQLModel.metadata,
    Column("variant", Text(), primary_key=True),
    Column("stem", Text(), primary_key=True),
    Column("word", Text(), nullable=False),
)
