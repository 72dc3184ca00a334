"""The outbox persister: drains each live auction's event stream into PostgreSQL.

Every app process runs one. Reading goes through the stream's consumer group `persist`,
so each entry goes to one consumer; entries a crashed consumer held are reclaimed after
`stale_ms`. Writes are idempotent (primary keys on (auction, sequence)), and side effects
such as notifications happen only when the event row was new, so a replay changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio.cluster import RedisCluster
from sqlalchemy import bindparam, select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from adapters import metrics
from domain.enums import AuctionStatus, AuctionType
from domain.events import (
    AnyEvent,
    BidAccepted,
    Cancelled,
    Ended,
    Event,
    PriceStep,
    parse_event,
    stored_event,
)
from domain.outcome import FinalState, decide
from realtime.background import StopSignal, cancelling
from realtime.slots import LIVE_SET, AuctionSlots, keys
from storage.tables import Auction, AuctionEvent, Bid, Notification
from storage.uow import UnitOfWorkFactory

log = logging.getLogger("gavel.persister")
GROUP = "persist"
SWEEP_CHUNK = 50  # auctions read per pipeline
BID_NAMESPACE = uuid.UUID("6f1d3c52-8f0e-4c84-9a55-2a6f3f2b7d10")


def bid_id(auction_id: uuid.UUID, sequence: int) -> uuid.UUID:
    """Deterministic, so persisting the same event twice names the same bid."""
    return uuid.uuid5(BID_NAMESPACE, f"{auction_id}:{sequence}")


def _opt_id(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


Entry = tuple[str, dict[str, Any]]  # a stream entry: id, fields
AUCTIONS = Auction.__table__  # type: ignore[attr-defined]
AUCTION_EVENTS = AuctionEvent.__table__  # type: ignore[attr-defined]
BIDS = Bid.__table__  # type: ignore[attr-defined]
NOTIFICATIONS = Notification.__table__  # type: ignore[attr-defined]


def _fold(auction: Any, events: list[AnyEvent]) -> dict[str, Any]:
    """The auction columns that in-flight events newer than the row set (an empty dict if
    there are none); `auction` has the row's id, type, current_price and ends_at."""
    state: dict[str, Any] = {}
    dutch = AuctionType(auction.type) is AuctionType.DUTCH
    for e in events:
        state["last_sequence"] = e.sequence
        state["bid_count"] = e.bid_count
        if not (dutch and isinstance(e, PriceStep)):
            state["current_price"] = e.price
        state["leader_id"] = _opt_id(e.leader)
        ends = e.ends_at
        if ends is not None:
            state["ends_at"] = ends
        state["updated_at"] = e.at
    return state


def _bid_row(auction_id: uuid.UUID, currency: str, e: BidAccepted) -> dict[str, Any]:
    """The bids row of a BID_ACCEPTED event (the stream's form: nothing hidden)."""
    assert e.bidder is not None and e.amount is not None
    return {
        "id": bid_id(auction_id, e.sequence),
        "auction_id": auction_id,
        "bidder_id": uuid.UUID(e.bidder),
        "sequence": e.sequence,
        "amount": e.amount,
        "max_amount": e.max_amount,
        "currency": currency,
        "placed_at": e.at,
        "idempotency_key": e.idempotency_key,
    }


def _voided(auction: Any) -> datetime | None:
    """A bid recorded after its auction was cancelled is void from the start (the cancel
    voided the bids recorded before it)."""
    if auction.status == AuctionStatus.CANCELLED.value:
        return auction.cancelled_at  # type: ignore[no-any-return]
    return None


def _outbid_row(auction_id: uuid.UUID, e: BidAccepted, outbid: str) -> dict[str, Any]:
    """The OUTBID notification of a BID_ACCEPTED event that displaced a leader."""
    return {
        "user_id": uuid.UUID(outbid),
        "kind": "OUTBID",
        "auction_id": auction_id,
        "message": "You have been outbid.",
        "created_at": e.at,
    }


