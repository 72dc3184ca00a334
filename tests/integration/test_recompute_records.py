"""A BIDS_VOIDED event persisted by either persister path (`record`, one auction in its own
transaction; `record_ongoing`, many at once): the voided bids, the auction row and the
notifications follow it, and writing the same event again changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from domain.events import BidsVoided
from domain.slot_results import RecomputeApplied
from realtime.event_records import record, record_ongoing
from realtime.slots import ReplayBid
from services import bidding
from storage.tables import Auction, User
from tests.helpers import live_english_auction
from tests.integration.test_concurrency import _users


async def _voided_auction(app: FastAPI, reason: str) -> tuple[Auction, list[User], BidsVoided]:
    """An auction with three persisted bids (a, b, a) and a's voided in the slot only."""
    deps = app.state.deps
    seller, a, b = await _users(app, 3)
    auction = await live_english_auction(app, seller)
    for who, amount, ceiling in ((a, "1", "5"), (b, "2", None), (a, "6", None)):
        placed = await bidding.place_bid(
            deps, who, auction.id, Decimal(amount), Decimal(ceiling) if ceiling else None, None
        )
        assert isinstance(placed, bidding.Accepted), placed
    await app.state.persister.drain([str(auction.id)])
    done = await deps.slots.recompute(
        auction.id,
        expected_sequence=3,
        reason=reason,
        voided=[1, 3],
        remaining=[ReplayBid(2, str(b.id), 200, None)],
        actor=a.id,
    )
    assert isinstance(done, RecomputeApplied)
    return auction, [a, b], done.event


async def _facts(app: FastAPI, auction: Auction, users: list[User]) -> dict[str, Any]:
    async with app.state.engine.connect() as conn:

        async def all_of(sql: str, **params: Any) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]

        return {
            "bids": await all_of(
                "SELECT sequence, voided_at IS NOT NULL, retracted_at IS NOT NULL FROM bids"
                " WHERE auction_id = :a ORDER BY sequence",
                a=auction.id,
            ),
            "row": await all_of(
                "SELECT current_price, leader_id, bid_count, last_sequence FROM auctions"
                " WHERE id = :a",
                a=auction.id,
            ),
            "notes": await all_of(
                "SELECT user_id, kind FROM notifications WHERE auction_id = :a"
                " AND kind <> 'OUTBID' ORDER BY kind",
                a=auction.id,
            ),
            "audits": await all_of(
                "SELECT action, actor_id, details->>'reason' FROM audit_log WHERE entity_id = :a",
                a=str(auction.id),
            ),
            "retractions": await all_of(
                "SELECT id, retraction_count FROM users WHERE id = ANY(:u) ORDER BY id",
                u=[u.id for u in users],
            ),
        }


@pytest.mark.parametrize("path", ["record", "record_ongoing"])
async def test_both_paths_record_a_retraction_once(app: FastAPI, path: str) -> None:
    auction, (a, b), event = await _voided_auction(app, "RETRACTED")
    for _ in range(2):  # the second write of the same event changes nothing
        async with app.state.deps.uow() as uow:
            if path == "record":
                row = await uow.session.get(Auction, auction.id, with_for_update=True)
                assert await record(uow.session, row, event) is False
            else:
                await record_ongoing(await uow.session.connection(), [(auction.id, [event])])
            await uow.commit()
        facts = await _facts(app, auction, [a, b])
        assert facts["bids"] == [(1, True, True), (2, False, False), (3, True, True)]
        assert facts["row"] == [(200, b.id, 1, 4)]
        assert facts["notes"] == sorted([(a.id, "BIDS_RETRACTED"), (b.id, "LEADING_AGAIN")],
                                        key=lambda n: n[1])  # fmt: skip
        assert facts["audits"] == [("retract_bids", a.id, "RETRACTED")]
        counts = dict(facts["retractions"])
        assert counts == {a.id: 1, b.id: 0}
