"""Bidding use cases: place a bid or buy now through the auction's Redis slot.

PostgreSQL is not on the bid path: the slot decides, the outbox persister records. The
slot is created when an auction goes live and rebuilt from PostgreSQL if Redis lost it
(realtime/slot_seeding.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from time import perf_counter

from structlog.contextvars import bind_contextvars

from adapters import metrics
from domain.enums import AuctionStatus, AuctionType
from domain.errors import DomainError, NotFound, ValidationFailed
from domain.events import from_ms
from domain.money import to_minor
from domain.rejections import DETAILS, MESSAGES
from domain.slot_results import BidApplied, BidRefused, SlotMissing
from domain.text import check_text
from realtime.event_records import bid_id
from realtime.events import publish
from realtime.slot_seeding import ensure_slot
from services.deps import AuctionFacts, Deps
from services.limits import retry_after_seconds
from services.unavailable import unavailable
from storage.tables import Auction, Bid, User

log = logging.getLogger("gavel.bidding")

MAX_IDEMPOTENCY_KEY = 100


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    message: str
    minimum_next_bid: int | None
    currency: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """An accepted bid. `auction` is built on demand (the compiled bid path never reads
    it) from the cached fixed facts and the slot's answer: terms and live state as the
    script saw them, never a cached row's."""

    bid: Bid
    leading: bool
    facts: AuctionFacts
    result: BidApplied  # with its terms

    @property
    def auction(self) -> Auction:
        r, facts, terms = self.result, self.facts, self.result.terms
        assert terms is not None
        starts, ends = from_ms(terms.starts_ms), from_ms(r.ends_ms)
        assert ends is not None
        return Auction(
            id=facts.id,
            item_id=facts.item_id,
            seller_id=facts.seller_id,
            type=facts.type,
            currency=facts.currency,
            # Marked ACTIVE even when this bid ended it: reads of an ACTIVE row overlay
            # the live slot, which then supplies the end and the outcome.
            status=AuctionStatus.ACTIVE.value,
            starting_price=terms.starting_price,
            reserve_price=terms.reserve_price,
            buy_now_price=terms.buy_now_price,
            starts_at=starts,
            activated_at=starts,
            ends_at=ends,
            current_price=r.price,
            leader_id=uuid.UUID(r.leader) if r.leader else None,
            bid_count=r.bid_count,
            last_sequence=r.events[-1].sequence,
        )


async def _auction_facts(deps: Deps, auction_id: uuid.UUID) -> AuctionFacts:
    """The auction's fixed facts, cached per process. Raises NOT_FOUND for a draft.

    Concurrent first bids on one auction share one lookup: a freshly started auction's
    first burst would otherwise open a connection per bid at once."""
    cached = deps.auction_cache.get(auction_id)
    if cached is not None:
        return cached
    loading = deps.auction_loads.get(auction_id)
    if loading is None:
        loading = asyncio.ensure_future(_load_facts(deps, auction_id))
        deps.auction_loads[auction_id] = loading
        loading.add_done_callback(lambda _: deps.auction_loads.pop(auction_id, None))
    return await asyncio.shield(loading)


async def _load_facts(deps: Deps, auction_id: uuid.UUID) -> AuctionFacts:
    """From the slot (a live auction needs no PostgreSQL), else from the record."""
    kind, currency, seller, item = await deps.slots.fields(
        auction_id, "type", "currency", "seller", "item"
    )
    if kind and currency and seller and item:
        facts = AuctionFacts(auction_id, uuid.UUID(item), uuid.UUID(seller), kind, currency)
    else:
        async with deps.uow() as uow:
            auction = await uow.session.get(Auction, auction_id)
        if auction is None or auction.status == AuctionStatus.DRAFT.value:
            raise NotFound("no such auction", field="auctionId")
        facts = AuctionFacts(
            auction.id, auction.item_id, auction.seller_id, auction.type, auction.currency
        )
    if len(deps.auction_cache) > 50_000:
        deps.auction_cache.clear()
    deps.auction_cache[auction_id] = facts
    return facts


def _reject(
    reason: str,
    currency: str,
    minimum: int | None = None,
    detail: str | None = None,
    message: str | None = None,
) -> Rejected:
    text = message or DETAILS.get(detail or "", MESSAGES[reason])
    return Rejected(reason=reason, message=text, minimum_next_bid=minimum, currency=currency)


_REJECTED = metrics.rejection_counters(MESSAGES)
_ACCEPTED_SECONDS = metrics.BID_SECONDS_BY_OUTCOME["accepted"]
_REJECTED_SECONDS = metrics.BID_SECONDS_BY_OUTCOME["rejected"]
_ERROR_SECONDS = metrics.BID_SECONDS_BY_OUTCOME["error"]


