"""A seller's analytics (admin app `/analytics`, docs/admin-app.md): SQL aggregates over
the seller's own auctions, scoped by `seller_id` here (never by the page).

Every figure counts the auctions whose end falls in the date range, in the viewer's
timezone: an auction's end is when it ended (`ended_at`), or its scheduled end while it
runs. Drafts never count. Money is integer minor units and never summed across
currencies; ratios are plain floats (unitless).

- revenue: the final prices of SOLD auctions, per day or week (buckets start at local
  midnight; weeks on Monday) and currency: what buyers agreed to pay (before fees,
  premiums and refunds; the ledger is on the sales page).
- sell-through: SOLD / ENDED, overall and per bucket (cancelled auctions are not ended).
- final vs starting price: the latest SOLD auctions, each with both prices.
- bids and watchers: the auctions with the most bids (non-voided, as the record counts
  them) and their watchers now.
- time to first bid: from the start of bidding (when it became active) to its first bid
  that was not voided, as a distribution in fixed buckets, and the median.
- best hours to end: per local hour of the end, ENDED auctions, SOLD ones, and the mean
  final/starting price ratio of the SOLD ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import text

from domain.enums import Role
from domain.errors import NotFound, ValidationFailed
from services.deps import Deps
from storage.tables import User

Grain = Literal["day", "week"]
MAX_RANGE_DAYS = 366
# No auction ended before Gavel existed nor ends a millennium from now.
FIRST_YEAR = 2000
LAST_YEAR = 2999
PRICE_POINTS = 30  # auctions in "final vs starting price"
ENGAGEMENT_POINTS = 20  # auctions in "bids and watchers"

# Time to first bid: (upper bound in seconds, label); the last bucket is open-ended.
FIRST_BID_BUCKETS: tuple[tuple[int | None, str], ...] = (
    (60, "< 1 min"),
    (600, "1-10 min"),
    (3_600, "10-60 min"),
    (21_600, "1-6 h"),
    (86_400, "6-24 h"),
    (None, "> 1 day"),
)


@dataclass(frozen=True, slots=True)
class RevenuePoint:
    bucket: date  # the day, or the Monday of the week, in the viewer's zone
    currency: str
    amount: int  # minor units
    sales: int


@dataclass(frozen=True, slots=True)
class SellThroughPoint:
    bucket: date
    ended: int
    sold: int


@dataclass(frozen=True, slots=True)
class PricePoint:
    auction_id: uuid.UUID
    title: str
    currency: str
    starting_price: int
    final_price: int


@dataclass(frozen=True, slots=True)
class EngagementPoint:
    auction_id: uuid.UUID
    title: str
    bids: int
    watchers: int


@dataclass(frozen=True, slots=True)
class HourPoint:
    hour: int  # 0-23, local
    ended: int
    sold: int
    mean_ratio: float | None  # mean final/starting price of the SOLD ones


@dataclass(frozen=True, slots=True)
class Analytics:
    seller_id: uuid.UUID
    start: date
    end: date  # inclusive
    grain: Grain
    revenue: list[RevenuePoint]
    sell_through: list[SellThroughPoint]
    ended: int
    sold: int
    prices: list[PricePoint]
    engagement: list[EngagementPoint]
    first_bid: list[tuple[str, int]]  # (bucket label, auctions), in FIRST_BID_BUCKETS order
    first_bid_median_seconds: float | None
    hours: list[HourPoint]  # only hours with an ended auction

    @property
    def sell_through_rate(self) -> float | None:
        return self.sold / self.ended if self.ended else None

    @property
    def empty(self) -> bool:
        return not (self.ended or self.engagement or self.revenue)

    @property
    def currencies(self) -> list[str]:
        """The currencies of the range's sales, the most used first (the most sales, then
        the most sold auctions among the latest; ties by code): a mainly-USD seller's
        charts open on USD."""
        sales: dict[str, int] = {}
        for point in self.revenue:
            sales[point.currency] = sales.get(point.currency, 0) + point.sales
        latest: dict[str, int] = {}
        for price in self.prices:
            latest[price.currency] = latest.get(price.currency, 0) + 1
        names = set(sales) | set(latest)
        return sorted(names, key=lambda c: (-sales.get(c, 0), -latest.get(c, 0), c))


def seller_scope(viewer: User, seller_id: uuid.UUID | str | None) -> uuid.UUID:
    """Whose figures the viewer asks for: their own, or (admins only) any seller's. A
    seller naming someone else gets NOT_FOUND: nothing of another seller's data."""
    if seller_id is None or str(seller_id) == str(viewer.id):
        return viewer.id
    if Role.ADMIN.value not in viewer.roles:
        raise NotFound("no such seller", field="sellerId")
    try:
        return seller_id if isinstance(seller_id, uuid.UUID) else uuid.UUID(str(seller_id))
    except ValueError:
        raise NotFound("no such seller", field="sellerId") from None


