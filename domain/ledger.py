"""The settlement ledger: double entry in integer minor units (SPEC section 7).

Each account holds money somewhere on its way from buyer to seller; a leg's amount is
how much it adds to its account (negative: taken out). A posting is one step's legs,
all in one currency, summing to zero; anything else is refused (`UnbalancedPosting`).
So every transaction's entries, and the whole ledger, sum to zero after every step.

Accounts:

- `buyer_funds`: the buyer's card; goes negative by what the buyer paid (or holds).
- `escrow`: authorized or captured money held for the sale until release or refund.
- `seller_payable`: what Gavel owes the seller (price minus the platform fee).
- `platform_revenue`: the platform fee plus the buyer's premium.
- `refunds`: money given back to the buyer.
- `payouts`: money transferred to the seller; `payouts_pending` for a transfer the
  gateway could not make (the emulator has no Connect), owed until paid by hand.

Example, price 100.00, premium 5%, fee 10% (USD cents):
authorize  buyer_funds -10500, escrow +10500;
release    escrow -10500, seller_payable +9000, platform_revenue +1500;
payout     seller_payable -9000, payouts_pending +9000.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from domain.errors import DomainError
from domain.settlement import ReleaseSplit


class Account(StrEnum):
    BUYER_FUNDS = "buyer_funds"
    ESCROW = "escrow"
    SELLER_PAYABLE = "seller_payable"
    PLATFORM_REVENUE = "platform_revenue"
    REFUNDS = "refunds"
    PAYOUTS = "payouts"
    PAYOUTS_PENDING = "payouts_pending"


class UnbalancedPosting(DomainError):
    """A posting whose legs do not sum to zero, mix currencies, or are empty: a bug."""

    code = "UNBALANCED_POSTING"


@dataclass(frozen=True, slots=True)
class Leg:
    account: Account
    amount: int  # minor units; never zero


@dataclass(frozen=True, slots=True)
class Posting:
    """One step's balanced legs. `key` names the step (a step posts once per sale)."""

    key: str
    currency: str
    legs: tuple[Leg, ...]
    memo: str


def posting(key: str, currency: str, memo: str, legs: Iterable[tuple[Account, int]]) -> Posting:
    """A balanced posting from (account, amount) pairs: legs on one account are merged
    and zero legs dropped. Raises UnbalancedPosting unless they sum to zero and at
    least one leg is left; amounts must be ints (never floats)."""
    merged: dict[Account, int] = defaultdict(int)
    for account, amount in legs:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise UnbalancedPosting(f"{key}: amount {amount!r} is not integer minor units")
        merged[Account(account)] += amount
    kept = tuple(Leg(a, v) for a, v in merged.items() if v != 0)
    total = sum(leg.amount for leg in kept)
    if total != 0:
        raise UnbalancedPosting(f"{key}: legs sum to {total}, not zero")
    if not kept:
        raise UnbalancedPosting(f"{key}: a posting moves some money")
    return Posting(key=key, currency=currency, legs=kept, memo=memo)


def balances(postings: Iterable[Posting]) -> dict[tuple[Account, str], int]:
    """Each (account, currency)'s balance over `postings`."""
    out: dict[tuple[Account, str], int] = defaultdict(int)
    for p in postings:
        for leg in p.legs:
            out[(leg.account, p.currency)] += leg.amount
    return dict(out)


def check_balanced(legs: Sequence[tuple[str, int, str]]) -> None:
    """Stored entries (account, amount, currency) must sum to zero per currency."""
    per_currency: dict[str, int] = defaultdict(int)
    for _, amount, currency in legs:
        per_currency[currency] += amount
    bad = {c: t for c, t in per_currency.items() if t != 0}
    if bad:
        raise UnbalancedPosting(f"entries do not sum to zero: {bad}")


# The postings of each settlement step. `amount` is what the buyer pays (price plus
# premium); every function refuses nonsense amounts as a bug, not a client's mistake.


def authorize_posting(amount: int, currency: str) -> Posting:
    """The buyer's money held for the sale (authorization = escrow, SPEC section 7).
    Capturing later moves it into the platform's balance but not out of escrow."""
    return posting(
        "authorize",
        currency,
        "payment authorized into escrow",
        [(Account.BUYER_FUNDS, -amount), (Account.ESCROW, amount)],
    )


def void_posting(amount: int, currency: str) -> Posting:
    """An authorization given back uncaptured (cancelled or refunded before capture)."""
    return posting(
        "void",
        currency,
        "authorization released to the buyer",
        [(Account.ESCROW, -amount), (Account.BUYER_FUNDS, amount)],
    )


def refund_posting(refund: int, currency: str, *, key: str = "refund") -> Posting:
    """`refund` of the captured escrow given back to the buyer."""
    return posting(
        key,
        currency,
        "refund to the buyer",
        [(Account.ESCROW, -refund), (Account.REFUNDS, refund)],
    )


def release_posting(split: ReleaseSplit, currency: str) -> Posting:
    """Escrow's remainder to the seller (less the fee) and the platform (fee, premium)."""
    return posting(
        "release",
        currency,
        "escrow released: seller payable, platform fee and premium",
        [
            (Account.ESCROW, -split.released),
            (Account.SELLER_PAYABLE, split.seller_payable),
            (Account.PLATFORM_REVENUE, split.platform_revenue),
        ],
    )


def payout_posting(amount: int, currency: str, *, pending: bool) -> Posting:
    """The seller payable transferred out (or recorded as a pending transfer)."""
    target = Account.PAYOUTS_PENDING if pending else Account.PAYOUTS
    memo = "payout pending (no transfer possible here)" if pending else "payout transferred"
    return posting("payout", currency, memo, [(Account.SELLER_PAYABLE, -amount), (target, amount)])
