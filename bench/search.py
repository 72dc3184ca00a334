"""Search latency on the embedded (PostgreSQL) backend, at the port and as GraphQL over HTTP.

    .venv/bin/python -m bench.search [--auctions 100000] [--queries 300]   (make bench-search)

In a throwaway PostgreSQL and Redis (devservers, as the other benchmarks): writes a
corpus of `--auctions` auctions (seeds/search_corpus.py, progress bar), builds the index
with the reindex command's code (services/search/reindex.py: build beside, then swap;
timed, with the index's size from pg_total_relation_size), times the indexer draining
a backlog of 10,000 changed auctions (its throughput), then measures latency p50/p95/p99
of three query groups, one query at a time:

(a) one word; (b) two words and two filters; (c) queries with typos; (d) no text (the
broadest: every searchable auction, or a category or type of them),

- at the port: `SearchIndex.search` with the request the API's first page makes (up to
  MAX_RESULTS ordered ids, the total and the facets);
- as GraphQL over HTTP: `searchAuctions` (first page of 20, totalCount, three facet
  lists) posted to a real uvicorn server (one worker pinned to core 0, bench/server.py).

Target: p99 <= 50 ms for (b). Prints a table and writes bench/results/search.json;
docs/performance.md "Search (issue 16)" has the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from tqdm import tqdm

from adapters.search.postgres import PostgresSearchIndex
from bench.engine import migrate
from bench.server import start_pinned, stop
from devservers.ports import free_port
from devservers.stack import embedded_stack
from domain.categories import subtree
from domain.enums import AuctionType, ItemCondition
from seeds.search_corpus import write_corpus
from services.search.indexer import index_pending
from services.search.port import MAX_RESULTS, SearchFilter, SearchRequest, scaled_bound
from services.search.reindex import reindex
from storage.db import make_engine, make_session_factory
from storage.uow import UnitOfWorkFactory

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"
SECRET = "bench-search-" + "z" * 40
TARGET_P99_MS = 50.0
BACKLOG = 10_000
# Index tables (adapters/search/postgres.py) and the source tables, for the size report.
SIZED = (
    "search_documents",
    "search_vocabulary",
    "search_word_variants",
    "search_stem_variants",
    "auctions",
    "items",
)


@dataclass(frozen=True, slots=True)
class Query:
    """One query: its words, and its filter both as the port's and as the API's."""

    text: str
    port: SearchFilter = field(default_factory=SearchFilter)
    api: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Its name in the per-query medians (queries without words differ by filter)."""
        return self.text or f"(no text) {json.dumps(self.api)}"


def void(_: object) -> None:
    """Drops a value (tqdm's `update` answers one; progress callbacks answer none)."""


def _price(major: str, *, upper: bool) -> int:
    return scaled_bound(Decimal(major), upper=upper)


ONE_WORD = [
    Query(word)
    for word in (
        "camera",
        "vintage",
        "guitar",
        "leather",
        "turntable",
        "Leica",
        "watch",
        "brass",
        "bicycle",
        "painting",
        "restored",
        "amplifier",
    )
]

TWO_WORDS_TWO_FILTERS = [
    Query(
        "vintage camera",
        SearchFilter(categories=subtree("cameras"), max_price_scaled=_price("500", upper=True)),
        {"category": "cameras", "maxPrice": "500"},
    ),
    Query(
        "leather watch",
        SearchFilter(categories=subtree("fashion"), types=(AuctionType.ENGLISH,)),
        {"category": "fashion", "types": ["ENGLISH"]},
    ),
    Query(
        "brass lamp",
        SearchFilter(
            conditions=(ItemCondition.USED, ItemCondition.LIKE_NEW),
            min_price_scaled=_price("20", upper=False),
        ),
        {"conditions": ["USED", "LIKE_NEW"], "minPrice": "20"},
    ),
    Query(
        "walnut turntable",
        SearchFilter(categories=subtree("electronics"), has_buy_now=False),
        {"category": "electronics", "hasBuyNow": False},
    ),
    Query(
        "restored guitar",
        SearchFilter(
            categories=subtree("music"),
            min_price_scaled=_price("50", upper=False),
            max_price_scaled=_price("5000", upper=True),
        ),
        {"category": "music", "minPrice": "50", "maxPrice": "5000"},
    ),
    Query(
        "rare coin",
        SearchFilter(types=(AuctionType.ENGLISH, AuctionType.DUTCH), reserve_met=True),
        {"types": ["ENGLISH", "DUTCH"], "reserveMet": True},
    ),
]