async def place_bid(
    deps: Deps,
    viewer: User,
    auction_id: uuid.UUID,
    amount: Decimal | None,
    max_amount: Decimal | None,
    idempotency_key: str | None,
    *,
    buy_now: bool = False,
    ip: str | None = None,
) -> Accepted | Rejected:
    """Place a bid (or buy now) for `viewer` from the client address `ip` (`_place_bid`),
    timed by outcome and counted by rejection code (adapters/metrics.py); an exception
    (invalid input, an outage) is timed as the outcome "error"."""
    started = perf_counter()
    try:
        outcome = await _place_bid(
            deps, viewer, auction_id, amount, max_amount, idempotency_key, buy_now=buy_now, ip=ip
        )
    except BaseException:
        _ERROR_SECONDS.observe(perf_counter() - started)
        raise
    if isinstance(outcome, Accepted):
        _ACCEPTED_SECONDS.observe(perf_counter() - started)
        metrics.BIDS_ACCEPTED.inc()
    else:
        _REJECTED_SECONDS.observe(perf_counter() - started)
        _REJECTED.get(outcome.reason, _REJECTED[metrics.OTHER]).inc()
    return outcome


async def _place_bid(
    deps: Deps,
    viewer: User,
    auction_id: uuid.UUID,
    amount: Decimal | None,
    max_amount: Decimal | None,
    idempotency_key: str | None,
    *,
    buy_now: bool = False,
    ip: str | None = None,
) -> Accepted | Rejected:
    """First the shape of the idempotency key, then the rate limits (per user, per user and
    auction, per address: one Redis round trip, all or nothing; services/limits.py): a
    refused bid is Rejected(RATE_LIMITED) with the seconds to wait in its message, and
    changes nothing."""
    # Every line logged for this bid from here on names its auction (adapters/logging_setup.py):
    # one context variable set (~0.3 µs), rendered only if a line is written.
    bind_contextvars(auction_id=auction_id)
    # A malformed key is refused before the limits are charged: bad input changes nothing.
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise ValidationFailed(
            f"idempotencyKey must have 1-{MAX_IDEMPOTENCY_KEY} characters", field="idempotencyKey"
        )
    if idempotency_key is not None:
        check_text(idempotency_key, "idempotencyKey")  # stored in Redis and PostgreSQL
    wait = await deps.throttle.bid(viewer.id, auction_id, ip)
    if wait > 0:
        seconds = retry_after_seconds(wait)
        return _reject(
            "RATE_LIMITED", "", message=f"{MESSAGES['RATE_LIMITED']}: retry in {seconds} s"
        )
    facts = await _auction_facts(deps, auction_id)
    currency = facts.currency
    if deps.require_verified_email and viewer.email_verified_at is None:
        return _reject("NOT_VERIFIED", currency)
    if viewer.fraud_hold:
        return _reject("FRAUD_HOLD", currency)
    minor, ceiling = 0, None
    if not buy_now:
        assert amount is not None
        try:
            minor = to_minor(amount, currency)
            ceiling = (
                None if max_amount is None else to_minor(max_amount, currency, field="maxAmount")
            )
        except DomainError as err:
            return _reject("INVALID_AMOUNT", currency, message=err.message)
        if minor <= 0:
            return _reject("INVALID_AMOUNT", currency, message="the amount must be above zero")
        if ceiling is not None and facts.type != AuctionType.ENGLISH.value:
            return _reject(
                "INVALID_AMOUNT",
                currency,
                message="maxAmount (proxy bidding) is for ENGLISH auctions only",
            )
        if ceiling is not None and ceiling < minor:
            return _reject(
                "INVALID_AMOUNT", currency, message="maxAmount must be at least the amount"
            )
    kind = "buynow" if buy_now else "bid"
    result = await deps.slots.bid(auction_id, viewer.id, minor, ceiling, idempotency_key, kind)
    if isinstance(result, SlotMissing):
        stored = await ensure_slot(deps.uow, deps.slots, auction_id)
        if stored is None or stored.status != AuctionStatus.ACTIVE.value:
            status = stored.status if stored else AuctionStatus.DRAFT.value
            reason = (
                "AUCTION_ENDED" if status == AuctionStatus.ENDED.value else "AUCTION_NOT_ACTIVE"
            )
            return _reject(reason, currency)
        result = await deps.slots.bid(auction_id, viewer.id, minor, ceiling, idempotency_key, kind)
        if isinstance(result, SlotMissing):
            raise RuntimeError(f"the slot of auction {auction_id} vanished while bidding")
    if isinstance(result, BidRefused):
        return _reject(result.reason, currency, result.minimum, result.detail)
    if deps.outbox is not None:
        deps.outbox.mark(auction_id)
    try:
        await publish(deps.bus, auction_id, result.events, sealed=AuctionType(facts.type).sealed)
    except Exception as err:
        if unavailable(err) is None:
            raise
        # The bid stands (the slot holds it); subscribers fill the gap from the stream.
        log.warning("events of %s not published: %r", auction_id, err)
    first = result.bid
    assert first.amount is not None  # the script's own form hides nothing
    bid = Bid(
        id=bid_id(auction_id, first.sequence),
        auction_id=auction_id,
        bidder_id=viewer.id,
        sequence=first.sequence,
        amount=first.amount,
        max_amount=first.max_amount,
        currency=currency,
        placed_at=first.at,
        idempotency_key=idempotency_key,
    )
    if result.terms is None:  # remembered before results carried the terms
        result = replace(result, terms=await deps.slots.terms(auction_id))
    return Accepted(bid=bid, leading=result.leading, facts=facts, result=result)
