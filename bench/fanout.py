"""Subscription fan-out: N WebSocket subscribers of one auction's `auctionUpdated`.

    .venv/bin/python -m bench.fanout [--subscribers 1000 5000] [--bids 20]

For each subscriber count N: a fresh uvicorn worker pinned to core 0 (`--ws websockets`,
uvloop, same flags as bench/http.py) and a client process pinned to core 1 that opens N
graphql-transport-ws sockets (in batches, each acknowledged), subscribes all of them to ONE
auction with `sinceSequence: 0`, places a warm-up bid and waits until every subscriber got
it (that proves each subscription is live), then places `--bids` bids one at a time with
GraphQL `placeBid` over HTTP. Delivery latency of a (bid, subscriber) pair = the client's
receive time - the time just before it sent the placeBid request (one process, one clock).
The next bid is placed once the previous one reached everybody (or timed out: missed).

Reported per N: delivered messages/s (N x bids over the summed send → last-delivery spans),
delivery p50/p95/p99, missed deliveries, server RSS before/after connecting and per idle
subscription, server and client CPU while fanning out (a saturated client would distort the
figures). Prints a table and writes bench/results/fanout.json. If N cannot be reached
(file descriptors, memory, time-outs) the row says how far it got and why.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.engine import migrate, prepare_live
from bench.server import start_pinned, stop
from bench.stats import Run
from devservers.ports import free_port
from devservers.stack import StackUrls, embedded_stack

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"
SECRET = "bench-fanout-" + "z" * 40
PROTOCOL = "graphql-transport-ws"

SUBSCRIBE = """
subscription($id: ID!, $since: Int) {
  auctionUpdated(auctionId: $id, sinceSequence: $since) {
    auctionId kind sequence currentPrice { amount currency } bidCount endsAt leaderId at
  }
}"""

BID = """
mutation($id: ID!, $amount: Decimal!) {
  placeBid(auctionId: $id, amount: $amount) {
    __typename
    ... on BidAccepted { bid { sequence } }
    ... on BidRejected { reason message }
  }
}"""

CONNECT_TIMEOUT = 30.0  # one batch of sockets: open, connection_init → connection_ack
DELIVERY_TIMEOUT = 30.0  # one event to every subscriber
FDS_SPARE = 200  # descriptors beyond one per socket (Redis, PostgreSQL, files, …)


def raise_nofile() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (children inherit it); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------
# Setup (orchestrator): users and auctions straight through the domain.


# ---------------------------------------------------------------------------------------
# Client process (pinned to core 1).


class Fanout:
    """N graphql-transport-ws sockets subscribed to one auction; receipts by sequence."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.url = f"ws://127.0.0.1:{cfg['port']}/graphql"
        self.http = f"http://127.0.0.1:{cfg['port']}/graphql"
        self.compression = "deflate" if cfg["compression"] else None
        self.sockets: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        self.received: dict[int, list[float]] = defaultdict(list)
        self.target = 0  # receipts of one sequence that complete it
        self.complete: dict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self.errors: list[str] = []
        self.closed = 0
        self.bidder = 0
        self.amount = 0

    async def open_one(self, auction_id: str) -> Any:
        from websockets.asyncio.client import connect

        ws = await connect(
            self.url,
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
            open_timeout=CONNECT_TIMEOUT,
            ping_interval=None,  # no client pings: they would be traffic of their own
            compression=self.compression,
            max_queue=64,
        )
        try:
            await ws.send('{"type":"connection_init"}')
            while True:
                ack = json.loads(await ws.recv())
                if ack["type"] == "ping":
                    await ws.send('{"type":"pong"}')
                    continue
                if ack["type"] != "connection_ack":
                    raise RuntimeError(f"expected connection_ack, got {ack}")
                break
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {
                            "query": SUBSCRIBE,
                            "variables": {"id": auction_id, "since": 0},
                        },
                    }
                )
            )
        except BaseException:
            ws.transport.abort()
            raise
        return ws

    async def read(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        clock = time.perf_counter
        received, complete = self.received, self.complete
        try:
            async for raw in ws:
                now = clock()
                message = json.loads(raw)
                kind = message["type"]
                if kind == "next":
                    payload = message["payload"]
                    if payload.get("errors"):
                        self.errors.append(json.dumps(payload["errors"])[:300])
                        continue
                    seq = payload["data"]["auctionUpdated"]["sequence"]
                    times = received[seq]
                    times.append(now)
                    if len(times) == self.target:
                        complete[seq].set()
                elif kind == "ping":
                    await ws.send('{"type":"pong"}')
                elif kind in ("error", "complete"):
                    self.errors.append(str(raw)[:300])
        except ConnectionClosed as closed:
            self.closed += 1
            if len(self.errors) < 20:
                self.errors.append(f"socket closed: {closed}")

    async def connect(
        self, auction_id: str, count: int, batch: int, result: dict[str, Any]
    ) -> None:
        began = time.perf_counter()
        while len(self.sockets) < count:
            size = min(batch, count - len(self.sockets))
            opened = await asyncio.gather(
                *(self.open_one(auction_id) for _ in range(size)), return_exceptions=True
            )
            failures = [o for o in opened if isinstance(o, BaseException)]
            for ws in opened:
                if not isinstance(ws, BaseException):
                    self.sockets.append(ws)
                    self.readers.append(asyncio.create_task(self.read(ws)))
            result["connected"] = len(self.sockets)
            if failures:
                raise RuntimeError(
                    f"{len(failures)} of a batch of {size} sockets failed after "
                    f"{len(self.sockets)} were open: {failures[0]!r}"
                )
            if len(self.sockets) % (batch * 10) == 0 or len(self.sockets) == count:
                log(f"  {len(self.sockets)}/{count} sockets acknowledged and subscribing")
        result["connect_seconds"] = round(time.perf_counter() - began, 2)

    async def bid(self, client: httpx.AsyncClient, auction_id: str) -> tuple[float, int]:
        """Place one accepted bid; (perf_counter just before sending, its sequence)."""
        tokens = self.cfg["tokens"]
        self.bidder ^= 1  # alternate: the leader is never asked to outbid itself
        self.amount += 100
        t0 = time.perf_counter()
        response = await client.post(
            self.http,
            json={"query": BID, "variables": {"id": auction_id, "amount": str(self.amount)}},
            headers={"Authorization": f"Bearer {tokens[self.bidder]}"},
        )
        body = response.json()
        result = (body.get("data") or {}).get("placeBid") or {}
        if result.get("__typename") != "BidAccepted":
            raise RuntimeError(f"bid of {self.amount} not accepted: {body}")
        return t0, int(result["bid"]["sequence"])

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)

        async def close_one(ws: Any) -> None:
            try:
                await asyncio.wait_for(ws.close(), 5)
            except BaseException:
                ws.transport.abort()

        for start in range(0, len(self.sockets), 500):
            await asyncio.gather(*(close_one(ws) for ws in self.sockets[start : start + 500]))
        self.sockets.clear()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def warm_server(cfg: dict[str, Any]) -> None:
    """One subscription and one bid on a spare auction: first-use costs out of the baseline."""
    fan = Fanout(cfg)
    fan.target = 1
    try:
        await fan.connect(cfg["spare"], 1, 1, {})
        async with httpx.AsyncClient(timeout=30) as client:
            _, seq = await fan.bid(client, cfg["spare"])
        await asyncio.wait_for(fan.complete[seq].wait(), DELIVERY_TIMEOUT)
    finally:
        await fan.close()


