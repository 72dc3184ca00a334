"""What the use cases depend on, built once by the composition root."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.client_address import Network
from adapters.images import ImageStore
from adapters.mailer import LogMailer
from adapters.passwords import PasswordHasher
from adapters.tokens import TokenService
from domain.listing import ListingPolicy
from domain.payments import PaymentGateway
from realtime.account_states import AccountStates
from realtime.events import Bus
from realtime.slots import AuctionSlots
from services.limits import Throttle
from services.user_cache import UserCache
from storage.uow import UnitOfWorkFactory


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AuctionFacts:
    """What no use case changes once an auction is published: safe to cache forever.

    Its terms (prices, start, end) are not here: `updateAuction` changes them while the
    auction is SCHEDULED (SPEC section 3), so a bid takes them from the live slot.
    """

    id: uuid.UUID
    item_id: uuid.UUID
    seller_id: uuid.UUID
    type: str
    currency: str


@dataclass
class Deps:
    uow: UnitOfWorkFactory
    hasher: PasswordHasher
    tokens: TokenService
    mailer: LogMailer
    images: ImageStore
    listing_policy: ListingPolicy
    refresh_ttl: timedelta
    slots: AuctionSlots
    # Each account's state in Redis: authentication without PostgreSQL.
    account_states: AccountStates
    bus: Bus | None = None
    # The outbox persister's drain (set by the composition root): records a slot's events now.
    drain: Callable[[list[str]], Awaitable[int]] | None = None
    # Tells this process's persister an auction has new events (set by the composition root).
    mark_dirty: Callable[[uuid.UUID], None] | None = None
    user_cache: UserCache = field(default_factory=UserCache)
    require_verified_email: bool = False
    public_base_url: str = "http://127.0.0.1:8000"
    clock: Callable[[], datetime] = field(default=utcnow)
    media_dir: Path = Path(".gavel-data/media")
    # The bid path's per-process cache of published auctions' fixed facts; never stale.
    auction_cache: dict[uuid.UUID, AuctionFacts] = field(default_factory=dict)
    auction_loads: dict[uuid.UUID, asyncio.Future[AuctionFacts]] = field(default_factory=dict)
    # Rate limits of the use cases (services/limits.py); the default limits nothing.
    throttle: Throttle = field(default_factory=Throttle)
    # Peers whose X-Forwarded-For names the client (adapters/client_address.py).
    trusted_proxies: tuple[Network, ...] = ()
    # The payment gateway (domain/payments.py; adapters/stripe_gateway.py), if any.
    payments: PaymentGateway | None = None
