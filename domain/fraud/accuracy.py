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
from dataclasses import dataclass, replace
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
    tp = fp = fn = tn = 0
    for bidder, total in totals(data, policy, live=live).items():
        shill, predicted = bidder in data.shills, total >= cut
        tp += shill and predicted
        fp += predicted and not shill
        fn += shill and not predicted
        tn += not shill and not predicted
    return Confusion(cut, tp, fp, fn, tn)


def pooled(
    seeds: Sequence[int],
    policy: FraudPolicy,
    threshold: int | None = None,
    params: LabParameters | None = None,
    *,
    live: bool = True,
) -> Confusion:
    """One confusion matrix over the labs of several seeds (`params` but the seed)."""
    base = params or LabParameters()
    parts = [measure(generate(replace(base, seed=s)), policy, threshold, live=live) for s in seeds]
    return Confusion(
        parts[0].threshold,
        sum(p.true_positives for p in parts),
        sum(p.false_positives for p in parts),
        sum(p.false_negatives for p in parts),
        sum(p.true_negatives for p in parts),
    )


REPORT_SEEDS = tuple(range(1, 11))


def report(policy: FraudPolicy) -> str:
    """The accuracy report (docs/fraud.md): the default lab and ten seeds pooled, at the
    hold and the flag thresholds."""
    lab = generate()
    lines = [
        "# Fraud rules: accuracy on the synthetic lab",
        "",
        f"Lab: domain/fraud/synthetic.py, {LabParameters()}",
        f"Shills: {len(lab.shills)}, honest bidders who bid: "
        f"{len(set(lab.joined()) - lab.shills)}, auctions: {len(lab.auctions)}",
        "",
        "## Default seed, hold threshold",
        "",
        measure(lab, policy).table(),
        "",
        "## Default seed, flag threshold",
        "",
        measure(lab, policy, policy.flag_threshold).table(),
        "",
        f"## Seeds {REPORT_SEEDS[0]}..{REPORT_SEEDS[-1]} pooled, hold threshold",
        "",
        pooled(REPORT_SEEDS, policy).table(),
        "",
        f"## Hard lab, seeds {REPORT_SEEDS[0]}..{REPORT_SEEDS[-1]} pooled, hold threshold",
        "",
        f"{HARD}",
        "",
        pooled(REPORT_SEEDS, policy, params=HARD).table(),
        "",
        f"## Hard lab, seeds {REPORT_SEEDS[0]}..{REPORT_SEEDS[-1]} pooled, flag threshold",
        "",
        pooled(REPORT_SEEDS, policy, policy.flag_threshold, params=HARD).table(),
    ]
    return "\n".join(lines) + "\n"
