"""What is rate limited (SPEC section 8), and by which keys. The buckets are a port.

Every check counts one execution of a use case (30 aliased `login` fields are 30
attempts) and happens before the use case acts; a refused check charges nothing and
the use case changes nothing. The limits, all settings (`.env.example`):

- a bid or buy-now: per user, per user and auction, and per client address, in one
  all-or-nothing check (one Redis round trip);
- a login: per account (the email tried, normalized; hashed in the key) and per client
  address. Backoff: the n-th consecutive failed attempt on an account (wrong password,
  unknown account, wrong one-time code) charges the account 2^(n-1) more tokens, at most
  `login_backoff_max`; a successful login resets the streak;
- a registration: per client address;
- a listing (createAuction, whose images cost CPU): per user, before any image is read;
- "per address" counts an IPv6 client by its /64 (adapters/client_address.py);
- WebSocket connections per address and subscribe messages per socket are counted in
  process (adapters/ws_limits.py), with rates from here.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from adapters.client_address import limit_key
from adapters.rate_limits import Charge, ChargePlan, Rate
from domain.errors import DomainError


class RateLimited(DomainError):
    """Too many attempts; `retry_after` is whole seconds (at least 1)."""

    code = "RATE_LIMITED"

    def __init__(self, what: str, retry_after: float, *, field: str | None = None) -> None:
        self.retry_after = retry_after_seconds(retry_after)
        super().__init__(
            f"too many {what}; retry in {self.retry_after} s", code="RATE_LIMITED", field=field
        )


def retry_after_seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


class Buckets(Protocol):
    async def charge(self, charges: Sequence[Charge]) -> float: ...

    def plan(self, rates: Sequence[Rate]) -> ChargePlan: ...

    async def charge_planned(self, keys: Sequence[str], plan: ChargePlan) -> float: ...

    async def penalize(self, charge: Charge, streak_key: str, *, max_cost: int) -> float: ...

    async def forget(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Rates:
    """Every limit's rate (defaults and meaning: settings.py, `.env.example`)."""

    bid_user: Rate
    bid_user_auction: Rate
    bid_ip: Rate
    login_account: Rate
    login_ip: Rate
    login_backoff_max: int
    register_ip: Rate
    ws_connections_ip: int
    ws_subscribe: Rate
    listing_user: Rate


def _account(email: str) -> str:
    # The key names the account without storing the address (and bounds its length).
    return hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Throttle:
    """The limits of the use cases. Without buckets (tests of other parts, tools, or
    GAVEL_RATE_LIMITS=false) nothing is limited."""

    def __init__(self, buckets: Buckets | None = None, rates: Rates | None = None) -> None:
        self._limits = (buckets, rates) if buckets is not None and rates is not None else None
        if buckets is not None and rates is not None:
            bid_rates = [rates.bid_user, rates.bid_user_auction]
            self._bid_plans = (buckets.plan(bid_rates), buckets.plan([*bid_rates, rates.bid_ip]))

    @property
    def enabled(self) -> bool:
        return self._limits is not None

    @property
    def rates(self) -> Rates | None:
        return self._limits[1] if self._limits else None

    async def bid(self, user_id: uuid.UUID, auction_id: uuid.UUID, ip: str | None) -> float:
        """0.0 if the bid may go ahead (its tokens are taken), else the seconds to wait."""
        if self._limits is None:
            return 0.0
        keys = [f"bid:u:{user_id}", f"bid:ua:{user_id}:{auction_id}"]
        if ip:
            keys.append(f"bid:ip:{limit_key(ip)}")
        return await self._limits[0].charge_planned(keys, self._bid_plans[len(keys) - 2])

    async def login(self, email: str, ip: str | None) -> None:
        """Raises RateLimited when the account or the address has no attempt left."""
        if self._limits is None:
            return
        buckets, rates = self._limits
        charges = [Charge(f"login:a:{_account(email)}", rates.login_account)]
        if ip:
            charges.append(Charge(f"login:ip:{limit_key(ip)}", rates.login_ip))
        wait = await buckets.charge(charges)
        if wait > 0:
            raise RateLimited("login attempts", wait)

    async def login_failed(self, email: str) -> None:
        if self._limits is None:
            return
        buckets, rates = self._limits
        account = _account(email)
        await buckets.penalize(
            Charge(f"login:a:{account}", rates.login_account),
            f"login:streak:{account}",
            max_cost=rates.login_backoff_max,
        )

    async def login_succeeded(self, email: str) -> None:
        if self._limits is not None:
            await self._limits[0].forget(f"login:streak:{_account(email)}")

    async def register(self, ip: str | None) -> None:
        if self._limits is None or not ip:
            return
        buckets, rates = self._limits
        wait = await buckets.charge([Charge(f"register:ip:{limit_key(ip)}", rates.register_ip)])
        if wait > 0:
            raise RateLimited("registrations from this address", wait)

    async def listing(self, user_id: uuid.UUID) -> None:
        """Raises RateLimited when the user has no createAuction left."""
        if self._limits is None:
            return
        buckets, rates = self._limits
        wait = await buckets.charge([Charge(f"listing:u:{user_id}", rates.listing_user)])
        if wait > 0:
            raise RateLimited("new listings", wait)
