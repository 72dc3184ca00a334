"""The offline evaluation (bench/recommendations_eval.py) on a small synthetic history:
the hold-out is leave-last-out, and the recommender beats the popular baseline."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.recommendations_eval import hold_out, run_on, synthetic_history
from devservers.stack import StackUrls


def test_each_user_s_last_auction_is_held_out_with_all_their_bids_on_it():
    history = synthetic_history(datetime.now(UTC), users=60, auctions=300)
    split = hold_out(history)
    per_user: dict[object, set[object]] = {}
    for b in history.bids:
        per_user.setdefault(b.bidder_id, set()).add(b.auction_id)
    # Users with bids on one auction only have nothing left to learn from.
    assert set(split.held_out) == {u for u, auctions in per_user.items() if len(auctions) > 1}
    for user_id, auction_id in split.held_out.items():
        last = max((b for b in history.bids if b.bidder_id == user_id), key=lambda b: b.placed_at)
        assert last.auction_id == auction_id
        assert not any(
            b.bidder_id == user_id and b.auction_id == auction_id for b in split.history.bids
        )
    counts = {a.id: a.bid_count for a in split.history.auctions}
    assert sum(counts.values()) == len(split.history.bids)


async def test_the_recommender_beats_the_popular_baseline(stack: StackUrls, tmp_path):
    history = synthetic_history(datetime.now(UTC), users=120, auctions=400)
    full, similar_only = await run_on(stack.database_url, stack.redis_url, tmp_path, history)
    assert full.users == similar_only.users > 100
    assert full.hits > 2 * max(full.baseline_hits, 1)
    assert similar_only.hits > similar_only.baseline_hits
    assert full.hits_by_reason["CO_BIDDING"] > 0 and similar_only.hits_by_reason["SIMILAR_ITEM"] > 0
