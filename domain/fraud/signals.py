"""A rule's verdict (`Signal`) and how an account's signals combine into one score.

Scores are integers 0..100. Signals combine like independent pieces of evidence
("noisy-or"): total = 100 * (1 - prod(1 - s/100)), rounded down. One strong signal
alone decides; several weak ones add up, but never past 100. docs/fraud.md explains
the thresholds that turn a total into an OPEN flag or a FRAUD_HOLD.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Signal:
    """One rule's verdict on one account: `rule` (snake_case name), `score` 0..100,
    an `explanation` for the admin queue, the `evidence` (JSON-ready numbers and ids),
    and the auction it concerns (None: the account as a whole)."""

    rule: str
    score: int
    explanation: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    auction_id: uuid.UUID | None = None

    def as_json(self) -> dict[str, Any]:
        """The form stored in `fraud_flags.details["signals"]` and audit rows."""
        return {
            "rule": self.rule,
            "score": self.score,
            "explanation": self.explanation,
            "evidence": dict(self.evidence),
            "auction_id": None if self.auction_id is None else str(self.auction_id),
        }


def clamp_score(value: float) -> int:
    """A float in any range as an integer score 0..100 (rounded to nearest)."""
    if math.isnan(value):
        return 0
    return max(0, min(100, round(value)))


def combine(signals: Iterable[Signal]) -> int:
    """The account's total: noisy-or of its signals (see the module docstring)."""
    clear = 1.0
    for s in signals:
        clear *= 1.0 - s.score / 100.0
    return max(0, min(100, math.floor(100.0 * (1.0 - clear) + 1e-9)))


def strongest_per_rule(signals: Iterable[Signal]) -> list[Signal]:
    """One signal per rule, the highest scoring, so an account bidding shill-like on ten
    auctions counts as one piece of evidence, not ten (ties: the first seen)."""
    best: dict[str, Signal] = {}
    for s in signals:
        if s.rule not in best or s.score > best[s.rule].score:
            best[s.rule] = s
    return sorted(best.values(), key=lambda s: (-s.score, s.rule))
