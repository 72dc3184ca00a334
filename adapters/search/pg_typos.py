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
"""

from __future__ import annotations

import re

ONE_TYPO_FROM = 5
TWO_TYPOS_FROM = 9
MAX_WORD = 40
TWO_DELETIONS_UP_TO = 16  # longer "words" are not corrected (no real word is that long)

_WORD = re.compile(r"[^\W_]+")


def words_of(text: str) -> list[str]:
    """The words of `text`, lower-cased (casefolded), in order: runs of letters and
    digits, as the vocabulary stores them."""
    return _WORD.findall(text.casefold())


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