def _events(entries: list[Entry]) -> list[AnyEvent]:
    """The events of stream entries, in sequence order."""
    return sorted((parse_event(orjson.loads(f["e"])) for _, f in entries), key=_sequence)


def _sequence(event: Event) -> int:
    return event.sequence


class Persister:
    def __init__(
        self,
        redis: Any,
        slots: AuctionSlots,
        uow: UnitOfWorkFactory,
        *,
        consumer: str | None = None,
        batch: int = 500,
        stale_ms: int = 10_000,
    ) -> None:
        self.redis = redis
        self.slots = slots
        self.uow = uow
        self.consumer = consumer or f"c-{uuid.uuid4().hex[:8]}"
        self.batch = batch
        self.stale_ms = stale_ms
        self._lock = asyncio.Lock()
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self.stopping = StopSignal()

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    def mark(self, auction_id: uuid.UUID | str) -> None:
        """This process just appended events for the auction: persist them soon."""
        self._dirty.add(str(auction_id))
        self._wake.set()

    async def run(self, *, sweep_every: float = 2.0, reclaim_every: float = 5.0) -> None:
        """Persist what this process marks at once; sweep every live auction now and then.

        The sweep is what makes a crash harmless: events appended by a process that died
        before persisting them are unread (or pending) in the consumer group, and any
        process's sweep picks them up. Sweeping is O(live auctions), so it is not the
        fast path.
        """
        loop = asyncio.get_running_loop()
        next_sweep = next_reclaim = loop.time()
        while not self.stopping.is_set:
            try:
                now = loop.time()
                if now >= next_sweep:
                    reclaim = now >= next_reclaim
                    if reclaim:
                        next_reclaim = now + reclaim_every
                    next_sweep = now + sweep_every
                    self._dirty.clear()
                    await self.drain(reclaim=reclaim)
                elif self._dirty:
                    dirty, self._dirty = sorted(self._dirty), set()
                    await self.drain(dirty)
                self._wake.clear()
                if not self._dirty and not self.stopping.is_set:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wake.wait(), max(0.0, next_sweep - loop.time())
                        )
            except asyncio.CancelledError:
                raise
            except Exception:
                if cancelling():
                    raise  # a driver turned our cancellation into another error
                log.exception("persister pass failed; retrying")
                await self.stopping.sleep(1.0)

    async def flush(self) -> int:
        """The final drain, at shutdown, once `run` has ended: one pass over every live
        auction that writes what is still in its outbox, the entries this consumer read
        but did not acknowledge included (a pass cut short by a cancellation). Every bid
        this process acknowledged is then in PostgreSQL. Returns the events written."""
        self._dirty.clear()
        written = 0
        # A pass reads up to `batch` entries per auction: again until nothing is left.
        while passed := await self.drain(own_pending=True):
            written += passed
        return written

    async def drain(
        self,
        auction_ids: Sequence[str] | None = None,
        *,
        reclaim: bool = False,
        own_pending: bool = False,
    ) -> int:
        """One pass over the live auctions; returns how many events were written.
        `reclaim`: also entries other consumers left unacknowledged for `stale_ms`;
        `own_pending`: also those this consumer did."""
        async with self._lock:
            members = (
                list(auction_ids)
                if auction_ids is not None
                else sorted(await self.redis.smembers(LIVE_SET))
            )
            written = 0
            # Small chunks: building and parsing a pipeline holds the event loop, and a
            # sweep over every live auction must not stall requests for long.
            for start in range(0, len(members), SWEEP_CHUNK):
                chunk = members[start : start + SWEEP_CHUNK]
                batches = await self._read(chunk, reclaim, own_pending=own_pending)
                batch = await self._persist_many([(m, e) for m, e in batches if e])
                if batch:
                    metrics.PERSISTER_BATCH.observe(batch)
                written += batch
                if reclaim:
                    await self._retire([member for member, entries in batches if not entries])
            return written

    async def _retire(self, idle: list[str]) -> None:
        """Take auctions that are over and fully persisted off the agendas.

        `_persist` does that when it writes the end. But another process may have read the
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

    async def _read(
        self, members: list[str], reclaim: bool, *, own_pending: bool = False
    ) -> list[tuple[str, list[tuple[str, dict[str, Any]]]]]:
        found: dict[str, list[tuple[str, dict[str, Any]]]] = {m: [] for m in members}
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

    async def _persist_many(self, batches: list[tuple[str, list[Entry]]]) -> int:
        """Auctions whose new events are all in-flight ones (bids, price steps) are written
        together, in one transaction of a few multi-row statements; an auction whose
        events include its end or cancellation goes through `_persist` on its own."""
        ongoing: list[tuple[uuid.UUID, list[AnyEvent]]] = []
        written = 0
        for member, entries in batches:
            events = _events(entries)
            if any(e.final for e in events):
                written += await self._persist(member, entries, events)
            else:
                ongoing.append((uuid.UUID(member), events))
        if ongoing:
            async with self.uow() as uow:
                await self._apply_ongoing(await uow.session.connection(), ongoing)
                await uow.commit()
            done = {str(a) for a, _ in ongoing}
            async with self.redis.pipeline(transaction=False) as pipe:
                for member, entries in batches:
                    if member in done:
                        pipe.xack(keys(member)[1], GROUP, *[eid for eid, _ in entries])
                await pipe.execute()
            written += sum(len(events) for _, events in ongoing)
        return written

    async def _apply_ongoing(
        self, conn: Any, ongoing: list[tuple[uuid.UUID, list[AnyEvent]]]
    ) -> None:
        """What `_apply` does for in-flight events, for many auctions at once (SQL
        statements on the unit of work's connection: no ORM objects to build)."""
        ids = sorted(a for a, _ in ongoing)
        # Locked in one order by every persister: no deadlock between two of them.
        facts = {
            row.id: row
            for row in (
                await conn.execute(
                    select(
                        AUCTIONS.c.id,
                        AUCTIONS.c.type,
                        AUCTIONS.c.currency,
                        AUCTIONS.c.last_sequence,
                        AUCTIONS.c.current_price,
                        AUCTIONS.c.ends_at,
                        AUCTIONS.c.status,
                        AUCTIONS.c.cancelled_at,
                    )
                    .where(AUCTIONS.c.id.in_(ids))
                    .order_by(AUCTIONS.c.id)
                    .with_for_update()
                )
            ).all()
        }
        rows: list[dict[str, Any]] = []
        for auction_id, events in ongoing:
            if auction_id not in facts:
                log.error("events for unknown auction %s dropped", auction_id)
                continue
            rows.extend(
                {
                    "auction_id": auction_id,
                    "sequence": e.sequence,
                    "kind": e.kind.value,
                    "payload": stored_event(e),
                    "at": e.at,
                }
                for e in events
            )
        if not rows:
            return
        new: set[tuple[uuid.UUID, int]] = set()
        for start in range(0, len(rows), 500):
            inserted = await conn.execute(
                insert(AUCTION_EVENTS)
                .values(rows[start : start + 500])
                .on_conflict_do_nothing()
                .returning(AUCTION_EVENTS.c.auction_id, AUCTION_EVENTS.c.sequence)
            )
            new.update((r[0], r[1]) for r in inserted.all())
        bids, notes, updates = [], [], []
        for auction_id, events in ongoing:
            fact = facts.get(auction_id)
            if fact is None:
                continue
            fresh = [e for e in events if (auction_id, e.sequence) in new]
            for e in fresh:
                if isinstance(e, BidAccepted):
                    bids.append(
                        {**_bid_row(auction_id, fact.currency, e), "voided_at": _voided(fact)}
                    )
                    if e.outbid:
                        note = _outbid_row(auction_id, e, e.outbid)
                        notes.append({**note, "id": uuid.uuid4(), "read_at": None})
            state = _fold(fact, [e for e in fresh if e.sequence > fact.last_sequence])
            if state:
                # Columns the events left alone keep the row's value.
                row = {"current_price": fact.current_price, "ends_at": fact.ends_at, **state}
                updates.append({"b_id": fact.id, **{f"b_{k}": v for k, v in row.items()}})
        if bids:
            await conn.execute(insert(BIDS).values(bids).on_conflict_do_nothing())
        if notes:
            await conn.execute(insert(NOTIFICATIONS).values(notes))
        if updates:
            await conn.execute(
                sa_update(AUCTIONS)
                .where(AUCTIONS.c.id == bindparam("b_id"))
                .values(
                    {
                        column: bindparam(f"b_{column}")
                        for column in (
                            "last_sequence",
                            "bid_count",
                            "current_price",
                            "leader_id",
                            "ends_at",
                            "updated_at",
                        )
                    }
                ),
                updates,
            )

    async def _persist(self, member: str, entries: list[Entry], events: list[AnyEvent]) -> int:
        """Write one auction's `events` (read from `entries`) in a transaction of its own."""
        auction_id = uuid.UUID(member)
        finished = False
        async with self.uow() as uow:
            auction = await uow.session.get(Auction, auction_id, with_for_update=True)
            if auction is None:
                log.error("events for unknown auction %s dropped", auction_id)
            else:
                for event in events:
                    finished |= await self._apply(uow.session, auction, event)
                await uow.commit()
        await self.redis.xack(keys(member)[1], GROUP, *[eid for eid, _ in entries])
        if finished:
            await self.redis.srem(LIVE_SET, member)
            await self.slots.forget([member])
        return len(events)

    async def _apply(self, session: Any, auction: Auction, e: AnyEvent) -> bool:
        inserted = await session.exec(
            insert(AuctionEvent)
            .values(
                auction_id=auction.id,
                sequence=e.sequence,
                kind=e.kind.value,
                payload=stored_event(e),
                at=e.at,
            )
            .on_conflict_do_nothing()
            .returning(col(AuctionEvent.sequence))
        )
        if inserted.first() is None:
            return e.final  # already applied earlier
        if isinstance(e, BidAccepted):
            bid = {**_bid_row(auction.id, auction.currency, e), "voided_at": _voided(auction)}
            await session.exec(insert(Bid).values(**bid).on_conflict_do_nothing())
            if e.outbid:
                session.add(Notification(**_outbid_row(auction.id, e, e.outbid)))
        if e.sequence > auction.last_sequence:
            for column, value in _fold(auction, [e]).items():
                setattr(auction, column, value)
        if isinstance(e, Ended):
            self._end(session, auction, e)
            return True
        if isinstance(e, Cancelled) and auction.status != AuctionStatus.CANCELLED.value:
            auction.status = AuctionStatus.CANCELLED.value
            auction.cancelled_at = auction.cancelled_at or e.at
            return True
        return isinstance(e, Cancelled)

    def _end(self, session: Any, auction: Auction, e: Ended) -> None:
        at = e.at
        final = FinalState(
            type=AuctionType(auction.type),
            starting_price=auction.starting_price,
            reserve_price=auction.reserve_price,
            price=e.price,
            leader=e.leader,
            sealed_bids=e.sealed_bids or (),
        )
        outcome = decide(final)
        auction.status = AuctionStatus.ENDED.value
        auction.outcome = outcome.result.value
        auction.winner_id = uuid.UUID(outcome.winner) if outcome.winner else None
        auction.final_price = outcome.price
        auction.ended_at = at
        if AuctionType(auction.type).sealed:
            auction.current_price = outcome.price
            auction.leader_id = auction.winner_id
        if outcome.winner:
            session.add(
                Notification(
                    user_id=uuid.UUID(outcome.winner),
                    kind="AUCTION_WON",
                    auction_id=auction.id,
                    created_at=at,
                    message="You won the auction.",
                )
            )
        session.add(
            Notification(
                user_id=auction.seller_id,
                auction_id=auction.id,
                created_at=at,
                kind="AUCTION_SOLD" if outcome.winner else "AUCTION_UNSOLD",
                message="Your auction sold." if outcome.winner else "Your auction ended unsold.",
            )
        )
