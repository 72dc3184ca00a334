"""The admin queue reads a flag's signals in every form the fraud rules store them."""

from __future__ import annotations

from schema.admin_types import signals_of


def test_a_list_of_named_signals() -> None:
    [first] = signals_of(
        {"signals": [{"name": "bidder_tendency", "value": 0.9, "weight": 30, "explanation": "x"}]}
    )
    assert (first.name, first.value, first.weight, first.explanation) == (
        "bidder_tendency",
        0.9,
        30.0,
        "x",
    )


def test_one_rule_signal_with_its_evidence() -> None:
    details = {
        "auction_id": "a",
        "signal": {
            "rule": "shill_bidding",
            "score": 81,
            "explanation": "pushes one seller's prices",
            "evidence": {"bidder_tendency": 0.86, "winning_ratio": 0.0},
            "auction_id": "a",
        },
    }
    [signal] = signals_of(details)
    assert (signal.name, signal.weight) == ("shill_bidding", 81.0)
    evidence: object = signal.evidence
    assert evidence == {"bidder_tendency": 0.86, "winning_ratio": 0.0}


def test_a_mapping_and_junk() -> None:
    assert [s.name for s in signals_of({"signals": {"velocity": 14}})] == ["velocity"]
    assert signals_of({"signals": [1, {"value": 2}, {"name": 3}], "signal": "x"}) == []
    assert signals_of({}) == []
    assert signals_of({"signals": [{"name": "flag", "value": True}]})[0].value == 1.0
