"""The demo seeds fill the admins' fraud queue with exactly what the fraud rules raise on
the seeded bidding (trial T6: no invented rule names, no scores under the thresholds,
no negative ages), each signal listed once, the same on every build."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from domain.fraud.assess import REPEATED_SHILL, SHARED_RULE
from domain.fraud.flags import COMBINED_RULE
from domain.fraud.rules import FINGERPRINT_SPRAYING, FraudPolicy
from domain.fraud.shill import RULE as SHILL_RULE
from schema.admin_types import signals_of
from seeds.builder import build

POLICY = FraudPolicy()
DOCUMENTED_RULES = {
    SHILL_RULE,
    REPEATED_SHILL,
    SHARED_RULE,
    FINGERPRINT_SPRAYING,
    COMBINED_RULE,
    "new_account_high_value",
    "bid_velocity",
    "retraction_abuse",
}


def test_the_demo_queue_holds_what_the_rules_raise() -> None:
    now = datetime.now(UTC)
    rows = build(now, defaultdict(str))
    flags = rows.fraud_flags
    assert flags, "the demo's admin queue is empty"
    assert {f.status for f in flags} == {"OPEN"}
    assert {f.rule for f in flags} <= DOCUMENTED_RULES, {f.rule for f in flags}
    bids = {(b.bidder_id, b.auction_id) for b in rows.bids}
    for flag in flags:
        assert flag.score >= POLICY.flag_threshold, flag
        if flag.auction_id is not None:
            assert (flag.user_id, flag.auction_id) in bids
        names = [s.name for s in signals_of(flag.details)]
        assert names[0] == flag.rule and len(names) == len(set(names)), names
        own = flag.details["signals"][0]
        assert own["score"] == flag.score and own["explanation"], own
        assert own["evidence"].get("account_age_seconds", 0) >= 0, own
        assert "-" not in own["explanation"].split(" old")[0], own
    keys = [(f.user_id, f.rule, f.auction_id) for f in flags]
    assert len(keys) == len(set(keys))  # the scorer's one OPEN flag per key
    assert [f.id for f in build(now, defaultdict(str)).fraud_flags] == [f.id for f in flags]
