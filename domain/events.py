"""Auction events, typed.

An auction's slot (realtime/lua/*.lua) decides every change of a live auction and appends
one numbered event per change to the auction's stream; the same event, stripped of what
is private, goes to the bus, and a copy is kept in PostgreSQL (`auction_events.payload`).
Those three places hold the *raw form*: a JSON object written by `emit` in
realtime/lua/common.lua. Money and moments are strings of integers there (Lua numbers
would print as 1e+13), `seq` and `bids` are numbers, and an absent value is "" or a
missing key. This module is the only reader of that form:

- `parse_event` turns a raw event (stream entry, bus message or stored payload) into an
  `Event`; `raw_event` and `public_event` write it back, whole or as the bus form.
- The scripts' answers (bid, close, cancel, tick) are read by domain/slot_results.py,
  with the helpers below.

Money is integer minor units of the auction's currency; moments are milliseconds since the
Unix epoch (`*_ms`), as the slot keeps them, with `datetime` properties for readers.
Identifiers of users stay strings: they are opaque here, and the bid path converts none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from domain.outcome import SealedBid


class EventKind(StrEnum):
    BID_ACCEPTED = "BID_ACCEPTED"
    PRICE_STEP = "PRICE_STEP"  # a Dutch auction's price fell one step
    EXTENDED = "EXTENDED"  # soft close moved the end
    ENDED = "ENDED"
    CANCELLED = "CANCELLED"
    BIDS_VOIDED = "BIDS_VOIDED"  # bids voided or retracted; the auction was recomputed


class EndReason(StrEnum):
    TIME = "TIME"  # the closer ended it at its end time (realtime/lua/close.lua)
    BUY_NOW = "BUY_NOW"  # an English auction's buy-now price was taken
    ACCEPTED = "ACCEPTED"  # a Dutch auction's price was accepted


class MalformedEvent(ValueError):
    """A raw event or script answer that is not of any known shape (a bug, not input)."""


def from_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """What every event carries: the slot's public state right after the change."""

    kind: ClassVar[EventKind]
    final: ClassVar[bool] = False  # nothing follows it (ENDED, CANCELLED)

    sequence: int  # 1, 2, ... per auction, without gaps
    at_ms: int  # when the slot applied it (Redis TIME)
    price: int | None  # the current price; None before the first bid and, sealed, always
    bid_count: int
    ends_ms: int | None  # the end time after this event (soft close may move it)
    leader: str | None  # user id; None when nobody leads and, sealed, always
    status: str  # the auction's status after it (AuctionStatus value)

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.at_ms / 1000, UTC)

    @property
    def ends_at(self) -> datetime | None:
        return from_ms(self.ends_ms)


@dataclass(frozen=True, slots=True)
class BidAccepted(Event):
    """A bid (or a buy-now) the slot accepted. On a sealed auction's bus form `bidder`,
    `amount` and `outbid` are None (secret until the end); `max_amount`, `replaces` and
    `idempotency_key` never leave the server (None on the bus)."""

    kind: ClassVar[EventKind] = EventKind.BID_ACCEPTED

    bidder: str | None
    amount: int | None  # what the bid offered (Dutch: the price taken)
    max_amount: int | None  # the proxy ceiling (English); the amount elsewhere
    leading: bool  # whether the bidder leads after it (sealed: always False)
    outbid: str | None = None  # who lost the lead by it (English; may be the bidder)
    replaces: int | None = None  # sealed: the bidder's earlier amount it replaced
    buy_now: bool = False
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class PriceStep(Event):
    """A Dutch auction's clock moved the price down a step (realtime/lua/tick.lua)."""

    kind: ClassVar[EventKind] = EventKind.PRICE_STEP

    dutch_price: int  # the price on offer from now on


@dataclass(frozen=True, slots=True)
class Extended(Event):
    """A bid inside the soft-close window moved the end to `ends_ms`."""

    kind: ClassVar[EventKind] = EventKind.EXTENDED


@dataclass(frozen=True, slots=True)
class EndTerms:
    """The terms the slot held at the end: a sealed outcome is decided with these, not
    with a row read before the start (a SCHEDULED auction's terms may change)."""

    starting_price: int
    reserve_price: int | None


