"""Reading the auctions' outboxes: their event streams, through the consumer group.

Reading goes through each stream's consumer group `persist`, so each entry goes to one
consumer (one per app process); entries a crashed consumer held are reclaimed after
`stale_ms`. The persister (realtime/persister.py) writes what is read to PostgreSQL
(realtime/event_records.py) and then acknowledges it here.
"""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio.cluster import RedisCluster

from domain.events import AnyEvent, Event, parse_event
from realtime.slots import LIVE_SET, AuctionSlots, keys

GROUP = "persist"
Entry = tuple[str, dict[str, Any]]  # a stream entry: id, fields


def events_of(entries: list[Entry]) -> list[AnyEvent]:
    """The events of stream entries, in sequence order."""
    return sorted((parse_event(orjson.loads(f["e"])) for _, f in entries), key=_sequence)


def _sequence(event: Event) -> int:
    return event.sequence


class OutboxStreams:
    """The outbox streams of live auctions as consumer `consumer` of the group reads them,
    up to `batch` entries per auction and read."""

    def __init__(
        self, redis: Any, slots: AuctionSlots, *, consumer: str, batch: int, stale_ms: int
    ) -> None:
        self.redis = redis
        self.slots = slots
        self.consumer = consumer
        self.batch = batch
        self.stale_ms = stale_ms

    async def live(self) -> list[str]:
        """Every live auction (whose outbox may hold entries), in order."""
        return sorted(await self.redis.smembers(LIVE_SET))

    async def read(
        self, members: list[str], reclaim: bool, *, own_pending: bool = False
    ) -> list[tuple[str, list[Entry]]]:
        """Each auction's entries not yet delivered to the group (">"); with
        `own_pending` also those delivered to this consumer and not acknowledged; with
        `reclaim` also those another consumer left unacknowledged for `stale_ms`."""
        found: dict[str, list[Entry]] = {m: [] for m in members}
        cluster = isinstance(self.redis, RedisCluster)
        if cluster:
            await self.redis.initialize()  # a no-op unless a failure asked for a new topology
        # ">": entries never delivered to the group; "0" (own_pending): those delivered to
        # this consumer and not acknowledged. Reclaiming already claims those, when stale.
        starts = [">", "0"] if own_pending and not reclaim else [">"]
        if reclaim:  # entries another consumer read but never acknowledged (it crashed)
            async with self.redis.pipeline(transaction=False) as pipe:
                for member in members:
                    pipe.xautoclaim(
                        keys(member)[1],
                        GROUP,
                        self.consumer,
                        self.stale_ms,
                        "0-0",
                        count=self.batch,
                    )
                claimed = await pipe.execute(raise_on_error=False)
            for member, reply in zip(members, claimed, strict=True):
                if not isinstance(reply, Exception):
                    found[member].extend((eid, f) for eid, f in reply[1] if f)
        async with self.redis.pipeline(transaction=False) as pipe:
            for start in starts:
                for member in members:
                    stream = keys(member)[1]
                    if cluster:
                        # XREADGROUP's keys have no fixed position, so redis-py's cluster
                        # client asks a server where they are (COMMAND GETKEYS, twice per
                        # command, one round trip each, before the pipeline leaves): a
                        # sweep would cost two round trips per live auction. The stream's
                        # node is known locally.
                        pipe.execute_command(
                            "XREADGROUP", "GROUP", GROUP, self.consumer, "COUNT", self.batch,
                            "STREAMS", stream, start,
                            target_nodes=self.redis.get_node_from_key(stream),
                        )  # fmt: skip
                    else:
                        pipe.xreadgroup(GROUP, self.consumer, {stream: start}, count=self.batch)
            replies = await pipe.execute(raise_on_error=False)
        for member, reply in zip(members * len(starts), replies, strict=True):
            if isinstance(reply, Exception):
                continue  # no stream or group: the slot is gone and will be rebuilt
            for _stream, items in reply or []:
                found[member].extend((eid, f) for eid, f in items if f)
        return list(found.items())

    async def ack(self, acks: list[tuple[str, list[Entry]]]) -> None:
        """Acknowledge the entries of each auction (written to PostgreSQL)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for member, entries in acks:
                pipe.xack(keys(member)[1], GROUP, *[eid for eid, _ in entries])
            await pipe.execute()

    async def finished(self, member: str) -> None:
        """The auction's end is recorded: off the persister's, closer's and ticker's lists."""
        await self.redis.srem(LIVE_SET, member)
        await self.slots.forget([member])

    async def retire(self, idle: list[str]) -> None:
        """Take auctions that are over and fully persisted off the agendas.

        The persister does that when it writes the end. But another process may have read the
        auction as ACTIVE from PostgreSQL just before the end was stored, found its end
        entry gone (the closer removes it) and put the auction back on the agendas
        (`Scheduler.reconcile` -> `ensure_slot`); no new event would ever take it off, and
        every sweep and Dutch tick would visit it forever. Over (nothing follows the final
        event), its last event delivered to the group and nothing unacknowledged means
        the end is in PostgreSQL.
        """
        if not idle:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for member in idle:
                pipe.hmget(keys(member)[0], "status", "seq")
            states = await pipe.execute(raise_on_error=False)
        last = {
            member: f"{state[1]}-0"
            for member, state in zip(idle, states, strict=True)
            if isinstance(state, list) and state[0] in ("ENDED", "CANCELLED")
        }
        if not last:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for member in last:
                pipe.xinfo_groups(keys(member)[1])
            infos = await pipe.execute(raise_on_error=False)
        done = [
            member
            for member, groups in zip(last, infos, strict=True)
            if not isinstance(groups, Exception)
            and any(
                g["name"] == GROUP and g["pending"] == 0 and g["last-delivered-id"] == last[member]
                for g in groups
            )
        ]
        if done:
            await self.redis.srem(LIVE_SET, *done)
            await self.slots.forget(done)