TYPOS = [
    Query(words)
    for words in (
        "vintge camra",
        "guitr",
        "turntabel",
        "leathr jacket",
        "amplifer",
        "bicylce",
        "paintnig",
        "telescpoe",
        "restord lamp",
        "handbga",
    )
]

# The broadest searches: no words (browsing by facets), about 75,000 matches unfiltered.
NO_TEXT = [
    Query(""),
    Query("", SearchFilter(categories=subtree("home")), {"category": "home"}),
    Query("", SearchFilter(types=(AuctionType.ENGLISH,)), {"types": ["ENGLISH"]}),
]

GROUPS = {
    "a) one word": ONE_WORD,
    "b) two words + two filters": TWO_WORDS_TWO_FILTERS,
    "c) typos": TYPOS,
    "d) no text": NO_TEXT,
}

SEARCH = """
query Search($query: String, $filter: AuctionFilter) {
  searchAuctions(query: $query, filter: $filter, first: 20) {
    totalCount
    edges { cursor node { id currentPrice { amount currency } item { title } } }
    pageInfo { hasNextPage endCursor }
    categoryFacets { value count }
    typeFacets { value count }
    conditionFacets { value count }
  }
}"""


def percentiles(latencies_ms: list[float]) -> dict[str, float]:
    ordered = sorted(latencies_ms)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)

    return {"p50_ms": at(50), "p95_ms": at(95), "p99_ms": at(99)}


