"""Reputation: a Bayesian average of the 1-5 ratings a user received (SPEC section 7).

score = (C * m + sum of ratings) / (m + n), with the prior C (mean rating assumed
before any is known, default 4.0) weighted as m ratings (default 5). A new user shows
C; a few ratings move the score a little, many ratings make it their plain mean. Source:
the "Bayesian average" (e.g. IMDb's weighted rating), docs/settlement.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True, slots=True)
class Reputation:
    score: float  # 0..5, two decimals: a display figure, never money
    count: int  # ratings received


def bayesian_score(rating_sum: int, count: int, prior_mean: Decimal, prior_weight: int) -> float:
    """(C*m + sum) / (m + n) rounded half up to two decimals. Raises ValueError for a
    negative count or weight, or an empty prior with no ratings."""
    if count < 0 or prior_weight < 0 or prior_weight + count == 0:
        raise ValueError("the prior weight plus the ratings must be positive")
    exact = (prior_mean * prior_weight + rating_sum) / Decimal(prior_weight + count)
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def reputation(rating_sum: int, count: int, prior_mean: Decimal, prior_weight: int) -> Reputation:
    return Reputation(bayesian_score(rating_sum, count, prior_mean, prior_weight), count)
