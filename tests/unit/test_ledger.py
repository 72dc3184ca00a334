"""The settlement ledger (domain/ledger.py): postings balance or are refused, and every
flow of a sale, whatever its amounts, leaves each sale and the whole ledger at zero with
refunds never above what was paid (issue 14 item 5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.ledger import (
    Account,
    Posting,
    UnbalancedPosting,
    authorize_posting,
    balances,
    check_balanced,
    payout_posting,
    posting,
    refund_posting,
    release_posting,
    void_posting,
)
from domain.settlement import release_split, sale_amounts


def test_a_posting_must_sum_to_zero():
    with pytest.raises(UnbalancedPosting, match="sum to 1"):
        posting("x", "USD", "m", [(Account.ESCROW, 10), (Account.BUYER_FUNDS, -9)])


def test_a_posting_moves_money_in_integers_only():
    with pytest.raises(UnbalancedPosting, match="integer"):
        posting("x", "USD", "m", [(Account.ESCROW, 1.5), (Account.BUYER_FUNDS, -1.5)])  # type: ignore[list-item]
    with pytest.raises(UnbalancedPosting, match="moves some money"):
        posting("x", "USD", "m", [(Account.ESCROW, 0)])


def test_legs_on_one_account_merge():
    p = posting("x", "USD", "m", [(Account.ESCROW, 5), (Account.ESCROW, 5), (Account.REFUNDS, -10)])
    assert {(leg.account, leg.amount) for leg in p.legs} == {
        (Account.ESCROW, 10),
        (Account.REFUNDS, -10),
    }


def test_stored_entries_are_checked_per_currency():
    check_balanced([("escrow", 5, "USD"), ("buyer_funds", -5, "USD")])
    with pytest.raises(UnbalancedPosting):
        check_balanced([("escrow", 5, "USD"), ("buyer_funds", -5, "EUR")])


def test_the_documented_example():
    amounts = sale_amounts(10_000, 500)
    split = release_split(amounts.price, amounts.buyer_premium, 0, 1000)
    flow = [
        authorize_posting(amounts.amount, "USD"),
        release_posting(split, "USD"),
        payout_posting(split.seller_payable, "USD", pending=True),
    ]
    assert balances(flow) == {
        (Account.BUYER_FUNDS, "USD"): -10_500,
        (Account.ESCROW, "USD"): 0,
        (Account.SELLER_PAYABLE, "USD"): 0,
        (Account.PLATFORM_REVENUE, "USD"): 1_500,
        (Account.PAYOUTS_PENDING, "USD"): 9_000,
    }


FLOWS = ["release", "refund_full", "refund_partial", "void", "lapsed"]


def flow_postings(
    price: int, premium_bps: int, fee_bps: int, flow: str, part: int
) -> list[Posting]:
    """A sale's postings along one flow, as services/settlement/steps.py records them."""
    amounts = sale_amounts(price, premium_bps)
    amount = amounts.amount
    out = [authorize_posting(amount, "USD")]
    if flow == "void":
        return [*out, void_posting(amount, "USD")]
    if flow == "lapsed":
        return []
    if flow == "refund_full":
        return [*out, refund_posting(amount, "USD")]
    refund = 0
    if flow == "refund_partial":
        refund = 1 + part % (amount - 1) if amount > 1 else 0
        if refund:
            out.append(refund_posting(refund, "USD"))
    split = release_split(amounts.price, amounts.buyer_premium, refund, fee_bps)
    out.append(release_posting(split, "USD"))
    if split.seller_payable:
        out.append(payout_posting(split.seller_payable, "USD", pending=part % 2 == 0))
    return out


@given(
    sales=st.lists(
        st.tuples(
            st.integers(1, 10**12),
            st.integers(0, 10_000),
            st.integers(0, 10_000),
            st.sampled_from(FLOWS),
            st.integers(0, 10**12),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_every_flow_balances_per_sale_and_overall(sales):
    everything: list[Posting] = []
    for price, premium_bps, fee_bps, flow, part in sales:
        postings = flow_postings(price, premium_bps, fee_bps, flow, part)
        paid = sale_amounts(price, premium_bps).amount
        for p in postings:
            assert sum(leg.amount for leg in p.legs) == 0
            assert all(isinstance(leg.amount, int) for leg in p.legs)
        per_sale = balances(postings)
        refunded = per_sale.get((Account.REFUNDS, "USD"), 0)
        assert 0 <= refunded <= paid
        assert per_sale.get((Account.ESCROW, "USD"), 0) == 0  # settled: nothing held
        assert per_sale.get((Account.SELLER_PAYABLE, "USD"), 0) == 0  # paid out
        assert -per_sale.get((Account.BUYER_FUNDS, "USD"), 0) in (0, paid)
        everything += postings
    assert sum(balances(everything).values()) == 0
