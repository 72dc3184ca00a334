"""A seller's analytics (services/seller_analytics.py) against a small reference worked
out by hand: nine auctions of one seller around a two-week range in Berlin's timezone
(UTC+1 in January), plus another seller's sale that must never count."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI

from domain.errors import NotFound, ValidationFailed
from services.deps import Deps
from services.seller_analytics import seller_analytics
from storage.tables import Auction, Bid, Item, User, Watch
from tests.integration.settlement_kit import make_user

BERLIN = ZoneInfo("Europe/Berlin")
START, END = date(2026, 1, 5), date(2026, 1, 18)  # a Monday to a Sunday


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, second, tzinfo=UTC)


@dataclass
class Spec:
    title: str
    status: str
    end: datetime
    start_price: int
    final: int | None = None
    outcome: str | None = None
    currency: str = "USD"
    type: str = "ENGLISH"
    activated: datetime | None = None
    bids: tuple[tuple[datetime, bool], ...] = ()  # (placed at, voided)
    watchers: int = 0


# Local ends (Berlin) in the comments; "in"/"out" of 5-18 January.
SPECS = [
    # A1 ends 20:30 on the 5th (in); first bid after 30 s.
    Spec(
        "A1 clock",
        "ENDED",
        utc(5, 19, 30),
        10_000,
        15_000,
        "SOLD",
        activated=utc(5, 8),
        bids=((utc(5, 8, 0, 30), False), (utc(5, 9), False)),
        watchers=3,
    ),
    # A2 ends 20:10 on the 6th, unsold (reserve not met); first bid after 2 h.
    Spec(
        "A2 lamp",
        "ENDED",
        utc(6, 19, 10),
        5_000,
        None,
        "UNSOLD",
        activated=utc(6, 8),
        bids=((utc(6, 10), False),),
        watchers=1,
    ),
    # A3 (Dutch, EUR) ends 00:30 on the 13th (UTC: the 12th); first bid after 30 min.
    Spec(
        "A3 vase",
        "ENDED",
        utc(12, 23, 30),
        20_000,
        16_000,
        "SOLD",
        currency="EUR",
        type="DUTCH",
        activated=utc(12, 23),
        bids=((utc(12, 23, 30), False),),
    ),
    # A4 ends 23:59 on the 18th (in); a voided bid after 20 s, the first valid after 5 min.
    Spec(
        "A4 pen",
        "ENDED",
        utc(18, 22, 59),
        1_000,
        3_000,
        "SOLD",
        activated=utc(18, 10),
        bids=((utc(18, 10, 0, 20), True), (utc(18, 10, 5), False)),
        watchers=2,
    ),
    # A5 ends 00:30 on the 19th (out), A6 23:30 on the 4th (out).
    Spec("A5 out late", "ENDED", utc(18, 23, 30), 1_000, 9_000, "SOLD", activated=utc(18, 1)),
    Spec("A6 out early", "ENDED", utc(4, 22, 30), 1_000, 9_000, "SOLD", activated=utc(4, 1)),
    # Cancelled and draft auctions count nowhere.
    Spec("A7 cancelled", "CANCELLED", utc(10, 12), 1_000, watchers=4),
    Spec("A8 draft", "DRAFT", utc(10, 12), 1_000),
    # A9 still running, ends on the 15th; its first bid 23 h after it started.
    Spec(
        "A9 desk",
        "ACTIVE",
        utc(15, 12),
        2_000,
        activated=utc(14, 12),
        bids=tuple((utc(15, 11, m), False) for m in range(4)),
        watchers=5,
    ),
]


async def store(
    deps: Deps, seller: User, specs: list[Spec], people: list[User]
) -> dict[str, uuid.UUID]:
    ids: dict[str, uuid.UUID] = {}
    async with deps.uow() as uow:
        for spec in specs:
            item = Item(
                seller_id=seller.id,
                title=spec.title,
                description="A reference auction.",
                category="collectibles",
                condition="USED",
            )
            valid_bids = [b for b in spec.bids if not b[1]]
            auction = Auction(
                item_id=item.id,
                seller_id=seller.id,
                type=spec.type,
                status=spec.status,
                outcome=spec.outcome,
                currency=spec.currency,
                starting_price=spec.start_price,
                final_price=spec.final,
                current_price=spec.final,
                starts_at=spec.activated,
                activated_at=spec.activated,
                published_at=spec.activated,
                ends_at=spec.end,
                ended_at=spec.end if spec.status == "ENDED" else None,
                bid_count=len(valid_bids),
                last_sequence=len(spec.bids),
            )
            uow.session.add(item)
            await uow.session.flush()
            uow.session.add(auction)
            await uow.session.flush()
            for seq, (at, voided) in enumerate(spec.bids, start=1):
                uow.session.add(
                    Bid(
                        auction_id=auction.id,
                        bidder_id=people[seq].id,
                        sequence=seq,
                        amount=spec.start_price + seq,
                        currency=spec.currency,
                        placed_at=at,
                        voided_at=at + timedelta(minutes=1) if voided else None,
                    )
                )
            for watcher in people[: spec.watchers]:
                uow.session.add(Watch(user_id=watcher.id, auction_id=auction.id))
            ids[spec.title] = auction.id
        await uow.commit()
    return ids


@pytest.fixture
async def reference(app: FastAPI) -> tuple[Deps, User, dict[str, uuid.UUID]]:
    deps: Deps = app.state.deps
    seller = await make_user(deps, "BIDDER", "SELLER")
    other = await make_user(deps, "BIDDER", "SELLER")
    people = [await make_user(deps) for _ in range(6)]
    ids = await store(deps, seller, SPECS, people)
    # Another seller's sale in the same range, in the same hour: never counted.
    await store(
        deps,
        other,
        [Spec("B1 other", "ENDED", utc(5, 19, 30), 100, 999_999, "SOLD", activated=utc(5, 8))],
        people,
    )
    return deps, seller, ids


async def test_daily_figures_match_the_reference(reference) -> None:
    deps, seller, ids = reference
    got = await seller_analytics(deps, seller, start=START, end=END, zone=BERLIN, grain="day")
    assert [(p.bucket, p.currency, p.amount, p.sales) for p in got.revenue] == [
        (date(2026, 1, 5), "USD", 15_000, 1),
        (date(2026, 1, 13), "EUR", 16_000, 1),
        (date(2026, 1, 18), "USD", 3_000, 1),
    ]
    assert [(p.bucket, p.ended, p.sold) for p in got.sell_through] == [
        (date(2026, 1, 5), 1, 1),
        (date(2026, 1, 6), 1, 0),
        (date(2026, 1, 13), 1, 1),
        (date(2026, 1, 18), 1, 1),
    ]
    assert (got.ended, got.sold, got.sell_through_rate) == (4, 3, 0.75)
    assert [(p.title, p.currency, p.starting_price, p.final_price) for p in got.prices] == [
        ("A1 clock", "USD", 10_000, 15_000),
        ("A3 vase", "EUR", 20_000, 16_000),
        ("A4 pen", "USD", 1_000, 3_000),
    ]
    assert [(p.title, p.bids, p.watchers) for p in got.engagement] == [
        ("A9 desk", 4, 5),
        ("A1 clock", 2, 3),
        ("A4 pen", 1, 2),
        ("A2 lamp", 1, 1),
        ("A3 vase", 1, 0),
    ]
    assert got.engagement[0].auction_id == ids["A9 desk"]
    # 30 s, 2 h, 30 min, 5 min (the voided bid at 20 s does not count), 23 h.
    assert got.first_bid == [
        ("< 1 min", 1),
        ("1-10 min", 1),
        ("10-60 min", 1),
        ("1-6 h", 1),
        ("6-24 h", 1),
        ("> 1 day", 0),
    ]
    assert got.first_bid_median_seconds == 1_800
    assert [(h.hour, h.ended, h.sold) for h in got.hours] == [(0, 1, 1), (20, 2, 1), (23, 1, 1)]
    assert [round(h.mean_ratio or 0, 6) for h in got.hours] == [0.8, 1.5, 3.0]
    assert got.currencies == ["USD", "EUR"]  # the most sales first: the charts open on USD
    assert not got.empty


async def test_weekly_buckets_start_on_local_mondays(reference) -> None:
    deps, seller, _ = reference
    got = await seller_analytics(deps, seller, start=START, end=END, zone=BERLIN, grain="week")
    assert [(p.bucket, p.currency, p.amount) for p in got.revenue] == [
        (date(2026, 1, 5), "USD", 15_000),
        (date(2026, 1, 12), "EUR", 16_000),
        (date(2026, 1, 12), "USD", 3_000),
    ]
    assert [(p.bucket, p.ended, p.sold) for p in got.sell_through] == [
        (date(2026, 1, 5), 2, 1),
        (date(2026, 1, 12), 2, 2),
    ]


async def test_the_range_is_read_in_the_viewers_zone(reference) -> None:
    deps, seller, _ = reference
    # In UTC, A5 (23:30 UTC on the 18th) is in and A3's end is on the 12th at hour 23.
    got = await seller_analytics(deps, seller, start=START, end=END, zone=ZoneInfo("UTC"))
    assert (got.ended, got.sold) == (5, 4)
    assert (date(2026, 1, 12), "EUR", 16_000, 1) in [
        (p.bucket, p.currency, p.amount, p.sales) for p in got.revenue
    ]
    assert [h.hour for h in got.hours] == [19, 22, 23]


async def test_scope_range_and_an_empty_seller(reference, app: FastAPI) -> None:
    deps, seller, _ = reference
    other = await make_user(deps, "BIDDER", "SELLER")
    admin = await make_user(deps, "BIDDER", "ADMIN")
    with pytest.raises(NotFound):
        await seller_analytics(
            deps, other, start=START, end=END, zone=BERLIN, seller_id=str(seller.id)
        )
    as_admin = await seller_analytics(
        deps, admin, start=START, end=END, zone=BERLIN, seller_id=str(seller.id)
    )
    assert (as_admin.ended, as_admin.sold) == (4, 3)
    nothing = await seller_analytics(deps, other, start=START, end=END, zone=BERLIN)
    assert nothing.empty and nothing.sell_through_rate is None
    assert nothing.first_bid_median_seconds is None
    with pytest.raises(ValidationFailed):
        await seller_analytics(deps, seller, start=END, end=START, zone=BERLIN)
    with pytest.raises(ValidationFailed):
        await seller_analytics(
            deps, seller, start=date(2024, 1, 1), end=date(2026, 1, 1), zone=BERLIN
        )
    # At the calendar's ends a zone's offset or the day after the range would overflow.
    for first, last in ((date(9999, 12, 30), date(9999, 12, 31)), (date(1, 1, 1), date(1, 1, 2))):
        with pytest.raises(ValidationFailed) as refused:
            await seller_analytics(deps, seller, start=first, end=last, zone=BERLIN)
        assert "between the years" in refused.value.message