async def timed(
    queries: list[Query], count: int, run: Callable[[Query], Awaitable[Any]]
) -> tuple[list[float], dict[str, float]]:
    """Latencies (ms) of `count` queries taken in turn, and each query's median."""
    for query in queries:  # warm-up: plans and caches, not measured
        await run(query)
    latencies = []
    each: dict[str, list[float]] = {q.label: [] for q in queries}
    for i in range(count):
        query = queries[i % len(queries)]
        started = time.perf_counter()
        await run(query)
        latencies.append((time.perf_counter() - started) * 1000)
        each[query.label].append(latencies[-1])
    medians = {text: round(sorted(v)[len(v) // 2], 2) for text, v in each.items() if v}
    return latencies, medians


async def sizes(engine: AsyncEngine) -> dict[str, dict[str, int]]:
    out = {}
    async with engine.connect() as conn:
        for table in SIZED:
            row = (
                await conn.execute(
                    text(
                        "SELECT pg_total_relation_size(CAST(:t AS regclass)),"
                        " pg_indexes_size(CAST(:t AS regclass))"
                    ),
                    {"t": table},
                )
            ).one()
            out[table] = {"total_bytes": int(row[0]), "index_bytes": int(row[1])}
    return out


async def build(engine: AsyncEngine, auctions: int) -> dict[str, Any]:
    """Write the corpus, build the index (timed), time the indexer on a backlog."""
    now = datetime.now(UTC)
    with tqdm(total=auctions, unit="auction", desc="corpus") as bar:
        started = time.perf_counter()
        await write_corpus(engine, auctions, now, progress=lambda n: void(bar.update(n)))
        corpus_seconds = time.perf_counter() - started
    uow = UnitOfWorkFactory(make_session_factory(engine))
    index = PostgresSearchIndex(engine)
    await index.prepare()
    with tqdm(total=auctions, unit="doc", desc="index build") as bar:
        started = time.perf_counter()

        done = await reindex(
            uow, index, clock=lambda: datetime.now(UTC), progress=lambda n: void(bar.update(n))
        )
        build_seconds = time.perf_counter() - started
    backlog = min(BACKLOG, auctions)
    # The corpus's inserts queued every auction for the indexer: the rebuild covered
    # them. A backlog of BACKLOG of them, queued again, times the indexer's throughput.
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM search_pending"))
        await conn.execute(
            text(
                "INSERT INTO search_pending (auction_id, queued_at)"
                " SELECT id, clock_timestamp() FROM auctions ORDER BY id LIMIT :n"
            ),
            {"n": backlog},
        )
    with tqdm(total=backlog, unit="doc", desc="indexer backlog") as bar:
        started = time.perf_counter()
        while (
            passed := await index_pending(uow, index, batch=500, clock=lambda: datetime.now(UTC))
        ).claimed:
            bar.update(passed.claimed)
        drain_seconds = time.perf_counter() - started
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    return {
        "auctions": auctions,
        "corpus_seconds": round(corpus_seconds, 2),
        "documents": done.written,
        "build_seconds": round(build_seconds, 2),
        "indexer_docs_per_s": round(backlog / drain_seconds) if drain_seconds else None,
        "sizes": await sizes(engine),
    }


async def at_port(engine: AsyncEngine, count: int) -> list[dict[str, Any]]:
    index = PostgresSearchIndex(engine)
    rows = []
    for name, queries in GROUPS.items():

        async def run(query: Query) -> Any:
            return await index.search(
                SearchRequest(query.text, query.port, limit=MAX_RESULTS, facets=True)
            )

        latencies, medians = await timed(queries, count, run)
        rows.append(
            {
                "name": f"{name} (port)",
                "queries": count,
                **percentiles(latencies),
                "median_per_query_ms": medians,
            }
        )
    return rows


async def over_http(port: int, count: int) -> list[dict[str, Any]]:
    rows = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for name, queries in GROUPS.items():
            failures: list[Any] = []

            async def run(query: Query, failures: list[Any] = failures) -> Any:
                response = await client.post(
                    "/graphql",
                    json={"query": SEARCH, "variables": {"query": query.text, "filter": query.api}},
                )
                body = response.json()
                if response.status_code != 200 or body.get("errors"):
                    failures.append(body.get("errors") or response.status_code)
                return body

            latencies, medians = await timed(queries, count, run)
            rows.append(
                {
                    "name": f"{name} (GraphQL/HTTP)",
                    "queries": count,
                    **percentiles(latencies),
                    "median_per_query_ms": medians,
                    "errors": len(failures),
                    "first_error": failures[0] if failures else None,
                }
            )

        # The server's floor on this machine at this moment: the same transport, no work.
        async def baseline(_: Query) -> Any:
            return (await client.post("/graphql", json={"query": "{ __typename }"})).json()

        latencies, _ = await timed([Query("")], count, baseline)
        rows.append(
            {
                "name": "e) { __typename } baseline (GraphQL/HTTP)",
                "queries": count,
                **percentiles(latencies),
                "median_per_query_ms": {},
            }
        )
    return rows


def serve(urls: Any, tmp: str) -> tuple[Any, int]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": urls.database_url,
        "REDIS_URL": urls.redis_url,
        "GAVEL_JWT_SECRET": SECRET,
        "GAVEL_DATA_DIR": tmp,
        # A log line per request would be part of what is measured.
        "GAVEL_LOG_LEVEL": "WARNING",
        # The corpus appeared at once: a scheduler would spend the run seeding 100,000
        # slots and closing the ended ones, a load a steady server never has. The
        # indexer stays on (its queue is empty), as in production.
        "GAVEL_RUN_SCHEDULER": "false",
        "GAVEL_RUN_SETTLEMENT": "false",
        "GAVEL_RUN_NOTIFICATION_JOBS": "false",
        "GAVEL_FRAUD_SCORER": "false",
    }
    server = start_pinned(port, env, "uvloop")
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return server, port
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(server)
    raise RuntimeError("the app server did not start")


def main(auctions: int, count: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="gavel-bench-search-") as tmp,
        embedded_stack(Path(tmp), durable=True) as urls,
    ):
        migrate(urls.database_url)
        engine = make_engine(urls.database_url)

        async def prepare() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            try:
                built = await build(engine, auctions)
                return built, await at_port(engine, count)
            finally:
                await engine.dispose()

        built, rows = asyncio.run(prepare())
        server, port = serve(urls, tmp)
        try:
            rows += asyncio.run(over_http(port, count))
        finally:
            stop(server)
    target = next(r for r in rows if r["name"].startswith("b)") and "HTTP" in r["name"])
    return {
        "when": datetime.now(UTC).isoformat(),
        # Other work on the machine shows in the figures: the 1/5/15-minute load then.
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "build": built,
        "rows": rows,
        "target_p99_ms": TARGET_P99_MS,
        "target_met_http": target["p99_ms"] <= TARGET_P99_MS,
    }


def table(rows: list[dict[str, Any]]) -> str:
    cols = ["name", "queries", "p50_ms", "p95_ms", "p99_ms", "errors"]
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--auctions", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300, help="per group and transport")
    args = parser.parse_args()
    result = main(args.auctions, args.queries)
    print(json.dumps(result["build"], indent=2))
    print(table(result["rows"]))
    for row in result["rows"]:
        print(row["name"], row["median_per_query_ms"])
    print("load average", result["load_average"])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "search.json").write_text(json.dumps(result, indent=2, default=str))
