"""Typo tolerance of the embedded index: which words a query word may stand for.

The rule (Meilisearch's defaults, docs/search.md "Typos"): a query word of 5 to 8
letters forgives one typo, of 9 or more two, shorter ones none. A typo is one letter
inserted, deleted or replaced, or two neighbours swapped (optimal string alignment
distance, "Damerau-Levenshtein" as search engines use the word).

One typo is found exactly: every word one edit from `w` shares a one-letter deletion
with `w` or is one (SymSpell), and `search_word_variants` lists each vocabulary word
under itself and its deletions; the candidates are then checked with `distance`. Two
typos add trigram-similar words (pg_trgm), also checked, so a very mangled long word
may be missed, never a wrong one taken.

Inflections: the same rule also holds between English stems (PostgreSQL's
`english_stem`, the dictionary the tsvector uses): a query word whose stem is within
the word's budget of a vocabulary word's stem is corrected to that word, so "camreas"
(one typo of "cameras") finds "camera", as "cameras" does by stemming. The budget is
always the typed word's; `search_stem_variants` lists each stem under its deletions.
"""

from __future__ import annotations

from services.search.words import words_of

__all__ = ["words_of"]  # the query's words: the documents' and the vocabulary's splitter

ONE_TYPO_FROM = 5
TWO_TYPOS_FROM = 9
MAX_WORD = 40
TWO_DELETIONS_UP_TO = 16  # longer "words" are not corrected (no real word is that long)


def typo_budget(word: str) -> int:
    """How many typos a query word forgives (0, 1 or 2)."""
    if len(word) >= TWO_TYPOS_FROM:
        return 2
    return 1 if len(word) >= ONE_TYPO_FROM else 0


def deletions(word: str) -> set[str]:
    """`word` with one letter left out, each way."""
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def variants_of(word: str) -> set[str]:
    """What a vocabulary word is listed under: itself and its deletions (words under
    ONE_TYPO_FROM - 1 letters only under themselves: no query word they could be one
    typo from is allowed a typo)."""
    if len(word) < ONE_TYPO_FROM - 1 or len(word) > MAX_WORD:
        return {word}
    return {word} | deletions(word)


def lookups_of(word: str) -> set[str]:
    """The variants to look a query word up under: itself and its deletions, plus its
    two-letter deletions when it forgives two typos (up to TWO_DELETIONS_UP_TO letters:
    a longer word has hundreds; trigram similarity finds its candidates)."""
    found = {word} | deletions(word)
    if typo_budget(word) >= 2 and len(word) <= TWO_DELETIONS_UP_TO:
        found |= {d for one in deletions(word) for d in deletions(one)}
    return found


def distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal string alignment distance of `a` and `b`, or `limit + 1` once it is
    known to exceed `limit` (cheap on the few candidates it checks)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, previous2[j - 2] + 1)
            current[j] = best
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[len(b)], limit + 1)


def corrections(word: str, candidates: set[str]) -> set[str]:
    """The candidates within `word`'s typo budget, other than `word` itself."""
    budget = typo_budget(word)
    if budget == 0 or len(word) > MAX_WORD:
        return set()
    return {c for c in candidates if c != word and distance(word, c, budget) <= budget}


def stem_variants_of(stem: str) -> set[str]:
    """What a vocabulary word's English stem is listed under: itself and its deletions,
    whatever its length (the budget is the typed word's, which may be longer)."""
    if len(stem) < 2 or len(stem) > MAX_WORD:
        return {stem}
    return {stem} | deletions(stem)


def stem_lookups_of(stem: str, word: str) -> set[str]:
    """The variants to look the stem of query word `word` up under, within `word`'s
    budget (two-letter deletions as `lookups_of`)."""
    found = {stem} | deletions(stem)
    if typo_budget(word) >= 2 and len(stem) <= TWO_DELETIONS_UP_TO:
        found |= {d for one in deletions(stem) for d in deletions(one)}
    return found


def stem_corrections(word: str, stem: str | None, candidates: dict[str, str]) -> set[str]:
    """Stem-level corrections of query word `word` whose English stem is `stem`: for
    each candidate stem within `word`'s typo budget of `stem` (other than `stem`, which
    the word matches by stemming alone), the vocabulary word `candidates` gives for it
    (it stems to that stem in the tsquery). "camreas" (stem "camrea") gets "camera"."""
    budget = typo_budget(word)
    if budget == 0 or stem is None or len(word) > MAX_WORD:
        return set()
    return {w for s, w in candidates.items() if s != stem and distance(stem, s, budget) <= budget}
