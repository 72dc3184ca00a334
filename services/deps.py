"""What the use cases depend on, built once by the composition root (gavel_app.py).

The live machinery reaches the use cases through two ports, given to the constructor:
`bus` (realtime/broadcast.py publishes events to subscribers) and `outbox`
(realtime/persister.py records a slot's events in PostgreSQL). A tool that runs the use
cases without them (bench/engine.py) passes None: nothing is published, and the outbox
is drained by the next persister.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from adapters.client_address import Network
from adapters.images import ImageStore
from adapters.mailer import LogMailer
from adapters.passwords import PasswordHasher
from adapters.signed_media import SignedMedia
from adapters.tokens import TokenService
from domain.fraud.rules import FraudPolicy
from domain.listing import ListingPolicy
from domain.payments import PaymentGateway
from domain.settlement import SettlementPolicy
from realtime.account_states import AccountStates
from realtime.events import Bus
from realtime.notification_feed import NotificationFeed
from realtime.slots import AuctionSlots
from services.limits import Throttle
from services.search.port import SearchIndex
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


class Outbox(Protocol):
    """This process's outbox persister (realtime/persister.py `Persister`)."""

    def mark(self, auction_id: uuid.UUID | str) -> None:
        """The auction has new events in its stream: record them soon (no waiting)."""

    async def drain(self, auction_ids: Sequence[str] | None = None) -> int:
        """Record the auctions' new events now; returns how many were written."""


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
    # The ports (see the module's docstring); None: none in this process.
    bus: Bus | None
    outbox: Outbox | None
    # Dispute evidence's short-lived signed URLs (adapters/signed_media.py).
    private_media: SignedMedia
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
    # Settlement's windows, fee and premium (domain/settlement.py); defaults match settings.py.
    settlement_policy: SettlementPolicy = field(default_factory=SettlementPolicy)
    # A mailed password-reset token's life (GAVEL_PASSWORD_RESET_TTL).
    password_reset_ttl: timedelta = timedelta(minutes=30)
    # Notifications part (issue 15): this process's live notification wake-ups
    # (realtime/notification_feed.py); None: subscribers poll.
    notifications: NotificationFeed | None = None
    # Key of the HMAC that stores IP/device sightings (services/fraud/sightings.py).
    sighting_key: bytes = b""
    # Fraud fix F3: the rules' policy, for the sightings' bounds at login (settings.py).
    fraud_policy: FraudPolicy = field(default_factory=FraudPolicy)
    # Search part (issue 16): the search index (services/search/port.py); None: search
    # answers NOT_AVAILABLE_YET (a tool that runs without one).
    search: SearchIndex | None = None
    # How long a search's ordered results stay pageable (GAVEL_SEARCH_SNAPSHOT_TTL).
    search_snapshot_seconds: int = 600