def check_range(start: date, end: date) -> None:
    """INVALID_INPUT unless start <= end, the range spans at most MAX_RANGE_DAYS and
    both dates fall within FIRST_YEAR..LAST_YEAR (at the calendar's ends a day more, or
    a zone's offset, would leave the calendar: OverflowError)."""
    for name, day in (("start", start), ("end", end)):
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ValidationFailed(
                f"the range's dates must fall between the years {FIRST_YEAR} and {LAST_YEAR}",
                field=name,
            )
    if end < start:
        raise ValidationFailed("the range ends before it starts", field="end")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed(f"the range may span at most {MAX_RANGE_DAYS} days", field="start")


# The auctions of one seller whose end falls in [lo, hi); `local` is the end in the zone.
_SCOPE = """
WITH scoped AS (
  SELECT a.id, a.type, a.status, a.outcome, a.currency, a.starting_price, a.final_price,
         a.bid_count, a.activated_at, a.starts_at, a.published_at,
         COALESCE(a.ended_at, a.ends_at) AS end_at,
         timezone(:zone, COALESCE(a.ended_at, a.ends_at)) AS local_end
  FROM auctions a
  WHERE a.seller_id = :seller AND a.status <> 'DRAFT'
    AND COALESCE(a.ended_at, a.ends_at) >= :lo AND COALESCE(a.ended_at, a.ends_at) < :hi
)
"""

_REVENUE = (
    _SCOPE
    + """
SELECT date_trunc(:grain, local_end)::date AS bucket, currency,
       SUM(final_price) AS amount, COUNT(*) AS sales
FROM scoped WHERE status = 'ENDED' AND outcome = 'SOLD' AND final_price IS NOT NULL
GROUP BY 1, 2 ORDER BY 1, 2
"""
)

_SELL_THROUGH = (
    _SCOPE
    + """
SELECT date_trunc(:grain, local_end)::date AS bucket, COUNT(*) AS ended,
       COUNT(*) FILTER (WHERE outcome = 'SOLD') AS sold
FROM scoped WHERE status = 'ENDED'
GROUP BY 1 ORDER BY 1
"""
)

_PRICES = (
    _SCOPE
    + """
SELECT s.id, i.title, s.currency, s.starting_price, s.final_price
FROM scoped s JOIN auctions a ON a.id = s.id JOIN items i ON i.id = a.item_id
WHERE s.status = 'ENDED' AND s.outcome = 'SOLD' AND s.final_price IS NOT NULL
ORDER BY s.end_at DESC, s.id LIMIT :points
"""
)

_ENGAGEMENT = (
    _SCOPE
    + """
SELECT s.id, i.title, s.bid_count,
       (SELECT COUNT(*) FROM watchlist w WHERE w.auction_id = s.id) AS watchers
FROM scoped s JOIN auctions a ON a.id = s.id JOIN items i ON i.id = a.item_id
WHERE s.status <> 'CANCELLED'
ORDER BY s.bid_count DESC, watchers DESC, s.end_at DESC, s.id LIMIT :points
"""
)

