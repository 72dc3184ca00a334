"""The demo seeds fill the admins' fraud queue: OPEN flags with explained signals, on
bidders who did bid on the flagged auction, the same on every build."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from schema.admin_types import signals_of
from seeds.builder import build


def test_the_demo_queue_has_open_flags_with_signals() -> None:
    now = datetime.now(UTC)
    rows = build(now, defaultdict(str))
    flags = rows.fraud_flags
    assert len(flags) >= 3
    assert {f.status for f in flags} == {"OPEN"}
    assert len({f.user_id for f in flags}) == len(flags)
    bids = {(b.bidder_id, b.auction_id) for b in rows.bids}
    for flag in flags:
        assert (flag.user_id, flag.auction_id) in bids
        signals = signals_of(flag.details)
        assert signals and all(s.name and s.value is not None for s in signals)
    assert [f.id for f in build(now, defaultdict(str)).fraud_flags] == [f.id for f in flags]
