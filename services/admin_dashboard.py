"""The admin overview's and system health page's reads (docs/admin-app.md "Overview and
system health"). Admins only: every function raises FORBIDDEN for anyone else.

The overview's figures are read on a timer by every open overview page, so each read is
an index range scan bounded by live activity, never a scan of a large table:

- auction counts use `ix_auctions_status_ends_at` (status, then end time);
- GMV today reads the auctions ENDED with an end time since yesterday's start (the
  same index), then keeps those that ended today (`ended_at`);
- bids of the last hour are read through the auctions whose end time is within it or
  later (a bid is always placed before its auction's end, soft-close moves included), and
  their bids by `ix_bids_auction_id`.

Open overview pages share their timed reads: `overview_figures(..., max_age_seconds=)`
answers from one read per process, timezone and interval (`_shared_figures`), so N open
pages cost one pair of queries per refresh interval, not N.

Live bids per minute are not read here: the page adds each persister commit's pulse
(realtime/activity_pulse.py) to what `bid_activity` seeded it with.

The health checks each run under a timeout and report a failure in words; one store
being down never keeps the others from being reported.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import REGISTRY
from prometheus_client.registry import CollectorRegistry
from sqlalchemy import text

from adapters.metrics import Reading
from domain.errors import ValidationFailed
from services.deps import Deps
from services.moderation import require_admin
from services.search.port import SearchIndex
from storage.tables import User

CHART_MINUTES = 60
# The closer ends an auction a little after its end time: an auction that ended today
# may have an end time of yesterday. A closer this far behind is an outage of its own.
CLOSER_SLACK = timedelta(days=1)
ENDING_SOON = timedelta(hours=1)
HEALTH_TIMEOUT_SECONDS = 2.0
# Behind by more than this, the persister or the closer is reported as lagging.
LAG_LIMIT_SECONDS = 5.0


# -- overview -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OverviewFigures:
    """The overview's figures read from PostgreSQL.

    `gmv_today`: the final prices of the auctions SOLD since `day_start` (midnight in the
    viewer's zone), per currency, in minor units; `sales_today` how many they are.
    """

    active_auctions: int
    scheduled_auctions: int
    ending_soon: int  # ACTIVE auctions ending within the hour
    sales_today: int
    gmv_today: dict[str, int]
    day_start: datetime


# (id of the Deps, timezone) -> (when read, monotonic seconds; the read, shared while it
# runs). Bounded: one entry per timezone in use, replaced once older than its interval.
_shared_figures: dict[tuple[int, str], tuple[float, asyncio.Task[OverviewFigures], float]] = {}


async def overview_figures(
    deps: Deps,
    viewer: User,
    zone: ZoneInfo,
    *,
    now: datetime | None = None,
    max_age_seconds: float = 0.0,
) -> OverviewFigures:
    """The overview's PostgreSQL figures; "today" begins at midnight in `zone`.

    With `max_age_seconds` > 0 (an open page's timer), a read of this process for the
    same timezone at most that old is answered again, and concurrent callers share one
    read in flight. FORBIDDEN for a non-admin, checked on every call, cached or not."""
    require_admin(viewer)
    if max_age_seconds <= 0 or now is not None:
        return await _read_figures(deps, zone, now or deps.clock())
    key = (id(deps), zone.key)
    started = time.monotonic()
    cached = _shared_figures.get(key)
    if cached is not None and started - cached[0] <= max_age_seconds:
        task = cached[1]
        if not task.done() or (not task.cancelled() and task.exception() is None):
            return await asyncio.shield(task)
    # Each entry ages by its own caller's interval: a short-lived read must not evict a
    # page's longer-lived one.
    for stale in [k for k, (at, _, age) in _shared_figures.items() if started - at > age]:
        del _shared_figures[stale]
    task = asyncio.ensure_future(_read_figures(deps, zone, deps.clock()))
    _shared_figures[key] = (started, task, max_age_seconds)
    try:
        return await asyncio.shield(task)
    except Exception:
        # A failed read is not shared: the next caller tries again.
        if _shared_figures.get(key, (0.0, None, 0.0))[1] is task:
            del _shared_figures[key]
        raise


async def _read_figures(deps: Deps, zone: ZoneInfo, now: datetime) -> OverviewFigures:
    day_start = datetime.combine(now.astimezone(zone).date(), day_time(), zone).astimezone(UTC)
    async with deps.uow() as uow:
        connection = await uow.session.connection()
        counts = (
            await connection.execute(text(_AUCTION_COUNTS), {"soon": now + ENDING_SOON})
        ).one()
        sales = (
            await connection.execute(
                text(_SOLD_SINCE),
                {"day_start": day_start, "horizon": day_start - CLOSER_SLACK},
            )
        ).all()
    return OverviewFigures(
        active_auctions=int(counts.active),
        scheduled_auctions=int(counts.scheduled),
        ending_soon=int(counts.ending_soon),
        sales_today=sum(int(row.sales) for row in sales),
        gmv_today={row.currency: int(row.gmv) for row in sales},
        day_start=day_start,
    )


_AUCTION_COUNTS = """
SELECT
  (SELECT count(*) FROM auctions WHERE status = 'ACTIVE') AS active,
  (SELECT count(*) FROM auctions WHERE status = 'SCHEDULED') AS scheduled,
  (SELECT count(*) FROM auctions WHERE status = 'ACTIVE' AND ends_at < :soon) AS ending_soon
"""

_SOLD_SINCE = """
SELECT currency, count(*) AS sales, coalesce(sum(final_price), 0) AS gmv
FROM auctions
WHERE status = 'ENDED' AND ends_at >= :horizon AND ended_at >= :day_start
  AND outcome = 'SOLD'
GROUP BY currency
ORDER BY currency
"""


@dataclass(frozen=True, slots=True)
class BidActivity:
    """Accepted bids (voided later or not) per minute.

    `first_minute` is the first bucket's minute (Unix seconds // 60); `per_minute` holds
    `minutes` buckets, oldest first, the last being the current minute. `recent` lists
    (Unix milliseconds of a second, bids in it) for the last 60 seconds, oldest first:
    what the page's "bids in the last minute" starts from.
    """

    first_minute: int
    per_minute: list[int]
    recent: list[tuple[int, int]] = field(default_factory=list)


async def bid_activity(
    deps: Deps, viewer: User, *, minutes: int = CHART_MINUTES, now: datetime | None = None
) -> BidActivity:
    """Bids per minute over the last `minutes` minutes (1-1440; INVALID_INPUT otherwise)."""
    require_admin(viewer)
    if not 1 <= minutes <= 1440:
        raise ValidationFailed("minutes is 1 to 1440", field="minutes")
    now = now or deps.clock()
    current_minute = int(now.timestamp()) // 60
    first_minute = current_minute - minutes + 1
    since = datetime.fromtimestamp(first_minute * 60, UTC)
    async with deps.uow() as uow:
        connection = await uow.session.connection()
        rows = (
            await connection.execute(text(_BIDS_PER_SECOND), {"since": since, "now": now})
        ).all()
    per_minute = [0] * minutes
    recent: list[tuple[int, int]] = []
    minute_ago = now.timestamp() - 60
    for second, count in rows:
        index = int(second) // 60 - first_minute
        if 0 <= index < minutes:
            per_minute[index] += int(count)
        if second > minute_ago:
            recent.append((int(second) * 1000, int(count)))
    return BidActivity(first_minute, per_minute, recent)


# Bids are placed before their auction's end: those of the window belong to auctions
# ending in it or later (the status/end-time index), read by their auction.
_BIDS_PER_SECOND = """
SELECT floor(extract(epoch FROM b.placed_at))::bigint AS second, count(*) AS bids
FROM auctions a
JOIN bids b ON b.auction_id = a.id
WHERE a.status IN ('ACTIVE', 'ENDED', 'CANCELLED') AND a.ends_at >= :since
  AND b.placed_at >= :since AND b.placed_at <= :now
GROUP BY 1
ORDER BY 1
"""


@dataclass(frozen=True, slots=True)
class Lag:
    """The outbox persister's and the closer's lag (realtime/lag.py), as /metrics reads
    them; `readable` is False when Redis did not answer in time (the rest is then 0)."""

    readable: bool
    outbox_pending: int = 0
    outbox_oldest_seconds: float = 0.0
    closer_overdue: int = 0
    closer_seconds: float = 0.0


def lag_of(readings: Iterable[Reading]) -> Lag:
    """The lag from the scrape-time readings of /metrics (gavel_app.lag_readings)."""
    values = {r.name: r.value for r in readings}
    if not values.get("gavel_lag_scrape_success"):
        return Lag(readable=False)
    return Lag(
        readable=True,
        outbox_pending=int(values.get("gavel_outbox_pending_events", 0)),
        outbox_oldest_seconds=float(values.get("gavel_outbox_oldest_pending_seconds", 0.0)),
        closer_overdue=int(values.get("gavel_closer_overdue_auctions", 0)),
        closer_seconds=float(values.get("gavel_closer_lag_seconds", 0.0)),
    )


async def read_lag(
    viewer: User, lag_readings: Callable[[], Awaitable[list[Reading]]] | None
) -> Lag:
    """The lag as /metrics reads it (within the metrics' timeout); unreadable when the
    process has no reader."""
    require_admin(viewer)
    if lag_readings is None:
        return Lag(readable=False)
    return lag_of(await lag_readings())


# -- system health ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """One dependency's state: `ok`, a one-line `summary`, and when failing `problem`,
    the error in words. `latency_ms` is the probe's round trip, when it has one."""

    name: str
    ok: bool
    summary: str
    problem: str | None = None
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Figure:
    """One of this process's Prometheus figures, ready to show."""

    group: str
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class SystemHealth:
    checks: list[Check]
    figures: list[Figure]
    pid: int
    checked_at: datetime


async def system_health(
    deps: Deps,
    viewer: User,
    *,
    engine: Any,
    redis: Any,
    stripe_mode: str,
    lag_readings: Callable[[], Awaitable[list[Reading]]] | None,
    timeout_seconds: float = HEALTH_TIMEOUT_SECONDS,
    registry: CollectorRegistry = REGISTRY,
) -> SystemHealth:
    """Every check at once, each within `timeout_seconds`, and this process's figures."""
    require_admin(viewer)
    postgres, redis_check, search, lag = await asyncio.gather(
        _probe("PostgreSQL", timeout_seconds, lambda: _postgres(engine)),
        _probe("Redis", timeout_seconds, lambda: _redis(redis)),
        _probe("Search", timeout_seconds, lambda: _search(deps.search)),
        _lag_checks(lag_readings, timeout_seconds),
    )
    checks = [postgres, redis_check, search, stripe_check(stripe_mode), *lag]
    return SystemHealth(checks, process_figures(registry), os.getpid(), deps.clock())


Probe = Callable[[], Awaitable[tuple[str, bool]]]


async def _probe(name: str, timeout_seconds: float, probe: Probe) -> Check:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_seconds):
            summary, ok = await probe()
    except Exception as err:  # a health check reports every failure, it never raises
        return Check(name, False, "failing", problem=describe(err, timeout_seconds))
    latency = (time.perf_counter() - started) * 1000
    return Check(name, ok, summary, latency_ms=latency)


async def _postgres(engine: Any) -> tuple[str, bool]:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        version = (await conn.execute(text("SHOW server_version"))).scalar_one()
    return f"PostgreSQL {str(version).split()[0]}", True


async def _redis(redis: Any) -> tuple[str, bool]:
    await redis.ping()
    info = await redis.info("memory")
    # A cluster client answers per node: {node: {...}}; one node answers {...}.
    nodes = [info] if "used_memory" in info else [v for v in info.values() if isinstance(v, dict)]
    used = sum(int(node.get("used_memory", 0)) for node in nodes)
    where = f" on {len(nodes)} nodes" if len(nodes) > 1 else ""
    return f"{_bytes(used)} used{where}", True


def _count(count: int, noun: str) -> str:
    """ "1 event", "3 events" (the checks' summaries, read by people on /health)."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


async def _search(search: SearchIndex | None) -> tuple[str, bool]:
    if search is None:
        return "no search index configured", False
    documents = await search.count()
    return f"{search.name}: {_count(documents, 'document')}", True


def stripe_check(mode: str) -> Check:
    """Stripe's mode: "live", "test" (Stripe's test mode) or "emulator" (no key set)."""
    words = {
        "live": "live: real cards are charged",
        "test": "test mode: Stripe's test cards only",
        "emulator": "emulator: no Stripe key is set (development)",
    }
    return Check("Stripe", True, words.get(mode, mode))


async def _lag_checks(
    lag_readings: Callable[[], Awaitable[list[Reading]]] | None, timeout_seconds: float
) -> list[Check]:
    problem = None
    try:
        async with asyncio.timeout(timeout_seconds):
            lag = lag_of(await lag_readings()) if lag_readings is not None else Lag(False)
    except Exception as err:  # reported, never raised
        lag, problem = Lag(False), describe(err, timeout_seconds)
    if not lag.readable:
        problem = problem or "Redis did not answer the lag read in time"
        return [
            Check("Persister lag", False, "unknown", problem=problem),
            Check("Closer lag", False, "unknown", problem=problem),
        ]
    persister_ok = lag.outbox_oldest_seconds <= LAG_LIMIT_SECONDS
    closer_ok = lag.closer_seconds <= LAG_LIMIT_SECONDS
    return [
        Check(
            "Persister lag",
            persister_ok,
            f"{_count(lag.outbox_pending, 'event')} waiting, oldest"
            f" {lag.outbox_oldest_seconds:.1f} s",
            problem=None
            if persister_ok
            else f"events wait more than {LAG_LIMIT_SECONDS:g} s to reach PostgreSQL",
        ),
        Check(
            "Closer lag",
            closer_ok,
            f"{_count(lag.closer_overdue, 'auction')} overdue, oldest {lag.closer_seconds:.1f} s",
            problem=None
            if closer_ok
            else f"auctions end more than {LAG_LIMIT_SECONDS:g} s after their end time",
        ),
    ]


def describe(err: BaseException, timeout: float) -> str:
    """An error in words for a person."""
    if isinstance(err, TimeoutError):
        return f"no answer within {timeout:g} s"
    message = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, ConnectionError | OSError) or "connect" in type(err).__name__.lower():
        return f"cannot connect ({message or type(err).__name__})"[:300]
    return f"{type(err).__name__}: {message}"[:300] if message else type(err).__name__


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


# -- this process's Prometheus figures ----------------------------------------------------


def process_figures(registry: CollectorRegistry = REGISTRY) -> list[Figure]:
    """This process's share of /metrics (its own registry, also in multiprocess mode):
    bids, bid decision time, live connections, persister batches, search freshness."""
    totals: dict[str, float] = defaultdict(float)
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name.endswith("_created"):
                continue
            if sample.name.endswith("_bucket"):
                key = _keyed(sample.name, sample.labels)
                buckets[key][float(sample.labels["le"])] += sample.value
                continue
            totals[sample.name] += sample.value
            if sample.labels:
                totals[_keyed(sample.name, sample.labels)] += sample.value

    def count(name: str) -> str:
        return f"{int(totals.get(name, 0)):,}"

    accepted = "gavel_bid_seconds_bucket{outcome=accepted}"
    figures = [
        Figure("Bids", "Accepted", count("gavel_bids_accepted_total")),
        Figure("Bids", "Rejected", count("gavel_bids_rejected_total")),
        Figure("Bids", "Failed (errors)", count("gavel_bid_seconds_count{outcome=error}")),
        Figure("Bids", "Decision time, median", _quantile(buckets.get(accepted), 0.5)),
        Figure("Bids", "Decision time, 99th percentile", _quantile(buckets.get(accepted), 0.99)),
        Figure("Live connections", "WebSockets open", count("gavel_websockets_open")),
        Figure("Live connections", "Event streams open", count("gavel_sse_streams_open")),
        Figure("Live connections", "Auction subscriptions", count("gavel_subscriptions_open")),
        Figure("Live connections", "Events delivered", count("gavel_events_delivered_total")),
        Figure("Persister", "Batches written", count("gavel_persister_batch_events_count")),
        Figure("Persister", "Events written", count("gavel_persister_batch_events_sum")),
        Figure("Search index", "Documents written", count("gavel_search_documents_indexed_total")),
        Figure("Search index", "Failed batches", count("gavel_search_index_failures_total")),
        Figure(
            "Search index",
            "Freshness lag, median",
            _quantile(buckets.get("gavel_search_index_lag_seconds_bucket"), 0.5),
        ),
        Figure(
            "Search index",
            "Freshness lag, 95th percentile",
            _quantile(buckets.get("gavel_search_index_lag_seconds_bucket"), 0.95),
        ),
        Figure("GraphQL", "Requests answered", count("gavel_graphql_request_seconds_count")),
    ]
    return figures


def _keyed(name: str, labels: dict[str, str]) -> str:
    kept = ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "le")
    return f"{name}{{{kept}}}" if kept else name


def _quantile(cumulative: dict[float, float] | None, q: float) -> str:
    """The bucket bound under which a `q` share of the observations fell ("≤ 1 ms"); "—"
    before any observation."""
    if not cumulative:
        return "—"
    total = cumulative.get(float("inf"), max(cumulative.values()))
    if total <= 0:
        return "—"
    for bound in sorted(cumulative):
        if cumulative[bound] >= q * total:
            if bound == float("inf"):
                return f"> {_seconds(max(b for b in cumulative if b != float('inf')))}"
            return f"≤ {_seconds(bound)}"
    return "—"


def _seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:g} ms"
    return f"{value:g} s"
