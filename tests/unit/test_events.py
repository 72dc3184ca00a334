"""domain/events.py: the raw forms the Lua scripts write, parsed into typed events and
results and written back unchanged (tests/integration/test_event_shapes.py checks the
same against the real scripts)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from domain.events import (
    BidAccepted,
    Cancelled,
    Ended,
    EndTerms,
    EventKind,
    Extended,
    MalformedEvent,
    PriceStep,
    parse_event,
    parse_stored,
    public_event,
    raw_event,
    stored_event,
)
from domain.outcome import SealedBid
from domain.slot_results import (
    MISSING,
    AlreadyOver,
    BidApplied,
    BidRefused,
    BidTerms,
    CancelRefused,
    CloseApplied,
    ClosePending,
    parse_bid_result,
    parse_cancel_result,
    parse_close_result,
    parse_tick_result,
    raw_bid_result,
)

A, B = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
AUCTION = "33333333-3333-3333-3333-333333333333"


def common(seq: int, kind: str, **extra: Any) -> dict[str, Any]:
    """The fields `emit` (realtime/lua/common.lua) writes on every event."""
    return {
        "seq": seq,
        "kind": kind,
        "at": "1764460800123",
        "price": "1500",
        "bids": 2,
        "ends": "1764464400000",
        "leader": A,
        "status": "ACTIVE",
        **extra,
    }


BID = common(
    2, "BID_ACCEPTED", bidder=A, amount="1200", max="2000", leading=True, outbid=B, idem="k-1"
)
SEALED_BID = common(
    3,
    "BID_ACCEPTED",
    price="",
    leader="",
    bidder=B,
    amount="900",
    max="900",
    leading=False,
    replaces="700",
    idem="",
)
BUY_NOW = common(4, "BID_ACCEPTED", bidder=B, amount="9000", max="9000", leading=True)
BUY_NOW |= {"buy_now": True, "idem": ""}
STEP = common(5, "PRICE_STEP", price="", leader="", dutch_price="4800")
EXTENDED = common(6, "EXTENDED")
END_BY_TIME = common(
    7,
    "ENDED",
    status="ENDED",
    reason="TIME",
    sealed=[{"bidder": A, "amount": "700", "seq": 1}, {"bidder": B, "amount": "900", "seq": 3}],
    start="500",
    reserve="",
)
END_BY_BID = common(8, "ENDED", status="ENDED", reason="BUY_NOW")
CANCELLED = common(9, "CANCELLED", status="CANCELLED", reason="seller withdrew")
ALL = [BID, SEALED_BID, BUY_NOW, STEP, EXTENDED, END_BY_TIME, END_BY_BID, CANCELLED]


@pytest.mark.parametrize("raw", ALL, ids=lambda r: f"{r['seq']}-{r['kind']}")
def test_every_raw_event_is_written_back_as_it_was_read(raw: dict[str, Any]):
    event = parse_event(raw)
    assert event.kind == EventKind(raw["kind"])
    assert raw_event(event) == raw


def test_an_accepted_bid_is_typed_field_by_field():
    assert parse_event(BID) == BidAccepted(
        sequence=2,
        at_ms=1764460800123,
        price=1500,
        bid_count=2,
        ends_ms=1764464400000,
        leader=A,
        status="ACTIVE",
        bidder=A,
        amount=1200,
        max_amount=2000,
        leading=True,
        outbid=B,
        idempotency_key="k-1",
    )
    sealed = parse_event(SEALED_BID)
    assert isinstance(sealed, BidAccepted)
    assert (sealed.price, sealed.leader, sealed.replaces, sealed.idempotency_key) == (
        None,
        None,
        700,
        None,
    )
    assert parse_event(BUY_NOW).buy_now is True  # type: ignore[union-attr]


def test_the_other_kinds_are_typed():
    step = parse_event(STEP)
    assert isinstance(step, PriceStep) and step.dutch_price == 4800 and step.price is None
    assert isinstance(parse_event(EXTENDED), Extended)
    end = parse_event(END_BY_TIME)
    assert isinstance(end, Ended) and end.final and end.reason == "TIME"
    assert end.sealed_bids == (SealedBid(A, 700, 1), SealedBid(B, 900, 3))
    assert end.terms == EndTerms(500, None)
    by_bid = parse_event(END_BY_BID)
    assert isinstance(by_bid, Ended) and by_bid.sealed_bids is None and by_bid.terms is None
    cancelled = parse_event(CANCELLED)
    assert isinstance(cancelled, Cancelled) and cancelled.final
    assert cancelled.reason == "seller withdrew"
    assert not parse_event(BID).final


def test_moments_are_utc_datetimes():
    event = parse_event(BID)
    assert event.at.isoformat() == "2025-11-30T00:00:00.123000+00:00"
    assert event.ends_at is not None and event.ends_at.isoformat().startswith("2025-11-30T01:00")


def test_an_empty_lua_table_is_no_sealed_bids():
    # cjson writes an empty Lua table as {}: a close with no sealed bids.
    end = parse_event({**END_BY_TIME, "sealed": {}})
    assert isinstance(end, Ended) and end.sealed_bids == ()


def test_the_public_form_hides_what_is_private():
    bus = public_event(parse_event(BID), AUCTION, sealed=False)
    assert bus == {k: v for k, v in BID.items() if k not in ("max", "idem")} | {"auction": AUCTION}
    end = public_event(parse_event(END_BY_TIME), AUCTION, sealed=True)
    assert "sealed" not in end and "reserve" not in end and end["start"] == "500"
    sealed = public_event(parse_event(SEALED_BID), AUCTION, sealed=True)
    for hidden in ("amount", "bidder", "outbid", "max", "idem", "replaces"):
        assert hidden not in sealed
    # The bus form parses back into the same kind, with the private fields unknown.
    again = parse_event(sealed)
    assert isinstance(again, BidAccepted) and again.sequence == 3
    assert (again.bidder, again.amount, again.max_amount) == (None, None, None)
    ended = parse_event(end)
    assert isinstance(ended, Ended) and ended.sealed_bids is None and ended.terms is None


def test_the_stored_form_drops_the_idempotency_key_and_reads_back():
    stored = stored_event(parse_event(BID))
    assert "idem" not in stored and stored["max"] == "2000"
    payload = {k: v for k, v in stored.items() if k not in ("seq", "kind")}
    back = parse_stored(payload, 2, "BID_ACCEPTED")
    bid = parse_event(BID)
    assert isinstance(bid, BidAccepted)
    assert back == dataclasses.replace(bid, idempotency_key=None)


@pytest.mark.parametrize(
    "raw",
    [
        {"seq": 1, "kind": "RENAMED", "at": "1"},
        {"kind": "BID_ACCEPTED", "at": "1"},
        {"seq": 1, "kind": "PRICE_STEP", "at": "1"},
        {"seq": "x", "kind": "EXTENDED", "at": "1"},
        common(1, "ENDED", sealed=[{"bidder": A}]),
    ],
)
def test_a_malformed_event_is_refused_by_name(raw: dict[str, Any]):
    with pytest.raises(MalformedEvent):
        parse_event(raw)


ACCEPTED_RESULT: dict[str, Any] = {
    "ok": True,
    "seq": 2,
    "leading": True,
    "price": "1500",
    "leader": A,
    "bids": 2,
    "ends": "1764464400000",
    "status": "ACTIVE",
    "at": "1764460800123",
    "events": [BID, EXTENDED],
    "start": "1000",
    "reserve": "",
    "buynow": "9000",
    "starts": "1764457200000",
}


def test_an_accepted_bid_result_is_typed_and_written_back():
    result = parse_bid_result(ACCEPTED_RESULT)
    assert isinstance(result, BidApplied)
    assert result.bid == parse_event(BID)
    assert result.events[1] == parse_event(EXTENDED)
    assert result.terms == BidTerms(1000, None, 9000, 1764457200000)
    assert (result.sequence, result.leading, result.price, result.bid_count) == (2, True, 1500, 2)
    assert raw_bid_result(result) == ACCEPTED_RESULT


def test_a_result_remembered_before_results_carried_terms():
    old = {k: v for k, v in ACCEPTED_RESULT.items() if k not in ("start", "reserve", "buynow")}
    old.pop("starts")
    result = parse_bid_result(old)
    assert isinstance(result, BidApplied) and result.terms is None
    assert raw_bid_result(result) == old


def test_rejected_and_missing_bid_results():
    refused = {"ok": False, "reason": "BID_TOO_LOW", "min": "1600", "seq": 2}
    assert parse_bid_result(refused) == BidRefused("BID_TOO_LOW", 1600, None, 2)
    detailed = {**refused, "detail": "CEILING_NOT_RAISED"}
    assert parse_bid_result(detailed) == BidRefused("BID_TOO_LOW", 1600, "CEILING_NOT_RAISED", 2)
    ended = {"ok": False, "reason": "AUCTION_ENDED", "seq": 9}
    assert parse_bid_result(ended) == BidRefused("AUCTION_ENDED", None, None, 9)
    assert parse_bid_result({"missing": True}) is MISSING


def test_close_results():
    assert parse_close_result({"missing": True}) is MISSING
    assert parse_close_result({"pending": True, "ends": "1764464400000"}) == ClosePending(
        1764464400000
    )
    assert parse_close_result({"already": True, "status": "ENDED", "seq": 7}) == AlreadyOver(
        "ENDED", sequence=7
    )
    closed = parse_close_result({"ended": True, "event": END_BY_TIME})
    assert closed == CloseApplied(parse_event(END_BY_TIME))  # type: ignore[arg-type]
    with pytest.raises(MalformedEvent):
        parse_close_result({"ended": True, "event": BID})


def test_cancel_results():
    assert parse_cancel_result({"missing": True}) is MISSING
    assert parse_cancel_result({"refused": True, "status": "ACTIVE", "bids": 3}) == (
        CancelRefused("ACTIVE", 3)
    )
    assert parse_cancel_result({"already": True, "status": "ENDED", "bids": 0}) == AlreadyOver(
        "ENDED", bid_count=0
    )
    applied = parse_cancel_result({"cancelled": True, "event": CANCELLED, "bids": 2})
    assert applied == parse_cancel_result({"cancelled": True, "event": CANCELLED, "bids": 2})
    assert getattr(applied, "bid_count", None) == 2


def test_tick_results():
    assert parse_tick_result({}) is None
    step = parse_tick_result({"event": STEP})
    assert isinstance(step, PriceStep) and step.sequence == 5
    with pytest.raises(MalformedEvent):
        parse_tick_result({"event": EXTENDED})
