"""Auction slots: each live auction's state in Redis keys sharing one hash tag.

All keys of an auction carry `{<auction id>}`, so every script touches one cluster slot and
runs unchanged on Redis Cluster. The events stream doubles as the outbox (a consumer group
`persist` feeds PostgreSQL) and as the replay log for subscriptions; its entry ids are
`<sequence>-0`, so replay by sequence is a plain XRANGE.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from domain.events import AnyEvent, PriceStep, parse_event
from domain.pricing import increment_table
from domain.slot_results import (
    BidResult,
    BidTerms,
    CancelResult,
    CloseResult,
    RecomputeResult,
    parse_bid_result,
    parse_cancel_result,
    parse_close_result,
    parse_recompute_result,
    parse_tick_result,
)
from realtime.batcher import ScriptBatcher
from realtime.scripts import Scripts

log = logging.getLogger("gavel.slots")

LIVE_SET = "gavel:live"  # auctions whose outbox the persister drains
ENDS_ZSET = "gavel:ends"  # auction id -> end (ms); the closer's agenda
DUTCH_SET = "gavel:dutch"  # active Dutch auctions the ticker steps


# A bid whose reply was lost to a connection failure (Redis restarted, the connection was
# killed, a timeout) is sent again with the same request key, so the script applies it
# at most once (realtime/lua/bid.lua). Retries stop after this long; the error then
# reaches the client as UNAVAILABLE (services/unavailable.py).
BID_RETRY_SECONDS = 2.0
BID_RETRY_DELAYS = (0.0, 0.05, 0.1, 0.2, 0.4, 0.8)  # before each retry, then the last again
REQUEST_KEY_TTL_MS = 60_000  # far beyond the retries: a late one still finds its result
_RETRIABLE = (RedisConnectionError, RedisTimeoutError)
# Request keys: unique per process (random prefix) and per call (counter), cheap to make.
_REQUEST_PREFIX = secrets.token_hex(6)
_request_numbers = itertools.count()


def request_key(auction_id: uuid.UUID | str) -> str:
    """A fresh request key for one bid call, in the auction's hash tag."""
    return f"gavel:{{{auction_id}}}:req:{_REQUEST_PREFIX}:{next(_request_numbers)}"


def keys(auction_id: uuid.UUID | str) -> tuple[str, str, str, str]:
    tag = f"gavel:{{{auction_id}}}"
    return f"{tag}:state", f"{tag}:events", f"{tag}:idem", f"{tag}:sealed"


def ms(moment: datetime | None) -> str:
    return "" if moment is None else str(int(moment.timestamp() * 1000))


def from_ms(value: str | int | None) -> datetime | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(int(value) / 1000, UTC)


@dataclass(frozen=True, slots=True)
class SlotSeed:
    """Everything a slot starts from: the listing, plus live state when rebuilding."""

    auction_id: uuid.UUID
    type: str
    currency: str
    seller_id: uuid.UUID
    starting_price: int
    reserve_price: int | None
    buy_now_price: int | None
    starts_at: datetime
    ends_at: datetime
    hard_close_at: datetime | None
    soft_close_window_seconds: int | None
    soft_close_extension_seconds: int | None
    dutch_step: int | None
    dutch_step_seconds: int | None
    dutch_floor: int | None
    activated_at: datetime
    price: int | None = None
    leader_id: uuid.UUID | None = None
    ceiling: int | None = None
    bid_count: int = 0
    sequence: int = 0
    sealed: dict[uuid.UUID, tuple[int, int]] | None = None  # bidder -> (amount, sequence)
    idempotent: dict[str, str] | None = None  # "bidder:key" -> the first result (JSON)
    # Kept with the fixed facts (type, currency, seller) so a bid needs no PostgreSQL.
    item_id: uuid.UUID | None = None

    def state(self) -> dict[str, str]:
        def opt(v: int | None) -> str:
            return "" if v is None else str(v)

        return {
            "type": self.type,
            "status": "ACTIVE",
            "currency": self.currency,
            "seller": str(self.seller_id),
            "item": str(self.item_id or ""),
            "start": str(self.starting_price),
            "reserve": opt(self.reserve_price),
            "buynow": opt(self.buy_now_price),
            "starts_ms": ms(self.starts_at),
            "ends_ms": ms(self.ends_at),
            "hard_ms": ms(self.hard_close_at),
            "win_ms": opt(
                None
                if self.soft_close_window_seconds is None
                else self.soft_close_window_seconds * 1000
            ),
            "ext_ms": opt(
                None
                if self.soft_close_extension_seconds is None
                else self.soft_close_extension_seconds * 1000
            ),
            "d_step": opt(self.dutch_step),
            "d_step_ms": opt(
                None if self.dutch_step_seconds is None else self.dutch_step_seconds * 1000
            ),
            "d_floor": opt(self.dutch_floor),
            "active_ms": ms(self.activated_at),
            "price": opt(self.price),
            "leader": str(self.leader_id or ""),
            "ceiling": opt(self.ceiling),
            "bids": str(self.bid_count),
            "seq": str(self.sequence),
            "inc": ",".join(f"{lower}:{step}" for lower, step in increment_table(self.currency)),
        }


