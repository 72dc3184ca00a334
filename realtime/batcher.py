"""Sends the bid scripts of concurrent requests together, one pipeline per loop tick.

Each EVALSHA in the pipeline is still its own atomic script run; batching only shares
the client's per-command cost (connection checkout, socket write, response wait), which
dominates a bid on this path (see docs/performance.md). A pipeline is not a transaction:
bids of different auctions, or even of one auction, stay independent and ordered by the
server as before. A cluster client does not batch (AuctionSlots sends each bid alone:
redis-py's cluster pipelines refuse EVALSHA).
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError


class ScriptBatcher:
    def __init__(self, redis: Any, script: Any, *, max_batch: int = 256) -> None:
        self.redis = redis
        self.script = script  # a redis-py Script: .sha and .script (the source)
        self.max_batch = max_batch
        self._queue: list[tuple[list[str], list[str], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._in_flight: set[asyncio.Task[None]] = set()  # strong references until done

    async def __call__(self, keys: list[str], args: list[str]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((keys, args, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        queue, self._queue = self._queue, []
        for start in range(0, len(queue), self.max_batch):
            task = asyncio.create_task(self._send(queue[start : start + self.max_batch]))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _send(self, batch: list[tuple[list[str], list[str], asyncio.Future[Any]]]) -> None:
        try:
            results = await self._execute(batch)
            missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
            if missing:  # the server lost its script cache: nothing ran, load and resend
                self.script.sha = await self.redis.script_load(self.script.script)
                again = await self._execute([batch[i] for i in missing])
                for i, result in zip(missing, again, strict=True):
                    results[i] = result
        except Exception as err:  # connection lost: every caller learns it (and retries)
            if isinstance(err, RedisConnectionError | RedisTimeoutError | OSError):
                # What killed this connection (a restart, CLIENT KILL) killed the idle
                # ones too: replace them now rather than fail one request on each.
                await self.redis.connection_pool.disconnect(inuse_connections=False)
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _execute(self, batch: list[tuple[list[str], list[str], Any]]) -> list[Any]:
        """One write of all the batch's EVALSHAs on one connection, then read each reply.

        Packed here rather than through redis-py's pipeline: its generic per-argument
        encoding was the largest cost of a bid (docs/performance.md).
        """
        sha = self.script.sha
        payload = b"".join(
            _resp(["EVALSHA", sha, str(len(keys)), *keys, *args]) for keys, args, _ in batch
        )
        pool = self.redis.connection_pool
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command(payload, check_health=True)
            results: list[Any] = []
            for _ in batch:
                try:
                    results.append(await conn.read_response())
                except ResponseError as err:  # one script's error; the rest still ran
                    results.append(err)
            return results
        except BaseException:
            await conn.disconnect()  # replies may be pending on it: never reuse it
            raise
        finally:
            await pool.release(conn)


def _resp(parts: list[str]) -> bytes:
    """A command as a RESP array of bulk strings."""
    encoded = [p.encode() for p in parts]
    head = f"*{len(encoded)}\r\n".encode()
    return head + b"".join(b"$%d\r\n%s\r\n" % (len(e), e) for e in encoded)