async def client_main(cfg: dict[str, Any]) -> dict[str, Any]:
    n, pid, auction = cfg["subscribers"], cfg["server_pid"], cfg["auction"]
    result: dict[str, Any] = {"subscribers": n, "connected": 0, "live": 0}
    limit = raise_nofile()
    result["client_nofile"] = limit
    fan = Fanout(cfg)
    try:
        if n + FDS_SPARE > limit:
            raise RuntimeError(f"client RLIMIT_NOFILE is {limit}: too low for {n} sockets")
        await warm_server(cfg)
        await asyncio.sleep(0.5)
        result["rss_before_kib"] = rss_kib(pid)
        fan.target = n
        await fan.connect(auction, n, cfg["batch"], result)
        async with httpx.AsyncClient(timeout=60) as client:
            # Warm-up: with sinceSequence 0 every subscriber gets bid 1, replayed or live;
            # after it, each subscription is past its replay and listening on the bus.
            _, seq = await fan.bid(client, auction)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fan.complete[seq].wait(), cfg["warmup_timeout"])
            live = len(fan.received[seq])
            result["live"] = live
            if live < n:
                raise RuntimeError(
                    f"only {live} of {n} subscriptions delivered the warm-up bid within "
                    f"{cfg['warmup_timeout']} s; errors: {fan.errors[:3]}"
                )
            log(f"  all {n} subscriptions live")
            await asyncio.sleep(1.0)
            result["rss_after_kib"] = rss_kib(pid)
            result["idle_kib_per_subscription"] = round(
                (result["rss_after_kib"] - result["rss_before_kib"]) / n, 1
            )

            run = Run(f"{n} subscribers")
            spans, missed, http_ms = 0.0, 0, []
            server_cpu0, client_cpu0 = cpu_seconds(pid), time.process_time()
            began = time.perf_counter()
            for _ in range(cfg["bids"]):
                t0, seq = await fan.bid(client, auction)
                http_ms.append((time.perf_counter() - t0) * 1000)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(fan.complete[seq].wait(), DELIVERY_TIMEOUT)
                times = fan.received[seq]
                missed += n - len(times)
                run.latencies_ms.extend((t - t0) * 1000 for t in times)
                if times:
                    spans += max(times) - t0
            wall = time.perf_counter() - began
            server_cpu = cpu_seconds(pid) - server_cpu0
            client_cpu = time.process_time() - client_cpu0
            run.seconds = spans
            run.accepted = len(run.latencies_ms)
            result.update(
                delivered=run.accepted,
                missed=missed,
                delivered_per_s=round(run.accepted / spans) if spans else 0,
                p50_ms=round(run.pct(50), 2),
                p95_ms=round(run.pct(95), 2),
                p99_ms=round(run.pct(99), 2),
                max_ms=round(max(run.latencies_ms, default=0.0), 2),
                placebid_http_p50_ms=round(sorted(http_ms)[len(http_ms) // 2], 2),
                fanout_seconds=round(spans, 3),
                wall_seconds=round(wall, 3),
                server_cpu_pct=round(100 * server_cpu / wall, 1),
                client_cpu_pct=round(100 * client_cpu / wall, 1),
                rss_end_kib=rss_kib(pid),
                errors=fan.errors[:5],
            )
    except Exception as err:
        result["error"] = f"{type(err).__name__}: {err}"
        result["errors"] = fan.errors[:5]
        log(traceback.format_exc())
    finally:
        try:
            await asyncio.wait_for(fan.close(), 120)
        except Exception as err:
            result.setdefault("error", f"closing sockets: {err!r}")
    return result


def client_entry(config_path: str) -> None:
    import uvloop

    cfg = json.loads(Path(config_path).read_text())
    result = uvloop.run(client_main(cfg))
    Path(cfg["result_path"]).write_text(json.dumps(result))


# ---------------------------------------------------------------------------------------
# Orchestrator.


def wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not become healthy in 20 s")


def one_count(
    n: int,
    urls: StackUrls,
    tmp: str,
    data: dict[str, list[str]],
    index: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    log(f"{n} subscribers: starting server")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": urls.database_url,
        "REDIS_URL": urls.redis_url,
        "GAVEL_JWT_SECRET": SECRET,
        "GAVEL_DATA_DIR": tmp,
    }
    server = start_pinned(port, env, args.loop, "--ws", args.ws, "--backlog", "4096")
    client: subprocess.Popen[bytes] | None = None
    result: dict[str, Any] = {"subscribers": n, "connected": 0, "live": 0}
    try:
        wait_healthy(port, server)
        cfg = {
            "port": port,
            "server_pid": server.pid,
            "subscribers": n,
            "bids": args.bids,
            "batch": args.batch,
            "compression": not args.no_compression,
            "warmup_timeout": args.warmup_timeout,
            "tokens": data["tokens"],
            "auction": data["auctions"][2 * index],
            "spare": data["auctions"][2 * index + 1],
            "result_path": str(Path(tmp) / f"fanout-{n}.json"),
        }
        config_path = Path(tmp) / f"fanout-{n}-config.json"
        config_path.write_text(json.dumps(cfg))
        client = subprocess.Popen(
            [
                "taskset",
                "-c",
                "1",
                sys.executable,
                "-m",
                "bench.fanout",
                "--client",
                str(config_path),
            ],
            cwd=ROOT,
        )
        try:
            client.wait(timeout=args.client_timeout)
        except subprocess.TimeoutExpired:
            result["error"] = f"client did not finish within {args.client_timeout} s"
            stop(client)
        path = Path(cfg["result_path"])
        if path.exists():
            result = json.loads(path.read_text())
        elif "error" not in result:
            result["error"] = f"client exited with {client.returncode} without a result"
        if server.poll() is not None:
            result["error"] = f"{result.get('error', '')}; server exited with {server.returncode}"
    except Exception as err:
        result["error"] = f"{type(err).__name__}: {err}"
    finally:
        if client is not None:
            stop(client)
        stop(server)
    return result


def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    limit = raise_nofile()
    log(f"RLIMIT_NOFILE (server and client inherit): {limit}")
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="gavel-bench-fanout-") as tmp,
        embedded_stack(Path(tmp), durable=True) as urls,
    ):
        migrate(urls.database_url)
        data = asyncio.run(prepare_live(urls, Path(tmp), SECRET, 2, 2 * len(args.subscribers)))
        for index, n in enumerate(args.subscribers):
            if n + FDS_SPARE > limit:
                rows.append(
                    {
                        "subscribers": n,
                        "connected": 0,
                        "live": 0,
                        "error": f"RLIMIT_NOFILE hard limit {limit} is too low for {n} sockets",
                    }
                )
                continue
            if index:
                # Right after a previous count, the next one measured p99 2-3x worse in
                # three runs of four (both processes partly idle, tail-loss probes on
                # loopback); after a pause it matched a count run on its own.
                log(f"settling {args.settle:.0f} s after the previous count")
                time.sleep(args.settle)
            row = one_count(n, urls, tmp, data, index, args)
            log(json.dumps(row))
            rows.append(row)
    return rows


