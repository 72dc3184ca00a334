"""The embedded search index on PostgreSQL (the default when MEILI_URL is not set).

Documents live in `search_documents` (storage/search_tables.py) with a stored weighted
tsvector (GIN); typo tolerance comes from `search_vocabulary` and its one-deletion
variants (adapters/search/pg_typos.py). Ranking, filters and facets are
adapters/search/pg_query.py's. docs/search.md says what is matched and forgiven.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import ColumnElement, MetaData, Table, delete, func, select, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.search import pg_query, pg_typos
from services.search.port import Facets, Progress, SearchAnswer, SearchDocument, SearchRequest
from storage.search_tables import (
    DOCUMENTS,
    documents_table,
    search_stem_variants,
    search_vocabulary,
    search_word_variants,
)
from storage.search_tables import search_documents as docs

BUILD_SUFFIX = "_build"
KNOWN_WORDS_CACHED = 200_000  # words this process knows the vocabulary holds
TWO_TYPO_SIMILARITY = 0.2  # pg_trgm threshold for two-typo candidates (then verified)
REBUILD_LOCK = 0x5EA4C4_0010  # pg_advisory_lock key of the rebuild (any bigint, fixed)


_WRITTEN = [c for c in docs.columns if c.name != "document"]  # `document` is computed


def _array_of(column: ColumnElement[Any]) -> str:
    dialect = asyncpg_dialect()  # type: ignore[no-untyped-call]  # unannotated in sqlalchemy
    sql_type = column.type.compile(dialect=dialect)
    return f"CAST(:{column.name} AS {sql_type}[])"


# One statement of fixed text for any batch: the rows travel as one array per column
# (asyncpg encodes them in C), so the statement is prepared once and nothing is
# compiled per row; a multi-row VALUES was compiled by SQLAlchemy for every batch.
_UPSERT = text(
    f"INSERT INTO {DOCUMENTS} ({', '.join(c.name for c in _WRITTEN)})"
    f" SELECT * FROM unnest({', '.join(_array_of(c) for c in _WRITTEN)})"
    " ON CONFLICT (auction_id) DO UPDATE SET "
    + ", ".join(f"{c.name} = excluded.{c.name}" for c in _WRITTEN if c.name != "auction_id")
)
# The new words come back with their English stem (NULL for a stop word), computed by
# the dictionary a tsquery uses, so both sides stem alike.
_NEW_WORDS = text(
    f"INSERT INTO {search_vocabulary.name} (word) SELECT unnest(CAST(:words AS text[]))"
    " ON CONFLICT DO NOTHING"
    " RETURNING word, (ts_lexize('english_stem', word))[1]"
)
_NEW_VARIANTS = text(
    f"INSERT INTO {search_word_variants.name} (variant, word)"
    " SELECT * FROM unnest(CAST(:variants AS text[]), CAST(:words AS text[]))"
    " ON CONFLICT DO NOTHING"
)
_NEW_STEM_VARIANTS = text(
    f"INSERT INTO {search_stem_variants.name} (variant, stem, word)"
    " SELECT * FROM unnest(CAST(:variants AS text[]), CAST(:stems AS text[]),"
    " CAST(:words AS text[]))"
    " ON CONFLICT DO NOTHING"
)
# Each query word's English stem (NULL: none) and whether the `english` configuration
# drops it (a stop word, or nothing its parser keeps).
_QUERY_STEMS = text(
    "SELECT w, (ts_lexize('english_stem', w))[1],"
    " numnode(plainto_tsquery('english'::regconfig, w)) = 0"
    " FROM unnest(CAST(:words AS text[])) AS w"
)
_CANDIDATES = text(
    f"SELECT variant, word, NULL FROM {search_word_variants.name}"
    " WHERE variant = ANY(CAST(:variants AS text[]))"
    f" UNION ALL SELECT variant, word, stem FROM {search_stem_variants.name}"
    " WHERE variant = ANY(CAST(:stem_variants AS text[]))"
)
STEMS_CACHED = 100_000  # query words whose stem this process knows
# A search plans each statement for its own values. asyncpg prepares every statement and
# PostgreSQL switches a prepared statement to a generic plan (bounds unknown) after five
# runs: for some filters (a price range in a small category) that plan cost 150 ms where
# the plan for the values costs 20 ms (docs/performance.md "Search (issue 16)"). LOCAL:
# the rest of the app, whose statements gain from cached plans, keeps the default.
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")


class RebuildRunning(RuntimeError):
    """Another rebuild of this index is in progress."""


def _row(document: SearchDocument) -> dict[str, Any]:
    row = asdict(document)
    for name in ("condition", "type", "status"):
        row[name] = row[name].value
    row["title_words"] = " ".join(pg_typos.words_of(document.title))
    row["description_words"] = " ".join(pg_typos.words_of(document.description))
    return row


class PostgresSearchIndex:
    """`SearchIndex` (services/search/port.py) on the app's PostgreSQL `engine`."""

    name = "postgres"

    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self._known_words: set[str] = set()
        # word -> (its English stem or None, whether the `english` configuration drops it)
        self._stems: dict[str, tuple[str | None, bool]] = {}

    async def prepare(self) -> None:
        # The migrations create the tables; this only proves they are there.
        async with self._engine.connect() as conn:
            await conn.execute(select(docs.c.auction_id).limit(0))

    async def upsert(self, documents: Sequence[SearchDocument]) -> None:
        if not documents:
            return
        async with self._engine.begin() as conn:
            await self._write(conn, documents)
            await self._learn_words(conn, documents)

    async def delete(self, auction_ids: Sequence[uuid.UUID]) -> None:
        if not auction_ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(delete(docs).where(docs.c.auction_id.in_(list(auction_ids))))

    async def count(self) -> int:
        async with self._engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(docs))).scalar_one())

    async def close(self) -> None:
        """Nothing to close: the engine is the composition root's."""

    async def search(self, request: SearchRequest) -> SearchAnswer:
        words = pg_typos.words_of(request.text or "")[: pg_query.MAX_QUERY_WORDS]
        async with self._engine.connect() as conn:
            await conn.execute(_CUSTOM_PLANS)
            query = None
            if words:
                words, fixes = await self._corrections(conn, words)
                if words:  # else only stop words: as if no text was given
                    query = pg_query.text_query(words, fixes)
            where = pg_query.conditions(request.filter, query)
            ids = (
                await conn.execute(pg_query.ids_query(where, request.sort, query, request.limit))
            ).scalars()
            found = list(ids)
            total = len(found)
            facets = None
            if request.facets:
                rows = list(await conn.execute(pg_query.facets_query(where)))
                facets = self._facets(rows)
                if total == request.limit:  # there may be more than were asked for
                    total = pg_query.total_of_facets(rows, request.filter)
            elif total == request.limit:
                total = int((await conn.execute(pg_query.total_query(where))).scalar_one())
        return SearchAnswer(ids=found, total=total, facets=facets)

    async def rebuild(
        self, batches: AsyncIterator[Sequence[SearchDocument]], progress: Progress
    ) -> int:
        """The port's rebuild. Raises RebuildRunning when another rebuild (any process)
        holds the build table: two would drop each other's work."""
        async with self._engine.connect() as guard:
            # A session lock: held while `guard` is open, freed if this process dies.
            locked = await guard.scalar(select(func.pg_try_advisory_lock(REBUILD_LOCK)))
            await guard.commit()
            if not locked:
                raise RebuildRunning("a search index rebuild is already running")
            try:
                return await self._rebuild(batches, progress)
            finally:
                await guard.execute(select(func.pg_advisory_unlock(REBUILD_LOCK)))
                await guard.commit()

    async def _rebuild(
        self, batches: AsyncIterator[Sequence[SearchDocument]], progress: Progress
    ) -> int:
        build = documents_table(MetaData(), BUILD_SUFFIX)
        bare = documents_table(MetaData(), BUILD_SUFFIX, indexes=False)
        async with self._engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {build.name}"))
            await conn.run_sync(bare.create)
        written = 0
        columns = [c.name for c in bare.columns if c.name != "document"]
        async for batch in batches:
            async with self._engine.begin() as conn:
                # COPY: the build table is new; the batches hold each auction once.
                rows = {d.auction_id: _row(d) for d in batch}.values()
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None
                await raw.copy_records_to_table(
                    bare.name, records=[tuple(r[c] for c in columns) for r in rows], columns=columns
                )
                await self._learn_words(conn, batch)
            written += len(batch)
            progress(len(batch))
        # Indexes after loading: one sort each instead of a GIN update per row.
        async with self._engine.begin() as conn:
            for index in build.indexes:
                await conn.run_sync(index.create)
            await conn.execute(text(f"ANALYZE {build.name}"))
        await self._swap(build)
        return written

    async def _swap(self, build: Table) -> None:
        """The built table becomes `search_documents` in one short transaction; searches
        wait for its lock, none sees a missing or half-built index."""
        prefix = f"ix_{build.name}"
        renames = [
            f"ALTER INDEX {ix.name} RENAME TO ix_{DOCUMENTS}{str(ix.name).removeprefix(prefix)}"
            for ix in build.indexes
        ]
        async with self._engine.begin() as conn:
            await conn.execute(text(f"LOCK TABLE {DOCUMENTS} IN ACCESS EXCLUSIVE MODE"))
            await conn.execute(text(f"DROP TABLE {DOCUMENTS}"))
            await conn.execute(text(f"ALTER TABLE {build.name} RENAME TO {DOCUMENTS}"))
            await conn.execute(
                text(f"ALTER TABLE {DOCUMENTS} RENAME CONSTRAINT pk_{build.name} TO pk_{DOCUMENTS}")
            )
            for statement in renames:
                await conn.execute(text(statement))

    async def _write(self, conn: AsyncConnection, documents: Sequence[SearchDocument]) -> None:
        # The last of several versions of one auction in a batch wins; rows go in id
        # order, so two writers of overlapping batches lock them in the same order.
        latest = {d.auction_id: d for d in documents}
        rows = [_row(latest[i]) for i in sorted(latest)]
        await conn.execute(_UPSERT, {c.name: [r[c.name] for r in rows] for c in _WRITTEN})

    async def _learn_words(
        self, conn: AsyncConnection, documents: Sequence[SearchDocument]
    ) -> None:
        """Add the documents' new words (and their variants) to the vocabulary. Words only
        ever join it: a word no document holds any more can only suggest a correction
        that matches nothing; a rebuild starts from the same vocabulary."""
        words = {
            w
            for d in documents
            for w in pg_typos.words_of(f"{d.title} {d.description}")
            if len(w) <= pg_typos.MAX_WORD
        } - self._known_words
        if not words:
            return
        added = list(await conn.execute(_NEW_WORDS, {"words": sorted(words)}))
        pairs = [(v, w) for w, _ in added for v in pg_typos.variants_of(w)]
        if pairs:
            await conn.execute(
                _NEW_VARIANTS,
                {"variants": [v for v, _ in pairs], "words": [w for _, w in pairs]},
            )
        stems = [(v, stem, w) for w, stem in added if stem for v in pg_typos.stem_variants_of(stem)]
        if stems:
            await conn.execute(
                _NEW_STEM_VARIANTS,
                {
                    "variants": [v for v, _, _ in stems],
                    "stems": [s for _, s, _ in stems],
                    "words": [w for _, _, w in stems],
                },
            )
        if len(self._known_words) + len(words) > KNOWN_WORDS_CACHED:
            self._known_words.clear()
        self._known_words |= words

    async def _corrections(
        self, conn: AsyncConnection, words: list[str]
    ) -> tuple[list[str], list[set[str]]]:
        """The query's words without stop words (the `english` configuration drops
        them from documents, so they can match nothing, and a correction of one must
        not stand in for it), and each word's corrections (pg_typos's rule: vocabulary
        words within the typo budget of the word, or whose stem is within it of the
        word's stem). One statement (plus one for the stems of words not seen before),
        plus one trigram lookup per word of 9+ letters."""
        stems = await self._stems_of(conn, words)
        wanted: dict[str, set[int]] = defaultdict(set)
        stem_wanted: dict[str, set[int]] = defaultdict(set)
        for position, word in enumerate(words):
            if pg_typos.typo_budget(word) and len(word) <= pg_typos.MAX_WORD:
                for lookup in pg_typos.lookups_of(word):
                    wanted[lookup].add(position)
                stem = stems[word][0]
                if stem:
                    for lookup in pg_typos.stem_lookups_of(stem, word):
                        stem_wanted[lookup].add(position)
        candidates: list[set[str]] = [set() for _ in words]
        stem_candidates: list[dict[str, str]] = [{} for _ in words]  # stem -> a word of it
        if wanted:
            rows = await conn.execute(
                _CANDIDATES, {"variants": list(wanted), "stem_variants": list(stem_wanted)}
            )
            for variant, word, stem in rows:
                if stem is None:
                    for position in wanted[variant]:
                        candidates[position].add(word)
                else:
                    for position in stem_wanted[variant]:
                        stem_candidates[position].setdefault(stem, word)
        stop = {w for w in words if stems[w][1]}
        long_words = [w for w in words if pg_typos.typo_budget(w) >= 2]
        if long_words:
            await conn.execute(
                text("SELECT set_config('pg_trgm.similarity_threshold', :t, true)"),
                {"t": str(TWO_TYPO_SIMILARITY)},
            )
            for position, word in enumerate(words):
                if word in long_words:
                    similar = await conn.execute(
                        select(search_vocabulary.c.word).where(
                            search_vocabulary.c.word.op("%")(word)
                        )
                    )
                    candidates[position] |= set(similar.scalars())
        fixes = [
            pg_typos.corrections(w, c)
            | pg_typos.stem_corrections(w, stems[w][0], stem_candidates[position])
            for position, (w, c) in enumerate(zip(words, candidates, strict=True))
        ]
        kept = [(w, f) for w, f in zip(words, fixes, strict=True) if w not in stop]
        return [w for w, _ in kept], [f for _, f in kept]

    async def _stems_of(
        self, conn: AsyncConnection, words: list[str]
    ) -> dict[str, tuple[str | None, bool]]:
        """Each word's (English stem, dropped by the `english` configuration), from
        PostgreSQL's own dictionary (one statement for the words this process has not
        seen yet; a warm query costs none)."""
        # Read from the cache before awaiting: another search may clear it meanwhile.
        found = {w: self._stems[w] for w in words if w in self._stems}
        unknown = sorted(set(words) - found.keys())
        if unknown:
            rows = list(await conn.execute(_QUERY_STEMS, {"words": unknown}))
            if len(self._stems) + len(rows) > STEMS_CACHED:
                self._stems.clear()
            for word, stem, dropped in rows:
                found[word] = self._stems[word] = (stem, bool(dropped))
        return found

    @staticmethod
    def _facets(rows: Iterable[Any]) -> Facets:
        counts: dict[str, dict[str, int]] = {"category": {}, "type": {}, "condition": {}}
        for facet, value, count in rows:
            if facet == "category":
                parts = value.split("/")
                for depth in range(1, len(parts) + 1):
                    path = "/".join(parts[:depth])
                    counts[facet][path] = counts[facet].get(path, 0) + count
            else:
                counts[facet][value] = count
        return Facets(
            category=counts["category"], type=counts["type"], condition=counts["condition"]
        )