@dataclass(frozen=True, slots=True)
class ReplayBid:
    """A bid to replay in a recompute: its sequence, bidder (user id), amount and proxy
    ceiling (None: the amount), in minor units."""

    sequence: int
    bidder: str
    amount: int
    ceiling: int | None


@dataclass(frozen=True, slots=True)
class LiveState:
    """The public part of a slot, as reads of an active auction need it."""

    status: str
    price: int | None
    leader_id: uuid.UUID | None
    bid_count: int
    sequence: int
    ends_at: datetime
    winner_id: uuid.UUID | None
    final_price: int | None

    @classmethod
    def parse(cls, raw: dict[str, str]) -> LiveState:
        def opt_int(key: str) -> int | None:
            value = raw.get(key) or ""
            return int(value) if value else None

        def opt_id(key: str) -> uuid.UUID | None:
            value = raw.get(key) or ""
            return uuid.UUID(value) if value else None

        ends = from_ms(raw["ends_ms"])
        assert ends is not None
        return cls(
            status=raw["status"],
            price=opt_int("price"),
            leader_id=opt_id("leader"),
            bid_count=int(raw.get("bids") or 0),
            sequence=int(raw.get("seq") or 0),
            ends_at=ends,
            winner_id=opt_id("winner"),
            final_price=opt_int("final"),
        )


def _opt_int(value: str | None) -> int | None:
    return int(value) if value else None


_LIVE_FIELDS = ("status", "price", "leader", "bids", "seq", "ends_ms", "winner", "final")


