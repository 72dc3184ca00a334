"""Meilisearch index settings from code (adapters/search/meili_settings.py), and the
compare-then-update that keeps `prepare()` idempotent."""

from __future__ import annotations

import copy
from typing import Any

from adapters.search.meili_queries import SORTS, Facet
from adapters.search.meili_settings import (
    FILTERABLE,
    SORTABLE,
    index_settings,
    settings_to_change,
)
from adapters.search.meili_stop_words import STOP_WORDS
from domain.categories import CATEGORIES
from services.search.port import MAX_RESULTS

# What GET /indexes/{uid}/settings answers for an index with our settings: every key,
# defaults included, lists maybe in another order.
SERVER_ANSWER: dict[str, Any] = {
    "displayedAttributes": ["*"],
    "searchableAttributes": ["title", "description"],
    "filterableAttributes": sorted(FILTERABLE),
    "sortableAttributes": sorted(SORTABLE, reverse=True),
    "rankingRules": [
        "sort",
        "words",
        "typo",
        "proximity",
        "attribute",
        "exactness",
        "auction_id:asc",
    ],
    "stopWords": sorted(STOP_WORDS, reverse=True),
    "nonSeparatorTokens": [],
    "separatorTokens": [],
    "dictionary": [],
    "synonyms": {},
    "distinctAttribute": None,
    "proximityPrecision": "byWord",
    "typoTolerance": {
        "enabled": True,
        "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
        "disableOnWords": [],
        "disableOnAttributes": [],
        "disableOnNumbers": False,
    },
    "faceting": {"maxValuesPerFacet": 1000, "sortFacetValuesBy": {"*": "count"}},
    "pagination": {"maxTotalHits": 1_000_000_000},
    "searchCutoffMs": None,
}
# A fresh index: Meilisearch's defaults.
FRESH_INDEX: dict[str, Any] = {
    "displayedAttributes": ["*"],
    "searchableAttributes": ["*"],
    "filterableAttributes": [],
    "sortableAttributes": [],
    "rankingRules": ["words", "typo", "proximity", "attribute", "sort", "exactness"],
    "typoTolerance": {
        "enabled": True,
        "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
        "disableOnWords": [],
        "disableOnAttributes": [],
    },
    "faceting": {"maxValuesPerFacet": 100, "sortFacetValuesBy": {"*": "alpha"}},
    "pagination": {"maxTotalHits": 1000},
    "stopWords": [],
}


def test_the_settings_say_what_search_needs():
    wanted = index_settings()
    assert wanted["searchableAttributes"] == ["title", "description"]  # title weighs more
    assert set(wanted["filterableAttributes"]) == {
        "status",
        "type",
        "condition",
        "category_path",
        "seller_id",
        "price_scaled",
        "ends_at_ms",
        "has_buy_now",
        "reserve_met",
        "auction_id",
    }
    assert set(wanted["sortableAttributes"]) == {
        "ends_at_ms",
        "listed_at_ms",
        "price_scaled",
        "bid_count",
        "auction_id",
    }
    assert wanted["typoTolerance"]["minWordSizeForTypos"] == {"oneTypo": 5, "twoTypos": 9}
    assert wanted["typoTolerance"]["enabled"] is True
    # A chosen sort first, relevance after it, and the id last: ties are stable.
    assert wanted["rankingRules"][0] == "sort"
    assert wanted["rankingRules"][-1] == "auction_id:asc"
    assert {"words", "typo", "proximity", "attribute", "exactness"} <= set(wanted["rankingRules"])
    # The server reports min(matches, maxTotalHits) as the total: the port's total counts
    # every match, so the cap is far above any catalogue (ids stay bounded per query).
    assert wanted["pagination"]["maxTotalHits"] >= 1_000_000 * MAX_RESULTS
    assert wanted["faceting"]["maxValuesPerFacet"] >= len(CATEGORIES)


def test_every_attribute_filtered_sorted_or_faceted_on_is_declared():
    sorted_on = {rule.split(":")[0] for rules in SORTS.values() for rule in rules}
    assert sorted_on <= set(SORTABLE)
    assert {facet.value for facet in Facet} <= set(FILTERABLE)  # facets need filterable


def test_an_index_that_has_the_settings_is_left_alone():
    assert settings_to_change(SERVER_ANSWER, index_settings()) == {}


def test_a_fresh_index_gets_everything_it_lacks():
    change = settings_to_change(FRESH_INDEX, index_settings())
    assert set(change) == {
        "stopWords",
        "pagination",
        "searchableAttributes",
        "filterableAttributes",
        "sortableAttributes",
        "rankingRules",
        "faceting",
    }
    assert change["faceting"] == index_settings()["faceting"]


def test_one_setting_changed_by_hand_is_put_back_alone():
    server = copy.deepcopy(SERVER_ANSWER)
    server["typoTolerance"]["minWordSizeForTypos"]["oneTypo"] = 4
    server["rankingRules"] = list(reversed(server["rankingRules"]))  # order matters here
    change = settings_to_change(server, index_settings())
    assert set(change) == {"typoTolerance", "rankingRules"}
    missing = copy.deepcopy(SERVER_ANSWER)
    missing["filterableAttributes"] = [a for a in FILTERABLE if a != "reserve_met"]
    assert set(settings_to_change(missing, index_settings())) == {"filterableAttributes"}


def test_a_server_that_spells_attribute_as_its_two_rules_is_left_alone():
    server = copy.deepcopy(SERVER_ANSWER)
    rules = server["rankingRules"]
    at = rules.index("attribute")
    server["rankingRules"] = [*rules[:at], "attributeRank", "wordPosition", *rules[at + 1 :]]
    assert settings_to_change(server, index_settings()) == {}
    server["rankingRules"] = [*rules[:at], "wordPosition", "attributeRank", *rules[at + 1 :]]
    assert set(settings_to_change(server, index_settings())) == {"rankingRules"}


def test_stop_words_are_postgresql_english_list():
    stop = set(index_settings()["stopWords"])
    assert len(stop) == 127  # tsearch_data/english.stop
    assert {"the", "with", "other", "s", "t", "don"} <= stop
    assert not {"camera", "vintage", "walnut"} & stop
