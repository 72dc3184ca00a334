"""The typed per-request context, with DataLoaders made fresh for every request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from realtime.slots import LiveState
from schema.settlement_loaders import SettlementLoaders
from services import catalog
from services.deps import Deps
from storage.tables import Auction, Item, ItemImage, User

if TYPE_CHECKING:  # the live delivery module imports the types, which import this
    from schema.live_delivery import LiveDelivery


@dataclass
class Loaders:
    users: DataLoader[uuid.UUID, User | None]
    items: DataLoader[uuid.UUID, Item | None]
    auctions: DataLoader[uuid.UUID, Auction | None]
    images: DataLoader[uuid.UUID, list[ItemImage]]
    watchers: DataLoader[uuid.UUID, int]
    live: DataLoader[uuid.UUID, LiveState | None]
    # Settlement's loaders are made on first use: most requests (bids among them) touch
    # no sale.
    deps: Deps | None = field(default=None, repr=False)
    _settlement: SettlementLoaders | None = field(default=None, repr=False)

    @property
    def settlement(self) -> SettlementLoaders:
        if self._settlement is None:
            assert self.deps is not None
            self._settlement = SettlementLoaders.create(self.deps)
        return self._settlement

    @classmethod
    def create(cls, deps: Deps) -> Loaders:
        return cls(
            users=DataLoader(lambda ids: catalog.users_by_id(deps, ids)),
            items=DataLoader(lambda ids: catalog.items_by_id(deps, ids)),
            auctions=DataLoader(lambda ids: catalog.auctions_by_id(deps, ids)),
            images=DataLoader(lambda ids: catalog.images_by_item(deps, ids)),
            watchers=DataLoader(lambda ids: catalog.watcher_counts(deps, ids)),
            live=DataLoader(lambda ids: deps.slots.live(ids)),
            deps=deps,
        )


@dataclass
class GavelContext:
    deps: Deps
    loaders: Loaders
    max_page: int
    viewer: User | None = None
    # Why the Authorization header was refused (expired, malformed...), shown on auth errors.
    auth_error: tuple[str, str] | None = None
    request: Any = None
    response: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Live subscription delivery shared by the whole app (schema/live_delivery.py).
    live: LiveDelivery | None = None


# The `info` argument of every resolver of this schema: one alias, used everywhere.
Ctx = Info[GavelContext, Any]
