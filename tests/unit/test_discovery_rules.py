"""Discovery's pure rules (domain/discovery.py): the trending decay and how
recommendations are merged and explained."""

from __future__ import annotations

import math
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.discovery import (
    Activity,
    Pick,
    RecommendationReason,
    SeedSource,
    TrendingPolicy,
    category_chain,
    decayed,
    increment,
    merge_picks,
)

HALF_LIFE = 3600.0


def test_an_activity_one_half_life_older_counts_half():
    epoch = 1_000.0
    old = increment(1.0, epoch, epoch, HALF_LIFE)
    new = increment(1.0, epoch + HALF_LIFE, epoch, HALF_LIFE)
    assert new == pytest.approx(2 * old)
    now = epoch + HALF_LIFE
    assert decayed(old, epoch, now, HALF_LIFE) == pytest.approx(0.5)
    assert decayed(new, epoch, now, HALF_LIFE) == pytest.approx(1.0)


activity = st.tuples(
    st.floats(min_value=0.1, max_value=10), st.floats(min_value=0, max_value=10 * HALF_LIFE)
)


@given(st.lists(activity, max_size=8), st.lists(activity, max_size=8), st.floats(0, 20 * 3600))
def test_kept_sums_rank_like_the_decayed_scores_whatever_the_epoch(a, b, shift):
    """Sums of increments, read at any later moment, order auctions exactly as the sums
    of each activity's weight halved per half-life since it happened; moving the epoch
    (a re-base) scales every sum alike."""
    now = 11 * HALF_LIFE

    def reference(acts: list[tuple[float, float]]) -> float:
        return float(sum(w * 0.5 ** ((now - t) / HALF_LIFE) for w, t in acts))

    for epoch in (0.0, shift):
        kept_a = sum(increment(w, t, epoch, HALF_LIFE) for w, t in a)
        kept_b = sum(increment(w, t, epoch, HALF_LIFE) for w, t in b)
        assert math.isclose(
            decayed(kept_a, epoch, now, HALF_LIFE), reference(a), rel_tol=1e-9, abs_tol=1e-12
        )
        assert math.isclose(
            decayed(kept_b, epoch, now, HALF_LIFE), reference(b), rel_tol=1e-9, abs_tol=1e-12
        )


def test_weights_come_from_the_policy():
    policy = TrendingPolicy(bid_weight=7, watch_weight=2, view_weight=0.5)
    assert [policy.weight(a) for a in Activity] == [7, 2, 0.5]


@pytest.mark.parametrize(
    ("category", "chain"),
    [("cameras/film", ("cameras/film", "cameras")), ("art", ("art",))],
)
def test_an_activity_counts_for_the_category_and_its_ancestors(category, chain):
    assert category_chain(category) == chain


def ids(n: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(n)]


def test_merge_keeps_priority_order_each_auction_once_without_excluded():
    a, b, c, d, mine = ids(5)
    co = [Pick(a, RecommendationReason.CO_BIDDING, "Leica M3")]
    similar = [
        Pick(a, RecommendationReason.SIMILAR_ITEM, "Leica M3", SeedSource.WATCH),
        Pick(mine, RecommendationReason.SIMILAR_ITEM, "x", SeedSource.VIEW),
        Pick(b, RecommendationReason.SIMILAR_ITEM, "Nikon F", SeedSource.VIEW),
    ]
    trending = [Pick(c, RecommendationReason.TRENDING), Pick(d, RecommendationReason.TRENDING)]
    merged = merge_picks([co, similar, trending], [mine], 3)
    assert [(p.auction_id, p.reason) for p in merged] == [
        (a, RecommendationReason.CO_BIDDING),
        (b, RecommendationReason.SIMILAR_ITEM),
        (c, RecommendationReason.TRENDING),
    ]


def test_merge_of_nothing_or_zero_is_empty():
    assert merge_picks([], [], 5) == []
    assert merge_picks([[Pick(uuid.uuid4(), RecommendationReason.TRENDING)]], [], 0) == []


@pytest.mark.parametrize(
    ("pick", "sentence"),
    [
        (
            Pick(uuid.uuid4(), RecommendationReason.CO_BIDDING, "Leica M3"),
            "Bidders on Leica M3 also bid on this",
        ),
        (
            Pick(uuid.uuid4(), RecommendationReason.SIMILAR_ITEM, "Leica M3", SeedSource.WATCH),
            "Similar to Leica M3, which you watched",
        ),
        (
            Pick(uuid.uuid4(), RecommendationReason.SIMILAR_ITEM, "Nikon F", SeedSource.BID),
            "Similar to Nikon F, which you bid on",
        ),
        (Pick(uuid.uuid4(), RecommendationReason.TRENDING), "Trending now"),
    ],
)
def test_each_pick_explains_itself(pick, sentence):
    assert pick.explanation == sentence
