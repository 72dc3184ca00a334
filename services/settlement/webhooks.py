"""Applying verified gateway events, each exactly once."""

from __future__ import annotations

from domain.errors import NotAvailableYet
from domain.payments import GatewayEvent
from services.deps import Deps


async def apply_gateway_event(deps: Deps, event: GatewayEvent) -> bool:
    raise NotAvailableYet("apply_gateway_event")