COLUMNS = [
    ("subscribers", "N"),
    ("live", "live"),
    ("delivered_per_s", "msgs/s"),
    ("p50_ms", "p50_ms"),
    ("p95_ms", "p95_ms"),
    ("p99_ms", "p99_ms"),
    ("max_ms", "max_ms"),
    ("delivered", "delivered"),
    ("missed", "missed"),
    ("rss_before_kib", "rss0_KiB"),
    ("rss_after_kib", "rss1_KiB"),
    ("idle_kib_per_subscription", "KiB/sub"),
    ("server_cpu_pct", "srv_cpu%"),
    ("client_cpu_pct", "cli_cpu%"),
    ("error", "notes"),
]


def table(rows: list[dict[str, Any]]) -> str:
    cells = [[str(r.get(key, "")) for key, _ in COLUMNS] for r in rows]
    heads = [head for _, head in COLUMNS]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--bids", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100, help="sockets opened at once")
    parser.add_argument("--loop", default="uvloop", choices=["uvloop", "asyncio"])
    parser.add_argument(
        "--ws", default="websockets", choices=["websockets", "websockets-sansio", "wsproto"]
    )
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="do not offer permessage-deflate (browsers and the `websockets` client do)",
    )
    parser.add_argument(
        "--server-compression",
        action="store_true",
        help="run the server with GAVEL_WS_COMPRESSION=true (Gavel's default is off)",
    )
    parser.add_argument(
        "--settle", type=float, default=30.0, help="seconds to pause between counts"
    )
    parser.add_argument("--warmup-timeout", type=float, default=120.0)
    parser.add_argument("--client-timeout", type=float, default=420.0)
    parser.add_argument("--client", help=argparse.SUPPRESS)  # internal: the client process
    args = parser.parse_args()
    if args.client:
        client_entry(args.client)
        sys.exit(0)
    if args.server_compression:
        os.environ["GAVEL_WS_COMPRESSION"] = "true"  # read by uvicorn_command
    result = main(args)
    print(table(result))
    OUT.mkdir(parents=True, exist_ok=True)
    variant = "".join(
        suffix
        for suffix, on in (
            (f"-{args.ws}", args.ws != "websockets"),
            (f"-{args.loop}", args.loop != "uvloop"),
            ("-nocompression", args.no_compression),
            ("-deflate", args.server_compression),
        )
        if on
    )
    path = OUT / f"fanout{variant}.json"  # the default flags write fanout.json
    path.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(),
                "bids": args.bids,
                "loop": args.loop,
                "ws": args.ws,
                "client_offers_compression": not args.no_compression,
                "server_compression": args.server_compression,
                "rows": result,
            },
            indent=2,
        )
    )
    print(f"\nwrote {path}")
