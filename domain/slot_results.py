"""The auction slot scripts' answers (realtime/lua/bid.lua, close.lua, cancel.lua,
tick.lua, recompute.lua), typed: `parse_bid_result`, `parse_close_result`,
`parse_cancel_result`, `parse_tick_result` and `parse_recompute_result` turn a decoded
answer into its result type; `raw_bid_result` writes an accepted bid's answer back
(rebuilding a lost slot). Money is integer minor units; moments are milliseconds since the
Unix epoch, as in domain/events.py, which reads the events the answers carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.events import (
    AnyEvent,
    BidAccepted,
    BidsVoided,
    Cancelled,
    Ended,
    MalformedEvent,
    PriceStep,
    ms_text,
    opt_int,
    opt_str,
    parse_event,
    raw_event,
)


@dataclass(frozen=True, slots=True)
class SlotMissing:
    """The auction has no slot in Redis (not live yet, or lost): rebuild it and retry."""


MISSING = SlotMissing()


@dataclass(frozen=True, slots=True)
class BidTerms:
    """The auction's terms as the slot held them when it accepted a bid."""

    starting_price: int
    reserve_price: int | None
    buy_now_price: int | None
    starts_ms: int


@dataclass(frozen=True, slots=True)
class BidApplied:
    """realtime/lua/bid.lua accepted the bid: the slot's state after it and its events
    (the bid's BID_ACCEPTED first, then EXTENDED or ENDED). `terms` is None in an answer
    remembered (idempotency) before answers carried them."""

    sequence: int  # of the bid's BID_ACCEPTED event
    leading: bool
    price: int | None
    leader: str | None
    bid_count: int
    ends_ms: int
    status: str
    at_ms: int
    events: tuple[AnyEvent, ...]
    terms: BidTerms | None

    @property
    def bid(self) -> BidAccepted:
        first = self.events[0]
        assert isinstance(first, BidAccepted)
        return first


@dataclass(frozen=True, slots=True)
class BidRefused:
    """realtime/lua/bid.lua rejected the bid; nothing changed. `reason` is a rejection
    code (domain/rejections.py), `detail` a finer one for the message."""

    reason: str
    minimum: int | None  # the least that would be accepted now, when there is one
    detail: str | None
    sequence: int | None  # the slot's latest sequence when it decided


BidResult = BidApplied | BidRefused | SlotMissing


