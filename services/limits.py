"""What is rate limited (SPEC section 8), and by which keys. The buckets are a port.

Every check counts one execution of a use case (30 aliased `login` fields are 30
attempts) and happens before the use case acts; a refused check charges nothing and
the use case changes nothing. The limits, all settings (`.env.example`):

- a bid or buy-now: per user, per user and auction, and per client address, in one
  all-or-nothing check (one Redis round trip);
- a login (OWASP Authentication Cheat Sheet, "Login Throttling"): per pair of account
  (the email tried, normalized; hashed in the key) and client address, with backoff;
  per account across all addresses, a much larger budget that bounds a guesser spread
  over many addresses; and per client address. Failures from one address thus never
  slow the owner at another one (only the account-wide budget is shared). Backoff: the
  n-th consecutive failed attempt of a pair (wrong password, unknown account, wrong
  one-time code) charges the pair 2^(n-1) more tokens, at most `login_backoff_max`. That
  penalty is taken when the attempt is admitted, as though it will fail, and given
  back if it does not fail: attempts running at once pay their backoff one after
  another, so concurrency gains no more guesses than the pair's burst allows when they
  are sequential (k guesses where (k - 1) + 2^(k-1) <= burst: 3 of a burst of 10). A pair
  is admitted only while its bucket has room for one token, so its debt, and a pair's
  retry-after, is at most (1 + login_backoff_max) token intervals (defaults: 33 x 30 s
  = 990 s). A success (the password and, with MFA, a code: a login or a signed-in
  user's credential check) clears that pair's backoff only: its streak and the
  penalties its failures paid, not their own tokens nor the other limits' (so the
  attempt budgets stay honest). MFA_REQUIRED (right password, no code yet) is no
  failure. A refusal names the limit that made it wait;
- a registration: per client address;
- a password reset request: per email asked for (whether or not an account has it) and
  per client address; a signed-in user's MFA code or current password (confirmMfa,
  disableMfa, regenerateRecoveryCodes, changePassword) is a login attempt and charges
  the login limits, failures with backoff (services/mfa.py);
- a listing (createAuction, whose images cost CPU): per user, before any image is read;
- a search's first page (searchAuctions without `after`: ranking, facets and a snapshot
  in Redis): per client address;
- a payment-gateway call a user asks for (savePaymentMethod, createSetupIntent,
  payTransaction, and the gateway read behind `Transaction.paymentClientSecret`): per
  user, once the request is known to be valid and allowed, before the gateway is called.
  Saving a card (savePaymentMethod, createSetupIntent) also takes a token of a much
  stricter per-user card budget, in the same all-or-nothing check: attaching a card
  makes Stripe check it, and a stolen-card tester needs many checks (OWASP Automated
  Threats OAT-001 "Carding"; Stripe's "card testing" guide). Steps that move money on a
  sale (confirmReceipt, resolveDispute, offerSecondChance, the worker's steps) are not
  limited: the state machine runs each step of a sale once (`pending_step`) and refuses
  a repeat before the gateway, so their calls are bounded by sales, not by requests;
- "per address" counts an IPv6 client by its /64 (adapters/client_address.py);
- live connections per address (WebSockets and server-sent event streams, one count)
  and subscribe messages per socket are counted in process (adapters/ws_limits.py),
  with rates from here.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

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

    async def attempt(
        self, streak_key: str, backoff: Charge, others: Sequence[Charge], *, max_penalty: int
    ) -> tuple[float, int, int]: ...

    async def settle(
        self, streak_key: str, backoff: Charge, penalty: int, *, reset: bool, max_penalty: int
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Rates:
    """Every limit's rate (defaults and meaning: settings.py, `.env.example`)."""

    bid_user: Rate
    bid_user_auction: Rate
    bid_ip: Rate
    login_account: Rate
    login_account_all: Rate
    login_ip: Rate
    login_backoff_max: int
    register_ip: Rate
    ws_connections_ip: int
    ws_subscribe: Rate
    listing_user: Rate
    payment_user: Rate
    card_user: Rate
    # Password reset requests (services/password_reset.py).
    password_reset_email: Rate
    password_reset_ip: Rate
    # A search's first page (services/search/query.py): per client address.
    search_ip: Rate


LoginOutcome = Literal["failed", "succeeded", "neutral"]


