"""Settlement rules (domain/settlement.py, domain/reputation.py): rounding of premium
and fee, the split at release, both state machines, windows, feedback and reputation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.enums import DisputeStatus as D
from domain.enums import TransactionStatus as T
from domain.errors import InvalidState, ValidationFailed
from domain.reputation import bayesian_score, reputation
from domain.settlement import (
    TRANSITIONS,
    AlreadyLeftFeedback,
    DisputeWindowClosed,
    SettlementPolicy,
    bps_from_percent,
    check_action,
    check_dispute_window,
    check_resolution,
    check_shipped,
    check_shipping_window,
    clean_feedback,
    dispute_transition,
    percent_of,
    release_split,
    sale_amounts,
    transition,
)


def test_rates_round_half_up_to_the_minor_unit():
    assert percent_of(1050, 500) == 53  # 52.5 -> 53
    assert percent_of(1049, 500) == 52  # 52.45 -> 52
    assert percent_of(1, 5000) == 1  # 0.5 -> 1
    assert percent_of(1, 4999) == 0
    assert percent_of(10**13, 10_000) == 10**13


def test_percent_settings_become_basis_points_or_are_refused():
    assert bps_from_percent(Decimal("2.5"), name="x") == 250
    assert bps_from_percent("0", name="x") == 0
    assert bps_from_percent(100, name="x") == 10_000
    for bad in ("2.555", "-1", "100.01", "NaN"):
        with pytest.raises(ValueError):
            bps_from_percent(bad, name="x")


def test_premium_is_added_to_the_price():
    amounts = sale_amounts(12_345, 1000)
    assert (amounts.price, amounts.buyer_premium, amounts.amount) == (12_345, 1235, 13_580)
    with pytest.raises(ValueError):
        sale_amounts(0, 0)


@given(
    price=st.integers(1, 10**13),
    premium_bps=st.integers(0, 10_000),
    fee_bps=st.integers(0, 10_000),
    refund_share=st.fractions(0, 1),
)
def test_the_release_split_adds_up_and_never_charges_a_fee_above_the_payable(
    price, premium_bps, fee_bps, refund_share
):
    amounts = sale_amounts(price, premium_bps)
    refunded = int(amounts.amount * refund_share)
    split = release_split(amounts.price, amounts.buyer_premium, refunded, fee_bps)
    assert split.released == amounts.amount - refunded
    assert split.seller_payable + split.platform_revenue == split.released
    assert 0 <= split.platform_fee <= amounts.price - min(refunded, amounts.price)
    assert split.seller_payable >= 0
    assert split.platform_revenue >= split.platform_fee


def test_a_refund_comes_out_of_the_price_before_the_premium():
    split = release_split(price=10_000, buyer_premium=1_000, refunded=4_000, fee_bps=1000)
    assert (split.seller_payable, split.platform_fee, split.platform_revenue) == (5_400, 600, 1_600)
    split = release_split(price=10_000, buyer_premium=1_000, refunded=10_500, fee_bps=1000)
    assert (split.seller_payable, split.platform_revenue, split.released) == (0, 500, 500)
    with pytest.raises(ValueError):
        release_split(price=10, buyer_premium=0, refunded=11, fee_bps=0)


def test_the_transaction_state_machine():
    assert transition(T.PENDING, T.AUTHORIZED) is T.AUTHORIZED
    assert transition(T.AUTHORIZED, T.CAPTURED) is T.CAPTURED
    assert transition(T.CAPTURED, T.RELEASED) is T.RELEASED
    assert transition(T.CAPTURED, T.REFUNDED) is T.REFUNDED
    assert transition(T.PENDING, T.FAILED) is T.FAILED
    assert transition(T.AUTHORIZED, T.FAILED) is T.FAILED
    illegal = [(a, b) for a in T for b in T if b not in TRANSITIONS[a]]
    assert (T.CAPTURED, T.FAILED) in illegal and (T.RELEASED, T.REFUNDED) in illegal
    for current, target in illegal:
        with pytest.raises(InvalidState, match=f"a {current.value} transaction cannot"):
            transition(current, target)


def test_actions_name_the_state_they_found():
    check_action("confirm receipt", T.CAPTURED)
    with pytest.raises(InvalidState, match="cannot confirm receipt: the transaction is PENDING"):
        check_action("confirm receipt", T.PENDING)
    with pytest.raises(InvalidState) as refused:
        check_action("leave feedback", T.FAILED)
    assert refused.value.code == "INVALID_STATE"


def test_the_dispute_state_machine():
    assert dispute_transition(D.OPEN, D.SELLER_RESPONDED) is D.SELLER_RESPONDED
    assert dispute_transition(D.OPEN, D.RESOLVED_REFUND) is D.RESOLVED_REFUND
    assert dispute_transition(D.SELLER_RESPONDED, D.RESOLVED_RELEASE) is D.RESOLVED_RELEASE
    with pytest.raises(InvalidState, match="already responded"):
        dispute_transition(D.SELLER_RESPONDED, D.SELLER_RESPONDED)
    for done in (D.RESOLVED_REFUND, D.RESOLVED_RELEASE):
        for target in D:
            with pytest.raises(InvalidState, match="already resolved"):
                dispute_transition(done, target)


def test_resolutions_and_their_refunds():
    assert check_resolution("REFUND_FULL", None, 500) == 500
    assert check_resolution("REFUND_FULL", 500, 500) == 500
    assert check_resolution("RELEASE", None, 500) == 0
    assert check_resolution("REFUND_PARTIAL", 1, 500) == 1
    with pytest.raises(ValidationFailed, match=r"less than 120\.00 EUR$"):
        check_resolution("REFUND_PARTIAL", 12_000, 12_000, "EUR")
    for resolution, amount, field in [
        ("REFUND_PARTIAL", None, "refundAmount"),
        ("REFUND_PARTIAL", 0, "refundAmount"),
        ("REFUND_PARTIAL", 500, "refundAmount"),
        ("REFUND_PARTIAL", -3, "refundAmount"),
        ("REFUND_FULL", 499, "refundAmount"),
        ("RELEASE", 5, "refundAmount"),
        ("SPLIT", None, "resolution"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            check_resolution(resolution, amount, 500)
        assert refused.value.field == field


def test_windows():
    policy = SettlementPolicy()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert policy.pay_by(t0) == t0 + timedelta(days=3)
    assert policy.capture_deadline(t0, None) == t0 + timedelta(days=7)
    given_deadline = t0 + timedelta(days=5)
    assert policy.capture_deadline(t0, given_deadline) == given_deadline
    assert not policy.capture_due(given_deadline, given_deadline - timedelta(hours=13))
    assert policy.capture_due(given_deadline, given_deadline - timedelta(hours=12))
    assert policy.release_after(t0) == t0 + timedelta(days=14)
    shipped = t0 + timedelta(days=2)
    assert policy.dispute_deadline(shipped) == shipped + timedelta(days=14)
    check_dispute_window(shipped, shipped)
    with pytest.raises(DisputeWindowClosed) as closed:
        check_dispute_window(shipped, shipped + timedelta(seconds=1))
    assert closed.value.code == "DISPUTE_WINDOW_CLOSED"


def test_the_dispute_window_of_an_unshipped_sale_never_closes():
    policy = SettlementPolicy()
    assert policy.dispute_deadline(None) is None
    check_dispute_window(None, datetime(2099, 1, 1, tzinfo=UTC))


def test_the_seller_ships_within_the_shipping_window_counted_from_payment():
    policy = SettlementPolicy()
    paid = datetime(2026, 1, 1, tzinfo=UTC)
    assert policy.ship_by(paid) == paid + timedelta(days=7)
    assert SettlementPolicy(shipping_window=timedelta(hours=2)).ship_by(paid) == paid + timedelta(
        hours=2
    )
    check_shipping_window(policy.ship_by(paid), policy.ship_by(paid))
    with pytest.raises(InvalidState) as late:
        check_shipping_window(policy.ship_by(paid), policy.ship_by(paid) + timedelta(seconds=1))
    assert "refunded" in late.value.message


def test_receipt_is_confirmed_only_for_a_shipped_item():
    check_shipped(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidState) as unshipped:
        check_shipped(None)
    assert unshipped.value.code == "INVALID_STATE"
    assert "not been shipped yet" in unshipped.value.message


def test_feedback_is_left_on_released_and_refunded_sales_only():
    check_action("leave feedback", T.RELEASED)
    check_action("leave feedback", T.REFUNDED)
    for status in (T.PENDING, T.AUTHORIZED, T.CAPTURED, T.FAILED):
        with pytest.raises(InvalidState):
            check_action("leave feedback", status)


def test_feedback_input():
    assert clean_feedback(5, "  great  ") == (5, "great")
    assert clean_feedback(1, "") == (1, None)
    assert clean_feedback(3, "x" * 2000)[1] == "x" * 2000
    for rating, comment, field in [
        (0, None, "rating"),
        (6, None, "rating"),
        (True, None, "rating"),
        ("5", None, "rating"),
        (4, "x" * 2001, "comment"),
        (4, "bad\x00byte", "comment"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            clean_feedback(rating, comment)
        assert refused.value.field == field
    assert AlreadyLeftFeedback("x").code == "ALREADY_LEFT_FEEDBACK"


def test_reputation_is_a_bayesian_average_with_the_documented_prior():
    prior, weight = Decimal(4), 5
    assert reputation(0, 0, prior, weight).score == 4.0
    assert reputation(5, 1, prior, weight).score == pytest.approx(25 / 6, abs=0.005)
    assert bayesian_score(1 * 100, 100, prior, weight) == round((20 + 100) / 105, 2)
    assert reputation(10, 2, prior, weight).count == 2
    with pytest.raises(ValueError):
        bayesian_score(0, 0, prior, 0)


@given(st.lists(st.integers(1, 5), max_size=200))
def test_reputation_lies_between_the_prior_and_the_mean(ratings):
    score = bayesian_score(sum(ratings), len(ratings), Decimal(4), 5)
    mean = sum(ratings) / len(ratings) if ratings else 4.0
    assert min(mean, 4.0) - 0.005 <= score <= max(mean, 4.0) + 0.005
