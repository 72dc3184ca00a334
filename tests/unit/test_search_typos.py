"""The embedded index's typo rule (adapters/search/pg_typos.py): one edit always found
through shared one-letter deletions, distances exact, budgets by word length."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from adapters.search import pg_query, pg_typos
from services.search.words import spans_of, words_of

WORDS = st.text(alphabet=string.ascii_lowercase, min_size=5, max_size=14)


def one_edit(draw: st.DrawFn, word: str) -> str:
    kind = draw(st.sampled_from(["insert", "delete", "substitute", "transpose"]))
    i = draw(st.integers(0, len(word) - 1))
    letter = draw(st.sampled_from(string.ascii_lowercase))
    if kind == "insert":
        return word[:i] + letter + word[i:]
    if kind == "delete":
        return word[:i] + word[i + 1 :]
    if kind == "substitute":
        return word[:i] + letter + word[i + 1 :]
    i = min(i, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


@st.composite
def typos(draw: st.DrawFn) -> tuple[str, str]:
    word = draw(WORDS)
    return word, one_edit(draw, word)


@given(typos())
def test_one_typo_is_always_found_through_the_variants(pair: tuple[str, str]) -> None:
    word, typed = pair
    if len(typed) < pg_typos.ONE_TYPO_FROM:
        return  # a query word under 5 letters forgives nothing
    # What the index stores for `word` meets what the query looks up.
    assert pg_typos.variants_of(word) & pg_typos.lookups_of(typed)
    assert pg_typos.distance(typed, word) <= 1
    assert word in pg_typos.corrections(typed, {word}) or typed == word


def test_distances() -> None:
    cases = [
        ("house", "huose", 1),
        ("house", "hose", 1),
        ("house", "houses", 1),
        ("house", "mouse", 1),
        ("camera", "camra", 1),
        ("abc", "bca", 2),
        ("harpsichord", "harpsicrod", 2),
        ("kitten", "sitting", 3),
    ]
    for a, b, d in cases:
        assert pg_typos.distance(a, b) == min(d, 3), (a, b)


def test_budgets_follow_the_word_length() -> None:
    assert [pg_typos.typo_budget("x" * n) for n in (1, 4, 5, 8, 9, 20)] == [0, 0, 1, 1, 2, 2]
    assert pg_typos.corrections("lamq", {"lamp"}) == set()
    assert pg_typos.corrections("espreso", {"espresso"}) == {"espresso"}
    assert pg_typos.corrections("expreso", {"espresso"}) == set()  # two typos, 7 letters
    assert pg_typos.corrections("harpsicrod", {"harpsichord"}) == {"harpsichord"}


def test_words_are_letters_and_digits_lower_cased() -> None:
    assert pg_typos.words_of("Leica M6, 1986 — Café_noir!") == [
        "leica",
        "m6",
        "1986",
        "café",
        "noir",
    ]


def test_text_query_ands_words_ors_corrections_and_prefixes_the_last() -> None:
    q = pg_query.text_query(["vintge", "camra"], [{"vintage"}, {"camera", "cobra"}])
    assert q.matches == "('vintge' | 'vintage') & ('camra':* | 'camera' | 'cobra')"
    assert q.exact == ("'vintge'", "'camra':*")


def test_words_are_normalised_alike_for_documents_and_queries() -> None:
    # NFKC + casefold: what the tsvector, the vocabulary and a query all hold.
    assert words_of("Straße FUSSBALL ﬁlm ΟΔΟΣ λόγος x²") == [
        "strasse",
        "fussball",
        "film",
        "οδοσ",
        "λόγοσ",
        "x2",
    ]
    assert words_of("Straße") == words_of("STRASSE") == words_of("strasse")
    assert words_of("camera\u0301") == words_of("camerá")  # composed either way


def test_paths_hosts_and_addresses_are_their_words() -> None:
    assert words_of("lens/camera walkman.de shop@vintage.com walnut_oak v2.3") == [
        "lens",
        "camera",
        "walkman",
        "de",
        "shop",
        "vintage",
        "com",
        "walnut",
        "oak",
        "v2",
        "3",
    ]


def test_spans_keep_the_words_as_written() -> None:
    assert spans_of("Straße, lens/camera") == ["Straße", "lens", "camera"]
    assert [w.casefold() for w in spans_of("Walnut Turntable")] == words_of("Walnut Turntable")


def test_stem_corrections_use_the_typed_words_budget() -> None:
    # "camreas" stems to "camrea": one typo from "camera" (the stem of "cameras").
    assert pg_typos.stem_corrections("camreas", "camrea", {"camera": "cameras"}) == {"cameras"}
    # "walkd" (5 letters: one typo) against the 4-letter stem "walk".
    assert pg_typos.stem_corrections("walkd", "walkd", {"walk": "walking"}) == {"walking"}
    assert pg_typos.stem_corrections("walk", "walk", {"wall": "walls"}) == set()  # 4 letters
    assert pg_typos.stem_corrections("camreas", None, {"camera": "cameras"}) == set()
    assert pg_typos.stem_corrections("cameras", "camera", {"camera": "camera"}) == set()
    assert pg_typos.stem_corrections("camrreas", "camrrea", {"camera": "camera"}) == set()


@given(typos())
def test_one_typo_of_a_stem_is_always_found_through_its_variants(pair: tuple[str, str]) -> None:
    stem, typed = pair
    assert pg_typos.stem_variants_of(stem) & pg_typos.stem_lookups_of(typed, "x" * 5)
