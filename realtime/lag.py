"""How far the background work is behind, read from Redis when metrics are scraped.

Outbox lag: events appended to live auctions' streams that the persister has not yet
acknowledged (delivered to a consumer and unacknowledged, or not yet delivered), and the
age of the oldest of them. Closer lag: how long past its end the oldest auction still on
the closer's agenda is. Both are a few pipelined commands, whatever the number of app
processes; the outbox read is bounded to `limit` live auctions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from realtime.outbox_stream import GROUP
from realtime.slots import ENDS_ZSET, LIVE_SET, keys


@dataclass(frozen=True, slots=True)
class OutboxLag:
    pending: int  # events not yet in PostgreSQL
    oldest_seconds: float  # age of the oldest of them (0 when none)
    auctions: int  # live auctions read (at most the limit)
    truncated: bool  # more live auctions exist than were read


@dataclass(frozen=True, slots=True)
class CloserLag:
    overdue: int  # auctions on the closer's agenda past their end
    seconds: float  # how long past its end the oldest of them is (0 when none)


async def _live_members(redis: Any, limit: int) -> tuple[list[str], bool]:
    members: list[str] = []
    cursor: int | str = 0
    while True:
        cursor, batch = await redis.sscan(LIVE_SET, cursor, count=min(limit, 1000))
        members.extend(batch)
        if int(cursor) == 0 or len(members) >= limit:
            break
    return members[:limit], int(cursor) != 0 or len(members) > limit


def _seq(entry_id: str | None) -> int:
    return int(entry_id.partition("-")[0]) if entry_id else 0


async def outbox_lag(redis: Any, *, now_ms: int, limit: int) -> OutboxLag:
    """Stream entry ids are `<sequence>-0` and the slot's `seq` is the last appended, so
    the undelivered count is `seq - last delivered`, and the oldest unacknowledged entry
    is the first pending one, else the first undelivered one; its event carries `at`."""
    members, truncated = await _live_members(redis, limit)
    if not members:
        return OutboxLag(0, 0.0, 0, truncated)
    async with redis.pipeline(transaction=False) as pipe:
        for member in members:
            slot, stream = keys(member)[:2]
            pipe.hget(slot, "seq")
            pipe.xinfo_groups(stream)
            pipe.xpending(stream, GROUP)
        replies = await pipe.execute(raise_on_error=False)
    pending = 0
    oldest: list[tuple[str, str]] = []  # (stream, entry id) of each auction's oldest
    for i, member in enumerate(members):
        seq, groups, summary = replies[3 * i : 3 * i + 3]
        if isinstance(groups, Exception) or isinstance(summary, Exception):
            continue  # no stream or group (the slot is gone): nothing to persist
        group = next((g for g in groups if g["name"] == GROUP), None)
        if group is None:
            continue
        delivered = _seq(group["last-delivered-id"])
        undelivered = max(0, int(seq or 0) - delivered)
        waiting = int(summary["pending"])
        pending += waiting + undelivered
        if waiting:
            oldest.append((keys(member)[1], summary["min"]))
        elif undelivered:
            oldest.append((keys(member)[1], f"{delivered + 1}-0"))
    if not oldest:
        return OutboxLag(pending, 0.0, len(members), truncated)
    async with redis.pipeline(transaction=False) as pipe:
        for stream, entry in oldest:
            pipe.xrange(stream, entry, "+", count=1)
        entries = await pipe.execute(raise_on_error=False)
    times = [
        int(orjson.loads(found[0][1]["e"])["at"])
        for found in entries
        if isinstance(found, list) and found and "e" in found[0][1]
    ]
    age = max(0.0, (now_ms - min(times)) / 1000) if times else 0.0
    return OutboxLag(pending, age, len(members), truncated)


async def closer_lag(redis: Any, *, now_ms: int) -> CloserLag:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcount(ENDS_ZSET, "-inf", now_ms)
        pipe.zrangebyscore(ENDS_ZSET, "-inf", now_ms, start=0, num=1, withscores=True)
        overdue, first = await pipe.execute()
    seconds = max(0.0, (now_ms - float(first[0][1])) / 1000) if first else 0.0
    return CloserLag(int(overdue), seconds)
