"""Contract: a document's own words find it, however they are joined or cased, and one
typo in an inflected form is forgiven as the form itself is (docs/search.md "Matching
and typos"). Each test writes its own documents and removes them again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services.search.port import SearchDocument, SearchFilter, SearchIndex, SearchRequest
from services.search.words import spans_of
from tests.search_contract.conftest import Corpus
from tests.search_contract.test_writes_and_privacy import made

# Words whose casefold is not their lower case ("ß" is "ss", final sigma is sigma).
OWN_WORDS = ["Straße", "Fußball", "\ufb01lm", "ΟΔΟΣ", "λόγος", "Ǆemal"]

# Runs PostgreSQL's parser keeps whole (path, host, e-mail, URL, version, hyphenated
# word, underscores): each of their words finds the title.
JOINED = [
    ("zeiss lens/camera combo", "camera"),
    ("zeiss lens/camera combo", "lens"),
    ("leica.camera rangefinder", "camera"),
    ("sony walkman.de cassette", "walkman"),
    ("gift from shop@vintage.com ok", "vintage"),
    ("walnut_oak turntable", "walnut"),
    ("see https://example.org/brass/lamp now", "brass"),
    ("mid-century armchair", "century"),
]

# (query word, title word): one typo of another inflection, which stemming alone matches.
INFLECTED_TYPOS = [
    ("camreas", "camera"),  # "cameras", e/r swapped
    ("cameraes", "camera"),  # "cameras" with an e inserted
    ("turntble", "turntables"),  # "turntable" less its a
    ("walkd", "walking"),  # "walks" with d for s
    ("photogrpahing", "photographs"),  # "photographing", p/a swapped
]


async def _only(index: SearchIndex, words: str, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """What `words` finds among `ids` (the corpus may hold the same words)."""
    request = SearchRequest(text=words, filter=SearchFilter(auction_ids=tuple(ids)), limit=50)
    return (await index.search(request)).ids


@pytest.fixture
async def written(index: SearchIndex) -> AsyncIterator[list[SearchDocument]]:
    documents: list[SearchDocument] = []
    yield documents
    await index.delete([d.auction_id for d in documents])


async def _write(index: SearchIndex, written: list[SearchDocument], doc: SearchDocument) -> None:
    written.append(doc)
    await index.upsert([doc])


@pytest.mark.parametrize("word", OWN_WORDS)
async def test_a_titles_own_word_finds_it(
    index: SearchIndex, corpus: Corpus, written: list[SearchDocument], word: str
) -> None:
    doc = made(corpus, f"Quillwort {word} poster")
    other = made(corpus, "Quillwort plain poster")
    for d in (doc, other):
        await _write(index, written, d)
    ids = [doc.auction_id, other.auction_id]
    for query in (f"{word} quillwort", f"quillwort {word}", f"{word.upper()} poster"):
        assert await _only(index, query, ids) == [doc.auction_id], query


@pytest.mark.parametrize(("title", "word"), JOINED)
async def test_every_word_of_a_joined_title_finds_it(
    index: SearchIndex, corpus: Corpus, written: list[SearchDocument], title: str, word: str
) -> None:
    doc = made(corpus, f"Quillwort {title}")
    await _write(index, written, doc)
    for query in (f"{word} quillwort", f"quillwort {word}"):
        assert await _only(index, query, [doc.auction_id]) == [doc.auction_id], query


@pytest.mark.parametrize(("word", "title_word"), INFLECTED_TYPOS)
async def test_one_typo_of_an_inflected_form_is_forgiven(
    index: SearchIndex, corpus: Corpus, written: list[SearchDocument], word: str, title_word: str
) -> None:
    doc = made(corpus, f"Quillwort {title_word} set")
    await _write(index, written, doc)
    assert await _only(index, f"{word} quillwort", [doc.auction_id]) == [doc.auction_id]


# Titles mixing what a splitter may get wrong: case beyond lower case, ligatures,
# compatibility forms, combining accents, joiners, punctuation inside runs.
MIXED_TITLES = [
    "Ǆemal İstanbul CAMERA\u0301 café",
    "½ inch x²³ Ⅷ \ufb01lm",
    "Straße/Fußball@ΟΔΟΣ.λόγος",
    "e-mail_v2.3.1 https://a.example/b?c=d#e",
    "O'Brien's mid-century (1950s) lamp",
    "\uff11\uff12\uff13 \uff57\uff49\uff44\uff45 cam\u200bera",
]


@pytest.mark.parametrize("title", MIXED_TITLES)
async def test_each_word_of_a_mixed_title_typed_back_finds_it(
    index: SearchIndex, corpus: Corpus, written: list[SearchDocument], title: str
) -> None:
    doc = made(corpus, f"Quillwort {title}", description=title)
    await _write(index, written, doc)
    for word in spans_of(title):
        query = f"{word} quillwort"
        assert await _only(index, query, [doc.auction_id]) == [doc.auction_id], query
