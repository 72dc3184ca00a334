"""Precision and recall of the fraud rules on labelled data (domain/fraud/synthetic.py).

An account is predicted a shill when its assessment's total reaches the threshold
(the hold threshold, unless another is given); the positive class is the shills.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.fraud.assess import BidderCase, assess
from domain.fraud.rules import FraudPolicy
from domain.fraud.synthetic import LabData


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


def totals(data: LabData, policy: FraudPolicy) -> dict[object, int]:
    """Every bidder's total score on the lab data."""
    market = data.market()
    scores: dict[object, int] = {}
    for bidder, joined in data.joined().items():
        case = BidderCase(bidder, data.created_at[bidder], joined)
        scores[bidder] = assess(case, market, policy, data.now).total
    return scores


def measure(data: LabData, policy: FraudPolicy, threshold: int | None = None) -> Confusion:
    """The confusion matrix of the rules on `data` at `threshold` (default: hold)."""
    cut = policy.hold_threshold if threshold is None else threshold
    tp = fp = fn = tn = 0
    for bidder, total in totals(data, policy).items():
        shill, predicted = bidder in data.shills, total >= cut
        tp += shill and predicted
        fp += predicted and not shill
        fn += shill and not predicted
        tn += not shill and not predicted
    return Confusion(cut, tp, fp, fn, tn)
