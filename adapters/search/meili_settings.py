"""The Meilisearch index settings, applied from code at start-up (`prepare()`).

Why each is what it is:
- searchable: title before description, so the `attribute` ranking rule weighs a match in
  the title above one in the description (the PostgreSQL backend's weights A and B).
- filterable / sortable: exactly the fields services/search/port.py filters and sorts on.
- typo tolerance: one typo from 5 letters, two from 9 ("vintge camra" finds "vintage
  camera"; the issue: one typo in a word of five letters or more is always forgiven).
- ranking rules: Meilisearch's defaults with `sort` moved first, so a chosen sort orders
  every match (as on PostgreSQL) and relevance only ranks within equal sort keys; without
  a sort the rule does nothing. A final `auction_id:asc` breaks the remaining ties, as the
  port wants (`SearchAnswer`: ties by auction id ascending).
- pagination: `maxTotalHits` far above any catalogue. The server caps the `totalHits` it
  reports at this setting, and the port's total counts every match; the ids a search
  answers stay bounded by the query's `hitsPerPage` (at most the port's `MAX_RESULTS`).
- faceting: enough values per facet for every category, sorted by count.
- stop words: PostgreSQL's English list (adapters/search/meili_stop_words.py), dropped
  from documents as the embedded backend drops them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.search.meili_documents import PRIMARY_KEY
from adapters.search.meili_stop_words import STOP_WORDS
from domain.categories import CATEGORIES

SEARCHABLE = ["title", "description"]
FILTERABLE = [
    "status",
    "type",
    "condition",
    "category_path",
    "seller_id",
    "price_scaled",
    "ends_at_ms",
    "has_buy_now",
    "reserve_met",
    PRIMARY_KEY,
]
SORTABLE = ["ends_at_ms", "listed_at_ms", "price_scaled", "bid_count", PRIMARY_KEY]
RANKING_RULES = [
    "sort",
    "words",
    "typo",
    "proximity",
    "attribute",
    "exactness",
    f"{PRIMARY_KEY}:asc",
]
ONE_TYPO_FROM = 5
TWO_TYPOS_FROM = 9
# The server's cap on a reported total (see the module docstring), not on ids returned.
MAX_TOTAL_HITS = 1_000_000_000
# Headroom over today's taxonomy: a category added later still gets its count.
MAX_VALUES_PER_FACET = max(1000, len(CATEGORIES))

# Lists whose order is meaningless: compared as sets, so a server that answers them in
# another order is not told the same settings again (which would re-index every start).
_UNORDERED = {"filterableAttributes", "sortableAttributes", "stopWords"}


def index_settings() -> dict[str, Any]:
    """The settings body for Meilisearch's PATCH /indexes/{uid}/settings."""
    return {
        "searchableAttributes": list(SEARCHABLE),
        "filterableAttributes": list(FILTERABLE),
        "sortableAttributes": list(SORTABLE),
        "rankingRules": list(RANKING_RULES),
        "typoTolerance": {
            "enabled": True,
            "minWordSizeForTypos": {"oneTypo": ONE_TYPO_FROM, "twoTypos": TWO_TYPOS_FROM},
        },
        "pagination": {"maxTotalHits": MAX_TOTAL_HITS},
        "faceting": {
            "maxValuesPerFacet": MAX_VALUES_PER_FACET,
            "sortFacetValuesBy": {"*": "count"},
        },
        "stopWords": sorted(STOP_WORDS),
    }


def settings_to_change(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The part of `wanted` that `current` (GET /indexes/{uid}/settings) does not have yet;
    empty when nothing must change. Objects are compared on the keys `wanted` sets only
    (the server answers every key, defaults included)."""
    return {key: value for key, value in wanted.items() if not _same(key, current.get(key), value)}


def _rules(rules: list[Any]) -> list[str]:
    """Ranking rules with `attribute` spelled as the two rules it is made of since
    Meilisearch 1.36 (`attributeRank`, then `wordPosition`), however a server echoes it."""
    out: list[str] = []
    for rule in map(str, rules):
        out.extend(["attributeRank", "wordPosition"] if rule == "attribute" else [rule])
    return out


def _same(key: str, current: Any, wanted: Any) -> bool:
    if key == "rankingRules" and isinstance(wanted, list) and isinstance(current, list):
        return _rules(current) == _rules(wanted)
    if isinstance(wanted, Mapping):
        return isinstance(current, Mapping) and all(
            _same(k, current.get(k), v) for k, v in wanted.items()
        )
    if key in _UNORDERED and isinstance(wanted, list) and isinstance(current, list):
        return sorted(map(str, current)) == sorted(map(str, wanted))
    return bool(current == wanted)