class AuctionSlots:
    def __init__(self, redis: Any, *, batch_bids: bool = True) -> None:
        self.redis = redis
        self.scripts = Scripts(redis)
        # redis-py's cluster pipelines refuse EVALSHA: on a cluster each bid goes alone.
        batch_bids = batch_bids and not isinstance(redis, RedisCluster)
        self._bid: Any = (
            ScriptBatcher(redis, self.scripts.bid)
            if batch_bids
            else lambda keys, args: self.scripts.bid(keys=keys, args=args)
        )

    async def create(self, seed: SlotSeed) -> bool:
        """Create the slot if it is missing; returns whether this call created it."""
        state, events, idem, sealed = keys(seed.auction_id)
        sealed_bids = {str(b): f"{a}:{s}" for b, (a, s) in (seed.sealed or {}).items()}
        created = await self.scripts.init(
            keys=[state, events, sealed, idem],
            args=[
                orjson.dumps(seed.state()).decode(),
                orjson.dumps(sealed_bids).decode(),
                orjson.dumps(seed.idempotent or {}).decode(),
            ],
        )
        member = str(seed.auction_id)
        await self.redis.sadd(LIVE_SET, member)
        await self.redis.zadd(ENDS_ZSET, {member: int(ms(seed.ends_at))})
        if seed.type == "DUTCH":
            await self.redis.sadd(DUTCH_SET, member)
        return bool(created)

    async def bid(
        self,
        auction_id: uuid.UUID,
        bidder_id: uuid.UUID,
        amount: int,
        ceiling: int | None,
        idempotency_key: str | None,
        kind: str = "bid",
    ) -> BidResult:
        """realtime/lua/bid.lua's decision, parsed once (domain/events.py)."""
        state, events, idem, sealed = keys(auction_id)
        script_keys = [state, events, idem, sealed, request_key(auction_id)]
        args = [
            str(bidder_id),
            str(amount),
            "" if ceiling is None else str(ceiling),
            idempotency_key or "",
            kind,
            str(REQUEST_KEY_TTL_MS),
        ]
        try:
            raw = await self._bid(script_keys, args)
        except _RETRIABLE as err:
            raw = await self._retry_bid(script_keys, args, err)
        return parse_bid_result(orjson.loads(raw))

    async def _retry_bid(self, script_keys: list[str], args: list[str], err: Exception) -> Any:
        """Send the same bid (same request key) until it is answered or the time is up.

        The first attempt may have been applied with its reply lost; the script then
        answers the retry with that first result. redis-py itself never re-sends (see
        gavel_app.connect_redis): only this call knows the retry is safe."""
        deadline = time.monotonic() + BID_RETRY_SECONDS
        delays = itertools.chain(BID_RETRY_DELAYS, itertools.repeat(BID_RETRY_DELAYS[-1]))
        for attempt, delay in enumerate(delays, start=1):
            if time.monotonic() + delay > deadline:
                raise err
            log.info("bid retry %d after %r", attempt, err)
            await asyncio.sleep(delay)
            try:
                return await self._bid(script_keys, args)
            except _RETRIABLE as again:
                err = again
        raise AssertionError("unreachable")  # the delays never run out

    async def close(self, auction_id: uuid.UUID | str) -> CloseResult:
        """End the auction if its time is up (realtime/lua/close.lua)."""
        state, events, _, sealed = keys(auction_id)
        raw = await self.scripts.close(keys=[state, events, sealed], args=[])
        return parse_close_result(orjson.loads(raw))

    async def cancel(
        self, auction_id: uuid.UUID | str, reason: str, *, only_before_bids: bool
    ) -> CancelResult:
        """Stop bidding: CancelApplied; CancelRefused when `only_before_bids` (a seller's
        cancel) finds a bid; AlreadyOver once over; SlotMissing."""
        state, events, _, _ = keys(auction_id)
        raw = await self.scripts.cancel(
            keys=[state, events], args=[reason, "1" if only_before_bids else ""]
        )
        return parse_cancel_result(orjson.loads(raw))

    async def recompute(
        self,
        auction_id: uuid.UUID | str,
        *,
        expected_sequence: int,
        reason: str,
        voided: Sequence[int],
        remaining: Sequence[ReplayBid],
        actor: uuid.UUID | str | None = None,
        note: str | None = None,
        skip: Sequence[int] = (),
    ) -> RecomputeResult:
        """Void `voided` (sequences) and replay `remaining` (ascending by sequence) through
        the bidding rules (realtime/lua/recompute.lua), if the slot is still at
        `expected_sequence`; else RecomputeConflict. `reason` is a VoidReason value;
        `actor` (a user id) and `note` travel privately in the event, for the audit log.
        `skip`: sequences of `remaining` not to replay (bids of barred accounts), recorded
        as ignored."""
        state, events, _, sealed = keys(auction_id)
        body = {
            "voided": list(voided),
            "skip": list(skip),
            "bids": [
                [b.sequence, b.bidder, str(b.amount), "" if b.ceiling is None else str(b.ceiling)]
                for b in remaining
            ],
        }
        raw = await self.scripts.recompute(
            keys=[state, events, sealed],
            args=[
                str(expected_sequence),
                reason,
                orjson.dumps(body).decode(),
                "" if actor is None else str(actor),
                note or "",
            ],
        )
        return parse_recompute_result(orjson.loads(raw))

    async def tick(self, auction_id: uuid.UUID | str) -> PriceStep | None:
        """Step a Dutch auction's price if a step is due; the step's event, if any."""
        state, events, _, _ = keys(auction_id)
        raw = await self.scripts.tick(keys=[state, events], args=[])
        return parse_tick_result(orjson.loads(raw))

    async def live(self, auction_ids: Sequence[uuid.UUID]) -> list[LiveState | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for auction_id in auction_ids:
                pipe.hmget(keys(auction_id)[0], *_LIVE_FIELDS)
            rows = await pipe.execute()
        out: list[LiveState | None] = []
        for values in rows:
            if values[0] is None:
                out.append(None)
            else:
                out.append(LiveState.parse(dict(zip(_LIVE_FIELDS, values, strict=True))))
        return out

    async def fields(self, auction_id: uuid.UUID, *names: str) -> list[str | None]:
        """Raw fields of the slot's state (None for a missing field or slot)."""
        values: list[str | None] = await self.redis.hmget(keys(auction_id)[0], *names)
        return values

    async def terms(self, auction_id: uuid.UUID) -> BidTerms:
        """The auction's terms as the slot holds them now."""
        start, reserve, buy_now, starts = await self.fields(
            auction_id, "start", "reserve", "buynow", "starts_ms"
        )
        assert start and starts, f"the slot of {auction_id} has no terms"
        return BidTerms(int(start), _opt_int(reserve), _opt_int(buy_now), int(starts))

    async def events_since(
        self, auction_id: uuid.UUID | str, since: int, count: int = 1000
    ) -> list[AnyEvent]:
        """Up to `count` events of the auction's stream after sequence `since`, in order."""
        entries = await self.redis.xrange(
            keys(auction_id)[1], min=f"{since + 1}-0", max="+", count=count
        )
        return [parse_event(orjson.loads(fields["e"])) for _, fields in entries]

    async def forget(self, auction_ids: Iterable[str]) -> None:
        """Drop finished auctions from the closer's and ticker's agendas."""
        members = list(auction_ids)
        if members:
            await self.redis.zrem(ENDS_ZSET, *members)
            await self.redis.srem(DUTCH_SET, *members)