@dataclass(slots=True)
class LoginAttempt:
    """An admitted login attempt: its pair's streak and bucket, the penalty it paid."""

    streak_key: str
    pair: Charge
    penalty: int = 0


# What a refused login names, by the limit that made the wait (`Throttle.login`'s order).
_LOGIN_LIMITS = (
    "login attempts on this account from this address (failed ones back off)",
    "login attempts on this account from all addresses",
    "login attempts from this address",
)


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

    async def login(self, email: str, ip: str | None) -> LoginAttempt | None:
        """Raises RateLimited when the pair (account, address), the account across all
        addresses or the address has no attempt left; else the admitted attempt, to be
        settled with `login_settled` (None when nothing is limited)."""
        if self._limits is None:
            return None
        buckets, rates = self._limits
        account = _account(email)
        where = limit_key(ip) if ip else "-"
        attempt = LoginAttempt(
            f"login:streak:{account}:{where}",
            Charge(f"login:ap:{account}:{where}", rates.login_account),
        )
        others = [Charge(f"login:a:{account}", rates.login_account_all)]
        if ip:
            others.append(Charge(f"login:ip:{where}", rates.login_ip))
        wait, attempt.penalty, by = await buckets.attempt(
            attempt.streak_key, attempt.pair, others, max_penalty=rates.login_backoff_max
        )
        if wait > 0:
            raise RateLimited(_LOGIN_LIMITS[max(by, 0)], wait)
        return attempt

    async def login_settled(self, attempt: LoginAttempt | None, outcome: LoginOutcome) -> None:
        """A failed attempt keeps its penalty; a success (the whole secret proven: the
        password and, with MFA, a code) gives it back and clears the pair's backoff (the
        streak, and the penalties its failures paid; their own tokens stay spent); a
        neutral end (the password was right but no code was given yet, MFA_REQUIRED, or
        the server failed) gives it back and leaves the streak as it was."""
        if self._limits is None or attempt is None or outcome == "failed":
            return
        buckets, rates = self._limits
        await buckets.settle(
            attempt.streak_key,
            attempt.pair,
            attempt.penalty,
            reset=outcome == "succeeded",
            max_penalty=rates.login_backoff_max,
        )

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

    async def search(self, ip: str | None) -> None:
        """A search's first page (up to 1,000 ranked ids, facets, a snapshot kept for
        its later pages): raises RateLimited when the client address has none left
        (GAVEL_RATE_SEARCH_IP). Later pages read the snapshot and are not charged."""
        if self._limits is None or not ip:
            return
        buckets, rates = self._limits
        wait = await buckets.charge([Charge(f"search:ip:{limit_key(ip)}", rates.search_ip)])
        if wait > 0:
            raise RateLimited("searches from this address", wait)

    async def payment(self, user_id: uuid.UUID, calls: int = 1) -> None:
        """Raises RateLimited when the user has fewer than `calls` payment-gateway calls
        left (GAVEL_RATE_PAYMENT_USER); else takes them."""
        if self._limits is None or calls < 1:
            return
        buckets, rates = self._limits
        wait = await buckets.charge([Charge(f"pay:u:{user_id}", rates.payment_user, calls)])
        if wait > 0:
            raise RateLimited("payment requests", wait)

    async def card(self, user_id: uuid.UUID) -> None:
        """One attempt to save a card: raises RateLimited when the user's card budget
        (GAVEL_RATE_CARD_USER) or payment budget is spent; else takes one token of each."""
        if self._limits is None:
            return
        buckets, rates = self._limits
        wait = await buckets.charge(
            [
                Charge(f"card:u:{user_id}", rates.card_user),
                Charge(f"pay:u:{user_id}", rates.payment_user),
            ]
        )
        if wait > 0:
            raise RateLimited("attempts to save a card", wait)

    async def password_reset(self, email: str, ip: str | None) -> None:
        """Raises RateLimited when the email (known or not: the answer must not tell) or
        the client address has no reset request left; else takes one token of each."""
        if self._limits is None:
            return
        buckets, rates = self._limits
        charges = [Charge(f"reset:a:{_account(email)}", rates.password_reset_email)]
        if ip:
            charges.append(Charge(f"reset:ip:{limit_key(ip)}", rates.password_reset_ip))
        wait = await buckets.charge(charges)
        if wait > 0:
            raise RateLimited("password reset requests", wait)
