"""Contract: upsert replaces, delete removes, rebuild swaps while searches keep
answering, exact words rank above corrected ones, and sealed amounts never show."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

import pytest
from sqlalchemy import text

from adapters.search.postgres import PostgresSearchIndex, RebuildRunning
from domain.enums import AuctionSort, AuctionStatus, AuctionType
from domain.money import CURRENCY_EXPONENTS
from services.search.port import (
    MAX_RESULTS,
    SearchDocument,
    SearchFilter,
    SearchIndex,
    SearchRequest,
    scaled_price,
)
from tests.search_contract.conftest import Corpus


def made(
    corpus: Corpus, title: str, description: str = "Made by the contract suite."
) -> SearchDocument:
    return replace(
        corpus.documents[-1],
        auction_id=uuid.uuid4(),
        title=title,
        description=description,
        status=AuctionStatus.ACTIVE,
    )


async def found(index: SearchIndex, words: str) -> list[uuid.UUID]:
    return (await index.search(SearchRequest(text=words, filter=SearchFilter(), limit=50))).ids


async def test_upsert_replaces_and_delete_removes(index: SearchIndex, corpus: Corpus) -> None:
    doc = made(corpus, "Quokka lantern")
    await index.upsert([doc])
    try:
        assert await found(index, "quokka") == [doc.auction_id]
        await index.upsert([replace(doc, title="Wombat lantern", bid_count=7)])
        assert await found(index, "quokka") == []
        assert await found(index, "wombat") == [doc.auction_id]
        answer = await index.search(
            SearchRequest(
                text="wombat", filter=SearchFilter(), sort=AuctionSort.MOST_BIDS, facets=True
            )
        )
        assert answer.total == 1 and answer.facets is not None
        assert sum(answer.facets.type.values()) == 1
    finally:
        await index.delete([doc.auction_id, uuid.uuid4()])  # unknown ids are ignored
    assert await found(index, "wombat") == []


async def test_exact_words_rank_above_corrected_ones(index: SearchIndex, corpus: Corpus) -> None:
    # The corrected one says its word twice and in the title: it still comes second.
    typo = made(corpus, "Zorblex zorblex kettle", "zorblex")
    exact = made(corpus, "Old kettle", "A zorblax inside.")
    await index.upsert([typo, exact])
    try:
        assert await found(index, "zorblax") == [exact.auction_id, typo.auction_id]
        assert await found(index, "zorblex") == [typo.auction_id, exact.auction_id]
    finally:
        await index.delete([typo.auction_id, exact.auction_id])


async def test_a_new_word_is_corrected_as_soon_as_it_is_indexed(
    index: SearchIndex, corpus: Corpus
) -> None:
    doc = made(corpus, "Gramophone with brass horn")
    assert await found(index, "gramofone") == []
    await index.upsert([doc])
    try:
        assert await found(index, "gramofone") == [doc.auction_id]
    finally:
        await index.delete([doc.auction_id])


async def test_rebuild_swaps_in_a_new_index_while_searches_keep_answering(
    index: SearchIndex, corpus: Corpus
) -> None:
    stale = made(corpus, "Stale listing of a platypus")
    await index.upsert([stale])
    before = await index.search(
        SearchRequest(text="vintage", filter=SearchFilter(), limit=MAX_RESULTS)
    )
    answered: list[int] = []
    reading = asyncio.Event()

    async def batches() -> AsyncIterator[Sequence[SearchDocument]]:
        for start in range(0, len(corpus.documents), 300):
            # Searches during the build see the old index, the stale document included.
            answered.append(len(await found(index, "platypus")))
            reading.set()
            yield corpus.documents[start : start + 300]

    written: list[int] = []
    total = await index.rebuild(batches(), written.append)
    assert total == len(corpus.documents) == sum(written)
    assert answered and set(answered) == {1}
    assert await found(index, "platypus") == []  # the new index has only what was given
    assert await index.count() == len(corpus.documents)
    after = await index.search(
        SearchRequest(text="vintage", filter=SearchFilter(), limit=MAX_RESULTS)
    )
    assert after == before
    # And it is a working index: writes land in it.
    doc = made(corpus, "Platypus after the swap")
    await index.upsert([doc])
    assert await found(index, "platypus") == [doc.auction_id]
    await index.delete([doc.auction_id])


async def _hidden_sealed(corpus: Corpus) -> tuple[SearchDocument, int]:
    """An open sealed auction of the corpus whose row holds a hidden bid above its start."""
    async with corpus.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, current_price FROM auctions WHERE status = 'ACTIVE'"
                    " AND type IN ('SEALED_FIRST_PRICE','SEALED_SECOND_PRICE')"
                    " AND current_price > starting_price * 3 ORDER BY id LIMIT 1"
                )
            )
        ).all()
    assert rows, "the corpus has a sealed auction with a high hidden bid"
    auction_id, hidden = rows[0]
    return corpus.by_id()[auction_id], hidden


async def test_sealed_amounts_stay_hidden_in_filters_sorts_and_facets(
    index: SearchIndex, corpus: Corpus
) -> None:
    doc, hidden = await _hidden_sealed(corpus)
    assert doc.type in (AuctionType.SEALED_FIRST_PRICE, AuctionType.SEALED_SECOND_PRICE)
    assert doc.status is AuctionStatus.ACTIVE
    hidden_scaled = scaled_price(hidden, CURRENCY_EXPONENTS[doc.currency])
    assert doc.price_scaled < hidden_scaled
    only = SearchFilter(auction_ids=(doc.auction_id,))

    async def total(f: SearchFilter) -> tuple[int, int]:
        answer = await index.search(SearchRequest(text=None, filter=f, facets=True))
        assert answer.facets is not None
        return answer.total, sum(answer.facets.type.values())

    # Found by its public price, never by the hidden bid.
    assert await total(replace(only, max_price_scaled=doc.price_scaled)) == (1, 1)
    assert await total(replace(only, min_price_scaled=doc.price_scaled + 1)) == (0, 0)
    assert await total(replace(only, min_price_scaled=hidden_scaled)) == (0, 0)
    # Sorted by its public price among auctions priced like its hidden bid.
    f = SearchFilter(max_price_scaled=hidden_scaled, min_price_scaled=doc.price_scaled)
    ordered = await index.search(
        SearchRequest(text=None, filter=f, sort=AuctionSort.PRICE_DESC, limit=MAX_RESULTS)
    )
    by_id = corpus.by_id()
    prices = [by_id[i].price_scaled for i in ordered.ids]
    assert prices == sorted(prices, reverse=True)
    assert by_id[ordered.ids[-1]].price_scaled == doc.price_scaled
    assert doc.auction_id in ordered.ids[-sum(p == doc.price_scaled for p in prices) :]


async def test_a_second_rebuild_at_once_is_refused(corpus: Corpus) -> None:
    """PostgreSQL adapter only: two rebuilds would drop each other's build table."""
    first, second = PostgresSearchIndex(corpus.engine), PostgresSearchIndex(corpus.engine)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow() -> AsyncIterator[Sequence[SearchDocument]]:
        started.set()
        await release.wait()
        yield corpus.documents

    async def nothing() -> AsyncIterator[Sequence[SearchDocument]]:
        yield corpus.documents

    running = asyncio.create_task(first.rebuild(slow(), lambda n: None))
    await started.wait()
    try:
        with pytest.raises(RebuildRunning):
            await second.rebuild(nothing(), lambda n: None)
    finally:
        release.set()
        assert await running == len(corpus.documents)
    assert await second.rebuild(nothing(), lambda n: None) == len(corpus.documents)


async def test_a_stop_word_never_stands_for_its_correction(
    index: SearchIndex, corpus: Corpus
) -> None:
    # "other" is one typo from "otter"; as a query word it must not turn into "otter".
    otter = made(corpus, "Otter figurine", "A carved otter.")
    lamp = made(corpus, "Quillwort lamp", "A lamp like no other.")
    await index.upsert([otter, lamp])
    try:
        assert await found(index, "other quillwort") == [lamp.auction_id]
        assert await found(index, "the quillwort lamp") == [lamp.auction_id]
    finally:
        await index.delete([otter.auction_id, lamp.auction_id])
