"""Prometheus metrics of the app (SPEC §10), served as text at GET /metrics.

Several workers: prometheus-client's multiprocess mode. With PROMETHEUS_MULTIPROC_DIR set
(before the process starts; the library picks its storage at import), every process
writes its samples to memory-mapped files in that directory, and a scrape of any worker
reads all of them: counters and histograms add up over every process that has served
since the directory was wiped, gauges of open connections add up over the live ones.
Per-process labels were the alternative, but behind `uvicorn --workers N` a scraper
reaches one worker per scrape (they share a port), so each scrape would see a different
process's numbers and the rest would be missing; multiprocess mode makes any scrape the
whole. The directory must be empty when the server starts (README "Metrics"). Without it
the samples live in this process's memory, which is right for one worker.

Label values come from fixed sets, except the GraphQL operation name, which the client
chooses: `OperationLabels` admits only short identifier-like names and at most
`MAX_OPERATION_NAMES` distinct ones per process (then "other"), so a client sending
random names cannot grow the series without bound. Nothing here names a user, an
auction or an address.

Hot paths use label children bound once (`BID_SECONDS_BY_OUTCOME`, ...): an `observe`
or `inc` on a child is a lock and an add (a write to the mapped file in multiprocess
mode), with no label lookup per call.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.util import Finalize

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds. A bid decided by its slot takes about a millisecond; a slot rebuilt from
# PostgreSQL or a congested Redis takes tens to hundreds.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

BID_SECONDS = Histogram(
    "gavel_bid_seconds",
    "Time to decide a placeBid/buyNow (services/bidding.place_bid), by outcome: accepted, "
    "rejected (a payload rejection) or error (raised: invalid input, outage, fault).",
    ["outcome"],
    buckets=LATENCY_BUCKETS,
)
BID_SECONDS_BY_OUTCOME = {o: BID_SECONDS.labels(o) for o in ("accepted", "rejected", "error")}

BIDS_ACCEPTED = Counter("gavel_bids_accepted", "Bids (and buy-nows) accepted.")
BIDS_REJECTED = Counter(
    "gavel_bids_rejected", "Bids (and buy-nows) rejected, by rejection code.", ["reason"]
)
OTHER = "other"


def rejection_counters(reasons: Iterable[str]) -> dict[str, Counter]:
    """Counter children for every rejection code of the catalogue, plus "other" (a code
    missing from it): bound once, and present at zero from the start."""
    return {reason: BIDS_REJECTED.labels(reason) for reason in (*reasons, OTHER)}


GRAPHQL_SECONDS = Histogram(
    "gavel_graphql_request_seconds",
    "Time to answer a GraphQL query or mutation (HTTP; subscriptions are streams and are "
    "counted by gavel_subscriptions_open), by operation name and type.",
    ["operation", "type"],
    buckets=LATENCY_BUCKETS,
)

# Live connections: summed over the live processes in multiprocess mode.
WEBSOCKETS_OPEN = Gauge(
    "gavel_websockets_open", "WebSocket connections open.", multiprocess_mode="livesum"
)
SSE_STREAMS_OPEN = Gauge(
    "gavel_sse_streams_open",
    "Server-sent event subscription streams open.",
    multiprocess_mode="livesum",
)
SUBSCRIPTIONS_OPEN = Gauge(
    "gavel_subscriptions_open",
    "Auction subscriptions following a live feed, over any transport.",
    multiprocess_mode="livesum",
)
EVENTS_DELIVERED = Counter(
    "gavel_events_delivered",
    "Auction events handed to live subscribers (one per event and subscriber).",
)
PERSISTER_BATCH = Histogram(
    "gavel_persister_batch_events",
    "Events the outbox persister wrote to PostgreSQL per batch of auctions it read.",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
)

# --- Search freshness (issue 16: services/search/indexer.py) --------------------------
# Seconds from a change's commit being queued (the trigger's clock) to its document being
# visible to searches; the target is under 1 s.
SEARCH_INDEX_LAG = Histogram(
    "gavel_search_index_lag_seconds",
    "Time from an auction change being queued for the search index to its document being "
    "written there (services/search/indexer.py).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
SEARCH_INDEXED = Counter(
    "gavel_search_documents_indexed",
    "Auctions the search indexer wrote (upserted or deleted) in the index.",
)
SEARCH_INDEX_FAILURES = Counter(
    "gavel_search_index_failures",
    "Indexer batches that failed (the index or PostgreSQL was down); their auctions stay "
    "queued and are retried.",
)

MAX_OPERATION_NAME = 64
MAX_OPERATION_NAMES = 200
ANONYMOUS = "anonymous"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
OPERATION_TYPES = frozenset({"query", "mutation", "subscription"})


class OperationLabels:
    """The `operation` label for a client's operation name, bounded: at most
    `max_names` distinct names (first come), each an identifier of at most
    `max_length` characters; anything else is "other", no name is "anonymous"."""

    def __init__(
        self, *, max_names: int = MAX_OPERATION_NAMES, max_length: int = MAX_OPERATION_NAME
    ) -> None:
        self.max_names = max_names
        self.max_length = max_length
        self.names: set[str] = set()
        self.children: dict[tuple[str, str], Histogram] = {}

    def label(self, name: object) -> str:
        """`name` is what the request said: any JSON value (a malformed request's too)."""
        if name is None or name == "":
            return ANONYMOUS
        if not isinstance(name, str):
            return OTHER
        if name in self.names:
            return name
        if (
            len(name) > self.max_length
            or len(self.names) >= self.max_names
            or not _NAME.fullmatch(name)
        ):
            return OTHER
        self.names.add(name)
        return name

    def histogram(self, name: object, kind: str) -> Histogram:
        """The latency histogram child for an operation (bound once per label pair)."""
        key = (self.label(name), kind if kind in OPERATION_TYPES else "unknown")
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = GRAPHQL_SECONDS.labels(*key)
        return child


OPERATIONS = OperationLabels()


@dataclass(frozen=True, slots=True)
class Reading:
    """A value read at scrape time (from Redis): a gauge sample."""

    name: str
    documentation: str
    value: float


class _Readings(Collector):
    def __init__(self, readings: Iterable[Reading]) -> None:
        self.readings = tuple(readings)

    def collect(self) -> Iterator[Metric]:
        for r in self.readings:
            yield GaugeMetricFamily(r.name, r.documentation, value=r.value)


def multiproc_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(readings: Iterable[Reading] = (), *, directory: str | None = None) -> bytes:
    """The text a scrape answers: this process's metrics, or, in multiprocess mode (the
    directory defaults to PROMETHEUS_MULTIPROC_DIR), every process's; then `readings`."""
    directory = directory or multiproc_dir()
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    scraped = CollectorRegistry()
    scraped.register(_Readings(readings))
    return text + generate_latest(scraped)


def _forget_live_gauges() -> None:
    """A worker that exits takes its open-connection counts with it (livesum gauges)."""
    directory = multiproc_dir()
    if directory:
        multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


# A multiprocessing exit finalizer runs however the process ends normally: forked
# children end with os._exit (no atexit handlers), spawned ones (uvicorn's workers) and
# plain processes run it from multiprocessing's own atexit handler.
Finalize(None, _forget_live_gauges, exitpriority=0)
