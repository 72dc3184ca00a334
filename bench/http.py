"""HTTP-level throughput: GraphQL placeBid vs the same server's `{ __typename }`.

    .venv/bin/python -m bench.http [--seconds 10] [--connections 64]

One uvicorn worker pinned to core 0, wrk (Debian package) pinned to core 1, same flags
for every run: (e) `{ __typename }`, (d1) placeBid on one hot auction, (d2) placeBid spread
over 1,000 auctions. 64 bidders' tokens, random amounts (a mix of accepted and too-low
bids). Prints a table and writes bench/results/http.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from bench.engine import migrate, prepare_live
from bench.server import start_pinned, stop
from bench.stats import Run, table
from devservers.ports import free_port
from devservers.stack import embedded_stack
from realtime.slots import AuctionSlots

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"
SECRET = "bench-http-" + "y" * 40


def wrk(
    port: int,
    mode: str,
    data: dict[str, list[str]],
    auctions: list[str],
    seconds: float,
    connections: int,
    name: str,
    redis_url: str,
) -> Run:
    OUT.mkdir(parents=True, exist_ok=True)
    setup = OUT / f"wrk_setup_{mode}.json"
    setup.write_text(json.dumps({"mode": mode, "tokens": data["tokens"], "auctions": auctions}))
    before = asyncio.run(accepted_bids(redis_url, auctions)) if mode == "bid" else 0
    cmd = [
        "taskset",
        "-c",
        "1",
        "wrk",
        "-t",
        "2",
        "-c",
        str(connections),
        "-d",
        f"{int(seconds)}s",
        "--latency",
        "-s",
        str(ROOT / "bench" / "wrk_graphql.lua"),
        f"http://127.0.0.1:{port}/graphql",
    ]
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GAVEL_WRK_SETUP": str(setup)},
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("GAVEL "))
    stats = json.loads(line[6:])
    after = asyncio.run(accepted_bids(redis_url, auctions)) if mode == "bid" else 0
    ok = stats["requests"] - stats["non2xx"]
    run = Run(
        name,
        seconds=stats["seconds"],
        accepted=after - before,
        rejected=ok - (after - before),
        notes=f"non-2xx {stats['non2xx']}",
    )
    run.measured = {50: stats["p50"], 95: stats["p95"], 99: stats["p99"]}
    return run


async def accepted_bids(redis_url: str, auctions: list[str]) -> int:
    """Accepted bids so far, read from the slots: the server is the source of truth."""
    redis = aioredis.from_url(redis_url, decode_responses=True)
    try:
        states = await AuctionSlots(redis).live([uuid.UUID(a) for a in auctions])
    finally:
        await redis.aclose()
    return sum(s.bid_count for s in states if s is not None)


def main(seconds: float, connections: int, loop: str) -> list[dict[str, object]]:
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    with (
        tempfile.TemporaryDirectory(prefix="gavel-bench-http-") as tmp,
        embedded_stack(Path(tmp), durable=True) as urls,
    ):
        migrate(urls.database_url)
        data = asyncio.run(prepare_live(urls, Path(tmp), SECRET, 64, 1000))
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": urls.database_url,
            "REDIS_URL": urls.redis_url,
            "GAVEL_JWT_SECRET": SECRET,
            "GAVEL_DATA_DIR": tmp,
        }
        server = start_pinned(port, env, loop)
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            rows = [
                wrk(
                    port,
                    "typename",
                    data,
                    data["auctions"],
                    seconds,
                    connections,
                    f"e) {{ __typename }} ({loop})",
                    urls.redis_url,
                ).row(),
                wrk(
                    port,
                    "bid",
                    data,
                    data["auctions"][:1],
                    seconds,
                    connections,
                    f"d1) placeBid, 1 hot auction ({loop})",
                    urls.redis_url,
                ).row(),
                wrk(
                    port,
                    "bid",
                    data,
                    data["auctions"],
                    seconds,
                    connections,
                    f"d2) placeBid, 1,000 auctions ({loop})",
                    urls.redis_url,
                ).row(),
            ]
        finally:
            stop(server)
    base = rows[0]["decided_per_s"] or 1
    for row in rows[1:]:
        row["notes"] = f"{row['notes']}; {int(row['decided_per_s']) / int(base):.2f}x typename"  # type: ignore[call-overload]
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--loop", default="uvloop", choices=["uvloop", "asyncio"])
    args = parser.parse_args()
    result = main(args.seconds, args.connections, args.loop)
    print(table(result))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"http-{args.loop}.json").write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(),
                "seconds": args.seconds,
                "connections": args.connections,
                "loop": args.loop,
                "rows": result,
            },
            indent=2,
        )
    )
