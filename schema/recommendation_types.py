"""Recommendations with their reasons (services/search/recommendations.py)."""

from __future__ import annotations

import strawberry

from domain.discovery import RecommendationReason
from schema.auction_types import Auction

strawberry.enum(
    RecommendationReason,
    description="Why an auction is recommended: CO_BIDDING (bidders on an auction you bid "
    "on also bid on it), SIMILAR_ITEM (same category as one you bid on, watched or viewed, "
    "with similar title words), TRENDING (high recent activity).",
)


@strawberry.type(description="A recommended auction and why it was picked for the viewer.")
class Recommendation:
    auction: Auction
    reason: RecommendationReason
    explanation: str = strawberry.field(
        description='A sentence naming what led to the pick, e.g. "Bidders on Leica M3 also '
        'bid on this".'
    )