@dataclass(frozen=True, slots=True)
class Ended(Event):
    """The auction is over. `sealed_bids` (private) holds each sealed bidder's live bid;
    None when the event does not carry them (the bus form, or an end by a bid)."""

    kind: ClassVar[EventKind] = EventKind.ENDED
    final: ClassVar[bool] = True

    reason: str  # EndReason value
    sealed_bids: tuple[SealedBid, ...] | None = None
    terms: EndTerms | None = None  # carried by the closer's end (private reserve)


@dataclass(frozen=True, slots=True)
class Cancelled(Event):
    kind: ClassVar[EventKind] = EventKind.CANCELLED
    final: ClassVar[bool] = True

    reason: str  # the cancel note ("" for none)


class VoidReason(StrEnum):
    VOIDED = "VOIDED"  # an admin voided a bidder's bids
    RETRACTED = "RETRACTED"  # the bidder retracted their own (eBay's rules)


@dataclass(frozen=True, slots=True)
class PriorState:
    """The public state just before a recompute (private: the bus form leaves it out)."""

    price: int | None
    leader: str | None
    bid_count: int


@dataclass(frozen=True, slots=True)
class BidsVoided(Event):
    """Bids were voided (`voided`: their sequences) and the auction recomputed by
    replaying the remaining bids through the same rules (realtime/lua/recompute.lua); the
    common fields are the state after it. `ignored` lists remaining bids the rules now
    refuse: they stay recorded but do not count. The end time is never moved by it."""

    kind: ClassVar[EventKind] = EventKind.BIDS_VOIDED

    voided: tuple[int, ...]
    reason: str  # VoidReason value
    ignored: tuple[int, ...] = ()
    # Private (None on the bus form): the state before, who acted and the admin's note.
    before: PriorState | None = None
    actor: str | None = None
    note: str | None = None


AnyEvent = BidAccepted | PriceStep | Extended | Ended | Cancelled | BidsVoided


def opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def parse_event(raw: Mapping[str, Any]) -> AnyEvent:
    """An event from its raw form: a stream entry's JSON, a bus message or a stored
    payload (keys beyond the event's, such as the bus form's `auction`, are ignored).
    Raises MalformedEvent for an unknown kind or a missing field."""
    # Positional arguments and one `get`: this runs once per event on the bid path.
    get = raw.get
    kind = get("kind")
    try:
        common = (
            int(raw["seq"]),
            int(raw["at"]),
            opt_int(get("price")),
            int(get("bids") or 0),
            opt_int(get("ends")),
            opt_str(get("leader")),
            str(get("status") or ""),
        )
        if kind == "BID_ACCEPTED":
            return BidAccepted(
                *common,
                opt_str(get("bidder")),
                opt_int(get("amount")),
                opt_int(get("max")),
                bool(get("leading")),
                opt_str(get("outbid")),
                opt_int(get("replaces")),
                bool(get("buy_now")),
                opt_str(get("idem")),
            )
        if kind == "PRICE_STEP":
            return PriceStep(*common, int(raw["dutch_price"]))
        if kind == "EXTENDED":
            return Extended(*common)
        if kind == "ENDED":
            terms = (
                EndTerms(int(raw["start"]), opt_int(raw["reserve"]))
                if "start" in raw and "reserve" in raw
                else None
            )
            return Ended(*common, str(get("reason") or ""), _parse_sealed(get("sealed")), terms)
        if kind == "CANCELLED":
            return Cancelled(*common, str(get("reason") or ""))
        if kind == "BIDS_VOIDED":
            return BidsVoided(
                *common,
                _sequences(get("voided")),
                str(get("reason") or ""),
                _sequences(get("ignored")),
                _parse_prior(get("before")),
                opt_str(get("actor")),
                opt_str(get("note")),
            )
    except (KeyError, TypeError, ValueError) as err:
        raise MalformedEvent(f"malformed auction event {dict(raw)!r}: {err!r}") from err
    raise MalformedEvent(f"unknown auction event kind {kind!r}")


def parse_stored(payload: Mapping[str, Any], sequence: int, kind: str) -> AnyEvent:
    """An event from its PostgreSQL row: the payload with the row's sequence and kind."""
    return parse_event({**payload, "seq": sequence, "kind": kind})


