"""An admin features an auction, or stops featuring it (issue 17; docs/admin-api.md).

A featured auction is one Gavel puts forward (the search documents carry `featured`;
services/search/documents.py). `set_featured(deps, actor, auction_id, featured, reason)`:

- admins only (FORBIDDEN), with a reason (INVALID_INPUT, field `reason`: 1-500 characters);
- NOT_FOUND (field `auctionId`) for an unknown auction or a draft (drafts are their
  seller's alone: services/catalog.py `visible`);
- only a SCHEDULED or ACTIVE auction can be featured (AUCTION_NOT_OPEN, field
  `auctionId`): featuring one that is over promotes nothing. Unfeaturing works in any
  state;
- no change, no write: ALREADY_FEATURED / NOT_FEATURED.

`featured` and `featured_at` (when; None once unfeatured) change together, with one
`auction.feature` / `auction.unfeature` audit row in the same transaction. The row's
update queues the auction for the search index like any other change (migration 0011's
trigger).
"""

from __future__ import annotations

import uuid

from domain.enums import AuctionStatus
from domain.errors import InvalidState, NotFound
from services.audit import audit_row
from services.deps import Deps
from services.moderation import check_reason, require_admin
from storage.tables import Auction, User

FEATURABLE = (AuctionStatus.SCHEDULED.value, AuctionStatus.ACTIVE.value)


async def set_featured(
    deps: Deps, actor: User, auction_id: uuid.UUID, featured: bool, reason: str
) -> Auction:
    """Feature (or unfeature) an auction; returns the updated row. Errors: FORBIDDEN,
    INVALID_INPUT, NOT_FOUND, AUCTION_NOT_OPEN, ALREADY_FEATURED, NOT_FEATURED."""
    require_admin(actor)
    why = check_reason(reason)
    async with deps.uow() as uow:
        auction = await uow.session.get(Auction, auction_id, with_for_update=True)
        if auction is None or auction.status == AuctionStatus.DRAFT.value:
            raise NotFound("no such auction", field="auctionId")
        if auction.featured == featured:
            code = "ALREADY_FEATURED" if featured else "NOT_FEATURED"
            raise InvalidState(f"nothing to change ({code})", code=code, field="auctionId")
        if featured and auction.status not in FEATURABLE:
            raise InvalidState(
                f"the auction is {auction.status}: only scheduled or active auctions are featured",
                code="AUCTION_NOT_OPEN",
                field="auctionId",
            )
        now = deps.clock()
        before = {"featured": auction.featured, "featured_at": auction.featured_at}
        auction.featured = featured
        auction.featured_at = now if featured else None
        auction.updated_at = now
        uow.session.add(
            audit_row(
                actor.id,
                "auction.feature" if featured else "auction.unfeature",
                "auction",
                auction.id,
                before=before,
                after={"featured": featured, "featured_at": auction.featured_at},
                reason=why,
                at=now,
            )
        )
        await uow.commit()
        return auction
