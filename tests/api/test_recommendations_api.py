"""`recommendations` / `recommendedAuctions`: co-bidding, similar items, trending, each
explained; the viewer's own listings, bid-on, ended and cancelled auctions left out; no
other user's activity (nor a sealed auction's bidders) shows through."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from tests.api.discovery_kit import (
    AUCTION,
    CANCEL,
    RECOMMENDATIONS,
    WATCH,
    bid,
    live_auction,
    nonce,
)
from tests.helpers import Account, iso, register


async def recommend(gql, who: Account | None, first: int = 20) -> list[dict[str, Any]]:
    body = await gql(RECOMMENDATIONS, {"first": first}, token=who.token if who else None)
    assert "errors" not in body, body
    picks: list[dict[str, Any]] = body["data"]["recommendations"]
    plain = [a["id"] for a in body["data"]["recommendedAuctions"]]
    assert plain == [p["auction"]["id"] for p in picks]  # the same list, without reasons
    assert len(set(plain)) == len(plain)
    return picks


def by_id(picks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["auction"]["id"]: p for p in picks}


@pytest.fixture
async def co_bidding(gql, app) -> dict[str, Any]:
    """The viewer bid on `leica`; two others bid on it and on `hassel`, one of them also
    on `rollei`, on the viewer's own `mine` and on a sealed auction; the viewer also bid
    on a sealed auction whose other bidder bid on `via_sealed`."""
    seller, viewer = await register(gql, seller=True), await register(gql, seller=True)
    b1, b2 = await register(gql), await register(gql)
    word = nonce()
    leica = await live_auction(gql, seller, title=f"Leica M3 {word}")
    hassel = await live_auction(gql, seller, title="Hasselblad 500C", category="music/vinyl")
    rollei = await live_auction(gql, seller, title="Rolleiflex 2.8F", category="music/vinyl")
    mine = await live_auction(gql, viewer, title="My own Nikon", category="music/vinyl")
    sealed = await live_auction(gql, seller, title="Sealed lot", type="SEALED_FIRST_PRICE")
    sealed_mine = await live_auction(gql, seller, title="Sealed box", type="SEALED_FIRST_PRICE")
    via_sealed = await live_auction(gql, seller, title="Via sealed", category="music/vinyl")
    await bid(gql, viewer, leica, "100")
    await bid(gql, b1, leica, "120")
    await bid(gql, b2, leica, "140")
    await bid(gql, b1, hassel, "100")
    await bid(gql, b2, hassel, "120")
    await bid(gql, b1, rollei, "100")
    await bid(gql, b1, mine, "100")
    await bid(gql, b1, sealed, "100")
    await bid(gql, viewer, sealed_mine, "100")
    third = await register(gql)
    await bid(gql, third, sealed_mine, "150")
    await bid(gql, third, via_sealed, "100")
    # Recommendations read bids from PostgreSQL: let the persister write them first.
    await app.state.persister.drain()
    return {
        "viewer": viewer,
        "seller": seller,
        "leica": leica,
        "hassel": hassel,
        "rollei": rollei,
        "mine": mine,
        "sealed": sealed,
        "via_sealed": via_sealed,
        "word": word,
    }


async def test_bidders_on_this_also_bid_on_ranked_by_co_bidders(gql, co_bidding):
    c = co_bidding
    picks = await recommend(gql, c["viewer"])
    co = [p for p in picks if p["reason"] == "CO_BIDDING"]
    assert [p["auction"]["id"] for p in co] == [c["hassel"], c["rollei"]]
    assert {p["explanation"] for p in co} == {f"Bidders on Leica M3 {c['word']} also bid on this"}
    shown = by_id(picks)
    # Already bid on, the viewer's own listing: never recommended.
    assert c["leica"] not in shown and c["mine"] not in shown
    # Sealed auctions link nobody: neither as the auction bid on nor as the pick.
    assert shown.get(c["sealed"], {}).get("reason") != "CO_BIDDING"
    assert shown.get(c["via_sealed"], {}).get("reason") != "CO_BIDDING"
    assert not any(p["explanation"].startswith("Bidders on Sealed") for p in picks)


async def test_ended_or_cancelled_auctions_are_never_recommended(gql, co_bidding):
    """Two auctions like the one the viewer bid on: one is cancelled, one ends."""
    c = co_bidding
    cancelled = await live_auction(gql, c["seller"], title=f"Leica M2 {c['word']}")
    ending = await live_auction(
        gql, c["seller"], title=f"Leica M4 {c['word']}", endsAt=iso(timedelta(seconds=3))
    )
    assert {cancelled, ending} <= set(by_id(await recommend(gql, c["viewer"], first=50)))
    body = await gql(CANCEL, {"id": cancelled}, token=c["seller"].token)
    assert body["data"]["cancelAuction"]["errors"] == [], body
    await asyncio.sleep(3.2)
    picks = await recommend(gql, c["viewer"], first=50)
    assert cancelled not in by_id(picks) and ending not in by_id(picks)
    assert all(p["auction"]["status"] in ("SCHEDULED", "ACTIVE") for p in picks)


async def test_another_user_sees_nothing_of_the_viewers_activity(gql, app, co_bidding):
    """Someone else gets no pick or sentence derived from the viewer's bids, watches or
    views, even when bidding on the same co-bid auctions."""
    c = co_bidding
    await gql(WATCH, {"id": c["hassel"]}, token=c["viewer"].token)
    await gql(AUCTION, {"id": c["rollei"]}, token=c["viewer"].token)
    stranger = await register(gql)
    picks = await recommend(gql, stranger, first=50)
    assert {p["reason"] for p in picks} <= {"TRENDING"}
    assert not any(c["word"] in p["explanation"] for p in picks)
    # The stranger's own bid on a co-bid auction explains only the stranger's own picks.
    await bid(gql, stranger, c["hassel"], "200")
    await app.state.persister.drain()
    picks = await recommend(gql, stranger, first=50)
    assert not any(c["word"] in p["explanation"] for p in picks)
    assert all(
        p["explanation"].startswith(("Bidders on Hasselblad 500C", "Similar to Hasselblad"))
        for p in picks
        if p["reason"] != "TRENDING"
    )


async def test_a_new_user_gets_similar_items_of_what_they_watched_or_viewed(gql):
    seller, newcomer = await register(gql, seller=True), await register(gql)
    word, other = nonce(), nonce()
    watched = await live_auction(
        gql, seller, title=f"Penny Black stamp {word}", category="collectibles/stamps"
    )
    close = await live_auction(
        gql, seller, title=f"Penny Black plate {word}", category="collectibles/stamps"
    )
    same_shelf = await live_auction(
        gql, seller, title="Inverted Jenny airmail", category="collectibles/stamps"
    )
    elsewhere = await live_auction(
        gql, seller, title=f"Penny farthing {word}", category="sports/cycling"
    )
    viewed = await live_auction(gql, seller, title=f"Gibson Les Paul {other}", category="music")
    guitar = await live_auction(gql, seller, title=f"Gibson SG {other}", category="music")
    assert (await gql(WATCH, {"id": watched}, token=newcomer.token))["data"]["watchAuction"]["ok"]
    assert (await gql(AUCTION, {"id": viewed}, token=newcomer.token))["data"]["auction"]

    picks = by_id(await recommend(gql, newcomer, first=50))
    assert picks[close]["reason"] == "SIMILAR_ITEM"
    assert picks[close]["explanation"] == f"Similar to Penny Black stamp {word}, which you watched"
    assert picks[guitar]["explanation"] == f"Similar to Gibson Les Paul {other}, which you viewed"
    assert picks[same_shelf]["reason"] == "SIMILAR_ITEM"  # same category, fewer words shared
    ordered = list(picks)
    assert ordered.index(close) < ordered.index(same_shelf)
    assert picks.get(elsewhere, {}).get("reason") != "SIMILAR_ITEM"  # another category
    assert watched not in picks and viewed not in picks  # already known to the viewer


async def test_anonymous_viewers_get_trending_picks_only(gql, co_bidding):
    picks = await recommend(gql, None)
    assert picks and {p["reason"] for p in picks} == {"TRENDING"}
    assert {p["explanation"] for p in picks} == {"Trending now"}


async def test_sealed_amounts_never_show_in_recommendations(gql, co_bidding):
    c = co_bidding
    everyone = [c["viewer"], await register(gql), None]
    for who in everyone:
        for pick in await recommend(gql, who, first=50):
            if pick["auction"]["id"] == c["sealed"]:
                assert pick["auction"]["currentPrice"] is None, pick


@pytest.mark.parametrize("first", [-1, 100_000])
async def test_bad_page_sizes_are_client_errors(gql, first):
    body = await gql(RECOMMENDATIONS, {"first": first})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_PAGE_SIZE", body