def parse_bid_result(raw: Mapping[str, Any]) -> BidResult:
    """realtime/lua/bid.lua's answer (decoded JSON) as a result."""
    try:
        if raw.get("missing"):
            return MISSING
        if not raw["ok"]:
            return BidRefused(
                reason=str(raw["reason"]),
                minimum=opt_int(raw.get("min")),
                detail=opt_str(raw.get("detail")),
                sequence=opt_int(raw.get("seq")),
            )
        get = raw.get
        start = get("start")
        terms = (
            None
            if start is None
            else BidTerms(
                int(start), opt_int(raw["reserve"]), opt_int(raw["buynow"]), int(raw["starts"])
            )
        )
        return BidApplied(
            int(raw["seq"]),
            bool(raw["leading"]),
            opt_int(get("price")),
            opt_str(get("leader")),
            int(get("bids") or 0),
            int(raw["ends"]),
            str(raw["status"]),
            int(raw["at"]),
            tuple([parse_event(e) for e in raw["events"]]),
            terms,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise MalformedEvent(f"malformed bid result {dict(raw)!r}: {err!r}") from err


def raw_bid_result(result: BidApplied) -> dict[str, Any]:
    """The raw form of an accepted bid's answer, as realtime/lua/bid.lua writes it (and
    remembers it for retries with the same idempotency key)."""
    out: dict[str, Any] = {
        "ok": True,
        "seq": result.sequence,
        "leading": result.leading,
        "price": ms_text(result.price),
        "leader": result.leader or "",
        "bids": result.bid_count,
        "ends": str(result.ends_ms),
        "status": result.status,
        "at": str(result.at_ms),
        "events": [raw_event(e) for e in result.events],
    }
    if result.terms is not None:
        out["start"] = str(result.terms.starting_price)
        out["reserve"] = ms_text(result.terms.reserve_price)
        out["buynow"] = ms_text(result.terms.buy_now_price)
        out["starts"] = str(result.terms.starts_ms)
    return out


@dataclass(frozen=True, slots=True)
class AlreadyOver:
    """The auction had ended or was cancelled before the script ran; nothing changed."""

    status: str  # ENDED or CANCELLED
    sequence: int | None = None  # the slot's last sequence (close.lua says it)
    bid_count: int | None = None  # (cancel.lua says it)


@dataclass(frozen=True, slots=True)
class ClosePending:
    """Not due yet: soft close moved the end to `ends_ms`."""

    ends_ms: int


@dataclass(frozen=True, slots=True)
class CloseApplied:
    """This call ended the auction (only one call does)."""

    event: Ended


CloseResult = CloseApplied | ClosePending | AlreadyOver | SlotMissing


def parse_close_result(raw: Mapping[str, Any]) -> CloseResult:
    """realtime/lua/close.lua's answer (decoded JSON) as a result."""
    try:
        if raw.get("missing"):
            return MISSING
        if raw.get("already"):
            return AlreadyOver(str(raw["status"]), sequence=opt_int(raw.get("seq")))
        if raw.get("pending"):
            return ClosePending(int(raw["ends"]))
        event = parse_event(raw["event"])
    except (KeyError, TypeError, ValueError) as err:
        raise MalformedEvent(f"malformed close result {dict(raw)!r}: {err!r}") from err
    if not isinstance(event, Ended):
        raise MalformedEvent(f"close result with a {event.kind} event")
    return CloseApplied(event)


@dataclass(frozen=True, slots=True)
class CancelApplied:
    event: Cancelled
    bid_count: int  # bids accepted before the cancel (their rows are voided)


@dataclass(frozen=True, slots=True)
class CancelRefused:
    """A seller's cancel after a bid was accepted (SPEC section 3); nothing changed."""

    status: str
    bid_count: int


CancelResult = CancelApplied | CancelRefused | AlreadyOver | SlotMissing


def parse_cancel_result(raw: Mapping[str, Any]) -> CancelResult:
    """realtime/lua/cancel.lua's answer (decoded JSON) as a result."""
    try:
        if raw.get("missing"):
            return MISSING
        if raw.get("already"):
            return AlreadyOver(str(raw["status"]), bid_count=int(raw.get("bids") or 0))
        if raw.get("refused"):
            return CancelRefused(str(raw["status"]), int(raw.get("bids") or 0))
        event = parse_event(raw["event"])
        bids = int(raw.get("bids") or 0)
    except (KeyError, TypeError, ValueError) as err:
        raise MalformedEvent(f"malformed cancel result {dict(raw)!r}: {err!r}") from err
    if not isinstance(event, Cancelled):
        raise MalformedEvent(f"cancel result with a {event.kind} event")
    return CancelApplied(event, bids)


def parse_tick_result(raw: Mapping[str, Any]) -> PriceStep | None:
    """realtime/lua/tick.lua's answer (decoded JSON): the step it published, if any."""
    if "event" not in raw:
        return None
    event = parse_event(raw["event"])
    if not isinstance(event, PriceStep):
        raise MalformedEvent(f"tick result with a {event.kind} event")
    return event


@dataclass(frozen=True, slots=True)
class RecomputeApplied:
    """realtime/lua/recompute.lua voided the bids and replayed the rest: its one event."""

    event: BidsVoided


@dataclass(frozen=True, slots=True)
class RecomputeConflict:
    """The slot's sequence moved (a bid arrived) since the caller read the bids to replay;
    nothing changed: read them again and retry."""

    sequence: int


@dataclass(frozen=True, slots=True)
class RecomputeRefused:
    """Nothing to recompute on this auction (a Dutch auction ends on its one bid)."""

    reason: str  # AUCTION_NOT_ACTIVE


RecomputeResult = (
    RecomputeApplied | RecomputeConflict | RecomputeRefused | AlreadyOver | SlotMissing
)


def parse_recompute_result(raw: Mapping[str, Any]) -> RecomputeResult:
    """realtime/lua/recompute.lua's answer (decoded JSON) as a result; AlreadyOver's status
    is ENDED also for an ACTIVE auction whose end time has passed (not closed yet)."""
    try:
        if raw.get("missing"):
            return MISSING
        if raw.get("over"):
            return AlreadyOver(str(raw["status"]))
        if raw.get("refused"):
            return RecomputeRefused(str(raw["reason"]))
        if raw.get("conflict"):
            return RecomputeConflict(int(raw["seq"]))
        event = parse_event(raw["event"])
    except (KeyError, TypeError, ValueError) as err:
        raise MalformedEvent(f"malformed recompute result {dict(raw)!r}: {err!r}") from err
    if not isinstance(event, BidsVoided):
        raise MalformedEvent(f"recompute result with a {event.kind} event")
    return RecomputeApplied(event)