def _parse_sealed(value: Any) -> tuple[SealedBid, ...] | None:
    if value is None:
        return None
    if isinstance(value, dict):  # Lua's cjson writes an empty table as {}
        if value:
            raise MalformedEvent(f"sealed bids must be a list: {value!r}")
        return ()
    return tuple(SealedBid(str(b["bidder"]), int(b["amount"]), int(b["seq"])) for b in value)


def _sequences(value: Any) -> tuple[int, ...]:
    if value is None or value == {}:  # Lua's cjson writes an empty table as {}
        return ()
    return tuple(int(v) for v in value)


def _parse_prior(value: Any) -> PriorState | None:
    if not value:
        return None
    return PriorState(opt_int(value.get("price")), opt_str(value.get("leader")), int(value["bids"]))


def ms_text(value: int | None) -> str:
    return "" if value is None else str(value)


def raw_event(event: Event, *, private: bool = True) -> dict[str, Any]:
    """The raw form of `event` (what the scripts write). `private=False` leaves out what
    never leaves the server (see `public_event`); it keeps a sealed auction's bidders."""
    out: dict[str, Any] = {
        "seq": event.sequence,
        "kind": event.kind.value,
        "at": str(event.at_ms),
        "price": ms_text(event.price),
        "bids": event.bid_count,
        "ends": ms_text(event.ends_ms),
        "leader": event.leader or "",
        "status": event.status,
    }
    if isinstance(event, BidAccepted):
        if event.bidder is not None:
            out["bidder"] = event.bidder
        if event.amount is not None:
            out["amount"] = str(event.amount)
        out["leading"] = event.leading
        if event.outbid is not None:
            out["outbid"] = event.outbid
        if event.buy_now:
            out["buy_now"] = True
        if private:
            if event.max_amount is not None:
                out["max"] = str(event.max_amount)
            if event.replaces is not None:
                out["replaces"] = str(event.replaces)
            out["idem"] = event.idempotency_key or ""
    elif isinstance(event, PriceStep):
        out["dutch_price"] = str(event.dutch_price)
    elif isinstance(event, Ended):
        out["reason"] = event.reason
        if event.terms is not None:
            out["start"] = str(event.terms.starting_price)
            if private:
                out["reserve"] = ms_text(event.terms.reserve_price)
        if private and event.sealed_bids is not None:
            out["sealed"] = [
                {"bidder": b.bidder, "amount": str(b.amount), "seq": b.sequence}
                for b in event.sealed_bids
            ]
    elif isinstance(event, Cancelled):
        out["reason"] = event.reason
    elif isinstance(event, BidsVoided):
        out["voided"] = list(event.voided)
        out["ignored"] = list(event.ignored)
        out["reason"] = event.reason
        if private:
            if event.before is not None:
                out["before"] = {
                    "price": ms_text(event.before.price),
                    "leader": event.before.leader or "",
                    "bids": event.before.bid_count,
                }
            out["actor"] = event.actor or ""
            out["note"] = event.note or ""
    return out


def stored_event(event: Event) -> dict[str, Any]:
    """The payload PostgreSQL keeps: the raw form without the bidder's idempotency key."""
    out = raw_event(event)
    out.pop("idem", None)
    return out


def public_event(event: Event, auction_id: str, *, sealed: bool) -> dict[str, Any]:
    """The bus form: the raw form without the proxy ceiling, the idempotency key, the
    sealed bids, a replaced sealed amount, the reserve (the seller's) and a recompute's
    state before, actor and note, plus the auction's id; on a `sealed` auction also
    without who bid what (SPEC section 3: secret until the end)."""
    out = raw_event(event, private=False)
    if sealed:
        for hidden in ("amount", "bidder", "outbid"):
            out.pop(hidden, None)
    out["auction"] = auction_id
    return out


@dataclass(frozen=True, slots=True)
class PublicEvent:
    """An event as anyone may see it (realtime/stream.py `View`): on a sealed auction no
    price and no leader until the end, which shows the outcome; a Dutch step's price is
    the price on offer."""

    auction_id: str
    sequence: int
    kind: str  # EventKind value
    price: int | None  # minor units; None when unknown or hidden (sealed, still open)
    bid_count: int
    ends_at: datetime
    leader_id: str | None  # None when nobody leads or hidden (sealed, still open)
    status: str
    at: datetime