_FIRST_BID = (
    _SCOPE
    + """
SELECT EXTRACT(EPOCH FROM (fb.first_at
         - COALESCE(s.activated_at, s.starts_at, s.published_at)))::float8 AS seconds
FROM scoped s
JOIN LATERAL (
  SELECT MIN(b.placed_at) AS first_at FROM bids b
  WHERE b.auction_id = s.id AND b.voided_at IS NULL
) fb ON fb.first_at IS NOT NULL
WHERE COALESCE(s.activated_at, s.starts_at, s.published_at) IS NOT NULL
"""
)

_HOURS = (
    _SCOPE
    + """
SELECT EXTRACT(HOUR FROM local_end)::int AS hour, COUNT(*) AS ended,
       COUNT(*) FILTER (WHERE outcome = 'SOLD') AS sold,
       AVG(final_price::numeric / starting_price)
         FILTER (WHERE outcome = 'SOLD' AND final_price IS NOT NULL)::float8 AS ratio
FROM scoped WHERE status = 'ENDED'
GROUP BY 1 ORDER BY 1
"""
)


def _bucket_of(seconds: float) -> int:
    for index, (upper, _) in enumerate(FIRST_BID_BUCKETS):
        if upper is None or seconds < upper:
            return index
    return len(FIRST_BID_BUCKETS) - 1


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


async def seller_analytics(
    deps: Deps,
    viewer: User,
    *,
    start: date,
    end: date,
    zone: ZoneInfo,
    grain: Grain = "day",
    seller_id: uuid.UUID | str | None = None,
) -> Analytics:
    """The seller's figures for the auctions ending from `start` to `end` (inclusive,
    local dates in `zone`). Errors: NOT_FOUND (another seller's, unless admin),
    INVALID_INPUT (a reversed or too long range, an unknown grain)."""
    seller = seller_scope(viewer, seller_id)
    check_range(start, end)
    if grain not in ("day", "week"):
        raise ValidationFailed("grain is day or week", field="grain")
    lo = datetime.combine(start, time(0), zone)
    hi = datetime.combine(end + timedelta(days=1), time(0), zone)
    params: dict[str, Any] = {
        "seller": seller,
        "zone": zone.key,
        "lo": lo,
        "hi": hi,
        "grain": grain,
        "points": PRICE_POINTS,
    }
    async with deps.uow() as uow:
        conn = await uow.session.connection()

        async def rows(sql: str, **extra: Any) -> list[Any]:
            return list((await conn.execute(text(sql), {**params, **extra})).all())

        revenue = [
            RevenuePoint(r.bucket, r.currency, int(r.amount), int(r.sales))
            for r in await rows(_REVENUE)
        ]
        sell = [
            SellThroughPoint(r.bucket, int(r.ended), int(r.sold)) for r in await rows(_SELL_THROUGH)
        ]
        prices = [
            PricePoint(r.id, r.title, r.currency, int(r.starting_price), int(r.final_price))
            for r in await rows(_PRICES)
        ]
        engagement = [
            EngagementPoint(r.id, r.title, int(r.bid_count), int(r.watchers))
            for r in await rows(_ENGAGEMENT, points=ENGAGEMENT_POINTS)
        ]
        waits = [max(0.0, float(r.seconds)) for r in await rows(_FIRST_BID)]
        hours = [
            HourPoint(
                int(r.hour),
                int(r.ended),
                int(r.sold),
                float(r.ratio) if r.ratio is not None else None,
            )
            for r in await rows(_HOURS)
        ]
    counts = [0] * len(FIRST_BID_BUCKETS)
    for seconds in waits:
        counts[_bucket_of(seconds)] += 1
    return Analytics(
        seller_id=seller,
        start=start,
        end=end,
        grain=grain,
        revenue=revenue,
        sell_through=sell,
        ended=sum(p.ended for p in sell),
        sold=sum(p.sold for p in sell),
        prices=list(reversed(prices)),  # oldest first, for a chart read left to right
        engagement=engagement,
        first_bid=[(label, n) for (_, label), n in zip(FIRST_BID_BUCKETS, counts, strict=True)],
        first_bid_median_seconds=_median(waits),
        hours=hours,
    )
