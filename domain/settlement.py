"""Settlement rules: the transaction and dispute state machines, the premium and fee
arithmetic, and the windows (SPEC section 7; docs/settlement.md "How settlement works").

Money is integer minor units. Rates are basis points (1% = 100 bps) so that no float
ever touches an amount. Rounding rule: a rate applied to an amount rounds half up to
the minor unit (`percent_of`); a rate is at most 100%, so the platform fee never
exceeds the price it is taken from and the seller payable is never negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from domain.enums import DisputeStatus, TransactionStatus
from domain.errors import DomainError, InvalidState, ValidationFailed
from domain.money import to_decimal
from domain.text import check_text

BPS = 10_000  # basis points in 100%


def bps_from_percent(percent: Decimal | int | str, *, name: str) -> int:
    """A percentage setting as basis points: 0 to 100 with at most two decimals.
    Raises ValueError otherwise (a configuration mistake, found at start-up)."""
    value = Decimal(str(percent))
    scaled = value * 100
    if not value.is_finite() or scaled != scaled.to_integral_value() or not 0 <= value <= 100:
        raise ValueError(f"{name} must be a percentage from 0 to 100 with at most 2 decimals")
    return int(scaled)


def percent_of(amount: int, bps: int) -> int:
    """`bps` basis points of `amount` minor units, rounded half up (0.5 -> 1).

    >>> percent_of(1050, 500)   # 5% of 10.50 = 0.525 -> 0.53
    53
    """
    if amount < 0 or not 0 <= bps <= BPS:
        raise ValueError("percent_of takes a non-negative amount and 0..10000 bps")
    return (amount * bps + BPS // 2) // BPS


@dataclass(frozen=True, slots=True)
class SaleAmounts:
    price: int  # the auction's final price (or the runner-up's bid): the seller's part
    buyer_premium: int  # the buyer's premium on top, platform revenue

    @property
    def amount(self) -> int:
        """What the buyer pays: price plus premium."""
        return self.price + self.buyer_premium


def sale_amounts(price: int, premium_bps: int) -> SaleAmounts:
    if price <= 0:
        raise ValueError("a sale's price is positive")
    return SaleAmounts(price=price, buyer_premium=percent_of(price, premium_bps))


@dataclass(frozen=True, slots=True)
class ReleaseSplit:
    """Where escrow's remainder goes at release. released = seller_payable +
    platform_revenue; platform_revenue = fee + the premium still held."""

    released: int
    seller_payable: int
    platform_fee: int
    platform_revenue: int


def release_split(price: int, buyer_premium: int, refunded: int, fee_bps: int) -> ReleaseSplit:
    """Split what is left in escrow after `refunded` was given back.

    A refund comes out of the price first (the seller's part), then out of the premium:
    the fee is taken on the price that is left, so a seller is never charged a fee on
    money refunded. Raises ValueError if `refunded` is negative or above the amount.
    """
    amount = price + buyer_premium
    if not 0 <= refunded <= amount:
        raise ValueError("refunded must lie between 0 and the amount paid")
    price_left = max(price - refunded, 0)
    premium_left = amount - refunded - price_left
    fee = percent_of(price_left, fee_bps)
    return ReleaseSplit(
        released=amount - refunded,
        seller_payable=price_left - fee,
        platform_fee=fee,
        platform_revenue=fee + premium_left,
    )


# --- The transaction state machine ------------------------------------------------

T = TransactionStatus
TRANSITIONS: dict[TransactionStatus, frozenset[TransactionStatus]] = {
    T.PENDING: frozenset({T.AUTHORIZED, T.FAILED}),
    # An authorization given back whole (refund before capture) ends REFUNDED.
    T.AUTHORIZED: frozenset({T.CAPTURED, T.FAILED, T.REFUNDED}),
    T.CAPTURED: frozenset({T.RELEASED, T.REFUNDED}),
    T.RELEASED: frozenset(),
    T.REFUNDED: frozenset(),
    T.FAILED: frozenset(),
}

# Which statuses each action accepts; the message names them and the current one.
ACTIONS: dict[str, frozenset[TransactionStatus]] = {
    "pay": frozenset({T.PENDING}),
    "lapse": frozenset({T.PENDING}),
    "ship": frozenset({T.AUTHORIZED, T.CAPTURED}),
    "confirm receipt": frozenset({T.AUTHORIZED, T.CAPTURED}),
    "capture": frozenset({T.AUTHORIZED}),
    "release": frozenset({T.AUTHORIZED, T.CAPTURED}),
    "refund": frozenset({T.AUTHORIZED, T.CAPTURED}),
    "open a dispute": frozenset({T.AUTHORIZED, T.CAPTURED}),
    "offer a second chance": frozenset({T.FAILED}),
    # Both ends of a sale are "completed": released to the seller or refunded to the buyer.
    "leave feedback": frozenset({T.RELEASED, T.REFUNDED}),
}


def transition(current: TransactionStatus, target: TransactionStatus) -> TransactionStatus:
    """`target` if the machine allows current -> target; else InvalidState."""
    if target not in TRANSITIONS[current]:
        raise InvalidState(f"a {current.value} transaction cannot become {target.value}")
    return target


def check_action(action: str, current: TransactionStatus) -> None:
    """Raise InvalidState (INVALID_STATE) unless `action` is allowed in `current`."""
    allowed = ACTIONS[action]
    if current not in allowed:
        names = " or ".join(sorted(s.value for s in allowed))
        raise InvalidState(
            f"cannot {action}: the transaction is {current.value} (needs {names})",
            field="transactionId",
        )


# --- The dispute state machine ----------------------------------------------------

D = DisputeStatus
OPEN_DISPUTES = frozenset({D.OPEN, D.SELLER_RESPONDED})
DISPUTE_TRANSITIONS: dict[DisputeStatus, frozenset[DisputeStatus]] = {
    D.OPEN: frozenset({D.SELLER_RESPONDED, D.RESOLVED_REFUND, D.RESOLVED_RELEASE}),
    D.SELLER_RESPONDED: frozenset({D.RESOLVED_REFUND, D.RESOLVED_RELEASE}),
    D.RESOLVED_REFUND: frozenset(),
    D.RESOLVED_RELEASE: frozenset(),
}


def dispute_transition(current: DisputeStatus, target: DisputeStatus) -> DisputeStatus:
    if target not in DISPUTE_TRANSITIONS[current]:
        if current is D.SELLER_RESPONDED and target is D.SELLER_RESPONDED:
            message = "the seller has already responded to this dispute"
        elif current not in OPEN_DISPUTES:
            message = f"the dispute is already resolved ({current.value})"
        else:
            message = f"a {current.value} dispute cannot become {target.value}"
        raise InvalidState(message, field="disputeId")
    return target


class Resolution:
    REFUND_FULL = "REFUND_FULL"
    REFUND_PARTIAL = "REFUND_PARTIAL"
    RELEASE = "RELEASE"
    ALL = frozenset({REFUND_FULL, REFUND_PARTIAL, RELEASE})


def check_resolution(
    resolution: str, refund_amount: int | None, refundable: int, currency: str | None = None
) -> int:
    """The amount to refund for an admin's resolution; `refundable` is what escrow holds
    (minor units of `currency`, which, when given, words the refusal in the currency).

    REFUND_FULL refunds everything (refund_amount must be absent or equal), RELEASE
    nothing (absent or 0), REFUND_PARTIAL strictly between 0 and everything. Raises
    ValidationFailed(INVALID_INPUT) with the offending field otherwise.
    """
    if resolution not in Resolution.ALL:
        raise ValidationFailed(
            "resolution must be REFUND_FULL, REFUND_PARTIAL or RELEASE", field="resolution"
        )
    if refund_amount is not None and (
        not isinstance(refund_amount, int) or isinstance(refund_amount, bool)
    ):
        raise ValidationFailed("refundAmount must be minor units", field="refundAmount")
    if resolution == Resolution.REFUND_FULL:
        if refund_amount not in (None, refundable):
            raise ValidationFailed("a full refund refunds the whole amount", field="refundAmount")
        return refundable
    if resolution == Resolution.RELEASE:
        if refund_amount not in (None, 0):
            raise ValidationFailed("a release refunds nothing", field="refundAmount")
        return 0
    if refund_amount is None or not 0 < refund_amount < refundable:
        most = (
            f"{to_decimal(refundable, currency)} {currency}"
            if currency
            else f"{refundable} minor units"
        )
        raise ValidationFailed(
            f"a partial refund is more than 0 and less than {most}", field="refundAmount"
        )
    return refund_amount


# --- Windows ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettlementPolicy:
    """The settlement settings (settings.py "Settlement" block; defaults here match)."""

    payment_window: timedelta = timedelta(days=3)
    hold_window: timedelta = timedelta(days=14)
    dispute_window: timedelta = timedelta(days=14)
    # A paid sale not shipped this long after payment is refunded to the buyer in full
    # (finding: a sale never shipped must not hold the buyer's money forever).
    shipping_window: timedelta = timedelta(days=7)
    # When the gateway does not say (`capture_before`), how long a card authorization
    # lasts: about 7 days for online card payments.
    authorization_lifetime: timedelta = timedelta(days=7)
    capture_margin: timedelta = timedelta(hours=12)
    buyer_premium_bps: int = 0
    platform_fee_bps: int = 500
    reputation_prior_mean: Decimal = Decimal(4)
    reputation_prior_weight: int = 5
    # A gateway step begun this long ago and not recorded is taken to have crashed and
    # is resumed by the worker (with the same idempotency key).
    step_retry_after: timedelta = timedelta(minutes=2)

    def pay_by(self, created_at: datetime) -> datetime:
        return created_at + self.payment_window

    def capture_deadline(
        self, authorized_at: datetime, capture_before: datetime | None
    ) -> datetime:
        """When the authorization expires: the gateway's word, else the lifetime setting."""
        return capture_before or authorized_at + self.authorization_lifetime

    def capture_due(self, capture_before: datetime, now: datetime) -> bool:
        """Capture `capture_margin` before the authorization expires."""
        return now >= capture_before - self.capture_margin

    def release_after(self, shipped_at: datetime) -> datetime:
        return shipped_at + self.hold_window

    def ship_by(self, paid_at: datetime) -> datetime:
        """The seller ships by then; after it an unshipped sale is refunded in full."""
        return paid_at + self.shipping_window

    def dispute_deadline(self, shipped_at: datetime | None) -> datetime | None:
        """Disputes open within `dispute_window` of shipment. None while the item is not
        shipped: a buyer waiting for an item may always dispute."""
        return None if shipped_at is None else shipped_at + self.dispute_window


class DisputeWindowClosed(DomainError):
    code = "DISPUTE_WINDOW_CLOSED"


def check_dispute_window(deadline: datetime | None, now: datetime) -> None:
    """DISPUTE_WINDOW_CLOSED once `deadline` has passed (None: no deadline yet)."""
    if deadline is not None and now > deadline:
        raise DisputeWindowClosed(
            f"disputes could be opened until {deadline.isoformat()}", field="transactionId"
        )


def check_shipped(shipped_at: datetime | None) -> None:
    """Receipt is confirmed only for an item shipped (INVALID_STATE otherwise)."""
    if shipped_at is None:
        raise InvalidState(
            "cannot confirm receipt: the item has not been shipped yet", field="transactionId"
        )


def check_shipping_window(ship_by: datetime, now: datetime) -> None:
    """The seller may mark the item shipped until `ship_by`; after it the sale is
    refunded to the buyer (INVALID_STATE)."""
    if now > ship_by:
        raise InvalidState(
            f"the item had to ship by {ship_by.isoformat()}: the sale is refunded to the buyer",
            field="transactionId",
        )


# --- Feedback -------------------------------------------------------------------------

MAX_COMMENT = 2000


class AlreadyLeftFeedback(DomainError):
    code = "ALREADY_LEFT_FEEDBACK"


def clean_feedback(rating: object, comment: str | None) -> tuple[int, str | None]:
    """A rating 1-5 and a comment of at most 2,000 characters (stripped; empty = none).
    Raises ValidationFailed(INVALID_INPUT, field rating|comment)."""
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ValidationFailed("rating must be a whole number from 1 to 5", field="rating")
    text = check_text((comment or "").strip(), "comment", multiline=True)
    if len(text) > MAX_COMMENT:
        raise ValidationFailed(f"comment must be at most {MAX_COMMENT} characters", field="comment")
    return rating, text or None


# --- Disputes' words -----------------------------------------------------------------

MAX_REASON = 100
MAX_MESSAGE = 5000


def clean_dispute_text(value: object, field: str, *, limit: int, multiline: bool) -> str:
    """Required text of at most `limit` characters; ValidationFailed(field) otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{field} is required", field=field)
    text = check_text(value.strip(), field, multiline=multiline)
    if len(text) > limit:
        raise ValidationFailed(f"{field} must be at most {limit} characters", field=field)
    return text
