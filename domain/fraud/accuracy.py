"""Precision and recall of the fraud rules on labelled data (domain/fraud/synthetic.py).

An account is predicted a shill when its assessment's total reaches the threshold
(the hold threshold, unless another is given); the positive class is the shills. Two
ways to look (`live`):

- live (the default): as the scorer sees it (services/fraud/scorer.py), right after
  each of the bidder's bids and when each of its auctions ends, on the auctions as they
  stood then; one checkpoint at the threshold predicts a shill, since a hold stays
  until an admin lifts it;
- at the end: once, after every auction ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime

from domain.fraud.assess import BidderCase, assess
from domain.fraud.facts import AuctionFact
from domain.fraud.rules import FraudPolicy
from domain.fraud.synthetic import HARD, LabData, LabParameters, generate


@dataclass(frozen=True, slots=True)
class Confusion:
    threshold: int
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        shills = self.true_positives + self.false_negatives
        return self.true_positives / shills if shills else 1.0

    def table(self) -> str:
        """A Markdown confusion matrix with precision and recall under it."""
        return "\n".join(
            [
                f"threshold {self.threshold}",
                "",
                "| | predicted shill | predicted honest |",
                "|---|---|---|",
                f"| shill | {self.true_positives} | {self.false_negatives} |",
                f"| honest | {self.false_positives} | {self.true_negatives} |",
                "",
                f"precision {self.precision:.3f}, recall {self.recall:.3f}",
            ]
        )


def _as_of(auction: AuctionFact, at: datetime) -> AuctionFact:
    """The auction as it stood at `at`: the bids placed by then, its leader as winner."""
    bids = tuple(b for b in auction.bids if b.placed_at <= at)
    return replace(
        auction,
        bids=bids,
        ended=auction.ends_at <= at,
        winner_id=bids[-1].bidder_id if bids else None,
    )


def totals(data: LabData, policy: FraudPolicy, *, live: bool = True) -> dict[object, int]:
    """Every bidder's total score on the lab: live, its highest at any of its bids;
    else once, at the end."""
    market = data.market()
    scores: dict[object, int] = {}
    for bidder, joined in data.joined().items():
        created = data.created_at[bidder]
        if not live:
            case = BidderCase(bidder, created, joined)
            scores[bidder] = assess(case, market, policy, data.now).total
            continue
        moments = sorted(
            {b.placed_at for a in joined for b in a.bids if b.bidder_id == bidder}
            | {a.ends_at for a in joined}
        )
        best = 0
        for at in moments:
            seen = [_as_of(a, at) for a in joined if a.opened_at <= at]
            mine = [a for a in seen if bidder in a.bidders()]
            best = max(best, assess(BidderCase(bidder, created, mine), market, policy, at).total)
        scores[bidder] = best
    return scores


def measure(
    data: LabData, policy: FraudPolicy, threshold: int | None = None, *, live: bool = True
) -> Confusion:
    """The confusion matrix of the rules on `data` at `threshold` (default: hold)."""
    cut = policy.hold_threshold if threshold is None else threshold
    return LabRun.of([data], policy, live=live).at(cut)


@dataclass(frozen=True, slots=True)
class LabRun:
    """Every bidder's total on some labs, with its label: (is a shill, total)."""

    scores: tuple[tuple[bool, int], ...]

    @classmethod
    def of(cls, labs: Sequence[LabData], policy: FraudPolicy, *, live: bool = True) -> LabRun:
        return cls(
            tuple(
                (bidder in lab.shills, total)
                for lab in labs
                for bidder, total in totals(lab, policy, live=live).items()
            )
        )

    def at(self, threshold: int) -> Confusion:
        tp = sum(1 for shill, total in self.scores if shill and total >= threshold)
        fp = sum(1 for shill, total in self.scores if not shill and total >= threshold)
        fn = sum(1 for shill, total in self.scores if shill and total < threshold)
        tn = sum(1 for shill, total in self.scores if not shill and total < threshold)
        return Confusion(threshold, tp, fp, fn, tn)


REPORT_SEEDS = tuple(range(1, 11))


def described(params: LabParameters, seeds: Sequence[int] = REPORT_SEEDS) -> str:
    """The lab's parameters as the report runs them: the seeds it pools instead of the
    single `seed` field (which the report never uses)."""
    shown = ", ".join(
        f"{f.name}={getattr(params, f.name)!r}" for f in fields(params) if f.name != "seed"
    )
    return f"{shown}; seeds {seeds[0]}..{seeds[-1]}"


def labs(params: LabParameters, seeds: Sequence[int] = REPORT_SEEDS) -> list[LabData]:
    """The labs of `params` under each seed."""
    return [generate(replace(params, seed=s)) for s in seeds]


@dataclass(frozen=True, slots=True)
class Accuracy:
    """The rules on the default and the hard lab, ten seeds each (docs/fraud.md)."""

    policy: FraudPolicy
    default: LabRun
    hard: LabRun

    def report(self) -> str:
        """The Markdown report: confusion matrices at the hold and flag thresholds."""
        seeds = f"seeds {REPORT_SEEDS[0]}..{REPORT_SEEDS[-1]} pooled"
        hold, flag = self.policy.hold_threshold, self.policy.flag_threshold
        lines = [
            "# Fraud rules: accuracy on the synthetic lab",
            "",
            "Live: each bidder scored after each of its bids and at each of its auctions'",
            "end, on the auctions as they stood then; its highest total counts.",
            "",
            f"Default lab: {described(LabParameters())}",
            "",
            f"Hard lab: {described(HARD)}",
            "",
            f"## Default lab, {seeds}, hold threshold",
            "",
            self.default.at(hold).table(),
            "",
            f"## Default lab, {seeds}, flag threshold",
            "",
            self.default.at(flag).table(),
            "",
            f"## Hard lab, {seeds}, hold threshold",
            "",
            self.hard.at(hold).table(),
            "",
            f"## Hard lab, {seeds}, flag threshold",
            "",
            self.hard.at(flag).table(),
        ]
        return "\n".join(lines) + "\n"


def accuracy(policy: FraudPolicy) -> Accuracy:
    """Score both labs once (live); thresholds are then applied for free."""
    return Accuracy(
        policy,
        default=LabRun.of(labs(LabParameters()), policy),
        hard=LabRun.of(labs(HARD), policy),
    )
