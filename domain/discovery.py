"""Discovery's rules: the trending score's decay, and how recommendations are chosen and
explained (SPEC section 6; docs/search.md "Trending" and "Recommendations").

Trending keeps one number per auction that never needs rewriting as time passes: each
activity adds `weight * 2^((t - epoch) / half_life)`, so an activity one half-life older
than another counts half as much, and the order of the sums is the order of the decayed
scores at any moment. The sums grow with t; once the exponent passes `rebase_after`
half-lives every score is multiplied by `2^-(exponent)` and the epoch moves to now (the
order is unchanged), which keeps the numbers well inside a double's range.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from domain.categories import parent_of


class Activity(StrEnum):
    """What raises an auction's trending score (a bid, a new watcher, a distinct view)."""

    BID = "BID"
    WATCH = "WATCH"
    VIEW = "VIEW"


@dataclass(frozen=True, slots=True)
class TrendingPolicy:
    """Weights per activity, the half-life (seconds) and when to re-base (half-lives)."""

    half_life_seconds: float = 6 * 3600.0
    bid_weight: float = 5.0
    watch_weight: float = 3.0
    view_weight: float = 1.0
    # A viewer's repeated views of one auction count once within this many seconds.
    view_dedupe_seconds: int = 1800
    rebase_after: float = 40.0

    def weight(self, activity: Activity) -> float:
        if activity is Activity.BID:
            return self.bid_weight
        if activity is Activity.WATCH:
            return self.watch_weight
        return self.view_weight


def increment(weight: float, at: float, epoch: float, half_life: float) -> float:
    """What one activity of `weight` at `at` (seconds) adds to a score kept at `epoch`."""
    return float(weight * 2.0 ** ((at - epoch) / half_life))


def decayed(score: float, epoch: float, now: float, half_life: float) -> float:
    """A score kept at `epoch` as of `now`: the sum of each activity's weight halved once
    per half-life since it happened."""
    return float(score * 2.0 ** (-(now - epoch) / half_life))


def category_chain(category: str) -> tuple[str, ...]:
    """The category and its ancestors: an activity counts for every one of them, so a
    category's trending list covers its whole subtree ("cameras/film" -> also "cameras")."""
    chain = [category]
    while (parent := parent_of(chain[-1])) is not None:
        chain.append(parent)
    return tuple(chain)


class RecommendationReason(StrEnum):
    CO_BIDDING = "CO_BIDDING"
    SIMILAR_ITEM = "SIMILAR_ITEM"
    TRENDING = "TRENDING"


class SeedSource(StrEnum):
    """How the viewer met the auction a similar-item pick starts from."""

    BID = "bid on"
    WATCH = "watched"
    VIEW = "viewed"


@dataclass(frozen=True, slots=True)
class Pick:
    """One recommended auction, why, and (for CO_BIDDING / SIMILAR_ITEM) the viewer's own
    auction that led to it: its title and how the viewer met it."""

    auction_id: uuid.UUID
    reason: RecommendationReason
    via_title: str | None = None
    via_source: SeedSource | None = None

    @property
    def explanation(self) -> str:
        if self.reason is RecommendationReason.CO_BIDDING:
            return f"Bidders on {self.via_title} also bid on this"
        if self.reason is RecommendationReason.SIMILAR_ITEM:
            how = (self.via_source or SeedSource.VIEW).value
            return f"Similar to {self.via_title}, which you {how}"
        return "Trending now"


def merge_picks(
    sources: Iterable[Sequence[Pick]], excluded: Iterable[uuid.UUID], limit: int
) -> list[Pick]:
    """The first `limit` picks, sources in priority order (co-bidding, similar items,
    trending), each auction once (its first reason wins), none of `excluded` (the
    viewer's own listings and the auctions they already bid on)."""
    seen = set(excluded)
    chosen: list[Pick] = []
    for picks in sources:
        for pick in picks:
            if len(chosen) >= limit:
                return chosen
            if pick.auction_id in seen:
                continue
            seen.add(pick.auction_id)
            chosen.append(pick)
    return chosen
