"""The money pages: sales (server-side search, filter, sort, paging), a sale's ledger,
the ledger's balance check and the reconciliation report; admins only."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from nicegui import ui
from nicegui.testing.user import User as UIUser
from sqlalchemy import text

from domain.errors import Forbidden
from services import admin_money
from tests.admin_ui.hostile import (
    FORGED_REQUESTS,
    ban_out_of_band,
    crashes,
    table_rows,
    trigger,
)
from tests.admin_ui.hostile import eventually as eventually_true
from tests.admin_ui.review_steps import open_as, user_row
from tests.api.settlement_steps import make_admin, paid, sold
from tests.conftest import GQL
from tests.helpers import register


def sales_table(user: UIUser) -> ui.table:
    (table,) = user.find(marker="sales-table").elements
    assert isinstance(table, ui.table)
    return table


async def request(user: UIUser, **pagination: Any) -> None:
    """What the browser's table sends when a page or a sort is picked."""
    table = sales_table(user)
    user.find(marker="sales-table").trigger(
        "request", {"pagination": {**table.pagination, **pagination}}
    )


async def rows_become(user: UIUser, predicate: Any) -> list[dict[str, Any]]:
    """The table's rows once `predicate(rows)` holds (handlers run as tasks)."""
    import asyncio

    for _ in range(50):
        rows = sales_table(user).rows
        if predicate(rows):
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"the table never showed the expected rows: {sales_table(user).rows}")


async def test_admin_searches_filters_sorts_and_opens_a_sales_ledger(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    seller = await register(gql, seller=True)
    cheap = await sold(gql, app, seller=seller, price="140.00")
    dear = await paid(gql, app, seller=seller, price="190.00")
    await open_as(ui_user, admin, "/money", "sales-table")

    ui_user.find(marker="sale-search").type(seller.username)
    ui_user.find(marker="sale-search-go").click()
    rows = await rows_become(ui_user, lambda rows: {r["seller"] for r in rows} == {seller.username})
    assert {r["id"] for r in rows} == {cheap.transaction_id, dear.transaction_id}
    assert sales_table(ui_user).pagination["rowsNumber"] == 2

    await request(ui_user, sortBy="amount", descending=False, page=1)
    rows = await rows_become(ui_user, lambda rows: rows and rows[0]["id"] == cheap.transaction_id)
    assert [r["amount"] for r in rows] == ["$140.00", "$190.00"]
    await request(ui_user, sortBy="amount", descending=True, page=1)
    await rows_become(ui_user, lambda rows: rows and rows[0]["id"] == dear.transaction_id)

    await request(ui_user, rowsPerPage=10, page=2)
    await rows_become(ui_user, lambda rows: rows == [])
    await request(ui_user, rowsPerPage=10, page=1)
    await rows_become(ui_user, lambda rows: len(rows) == 2)

    ui_user.find(marker="sale-status").click()
    ui_user.find("Paid (card authorized)").click()
    rows = await rows_become(ui_user, lambda rows: len(rows) == 1)
    assert rows[0]["id"] == dear.transaction_id
    assert rows[0]["status"] == "Paid (card authorized)"

    ui_user.find(marker="sales-table").trigger("open", {"id": dear.transaction_id})
    await ui_user.should_see(marker="ledger-table")
    await ui_user.should_see(marker="sale-summary")
    await ui_user.should_see("The USD legs sum to zero: balanced.")
    await ui_user.should_see("Payment authorized")  # the history, in words


async def test_search_that_matches_nothing_says_so(ui_user: UIUser, gql: GQL, app: FastAPI) -> None:
    admin = await make_admin(gql, app)
    await sold(gql, app)
    await open_as(ui_user, admin, "/money", "sales-table")
    ui_user.find(marker="sale-search").type("no-such-user-" + uuid.uuid4().hex[:8])
    ui_user.find(marker="sale-search-go").click()
    await rows_become(ui_user, lambda rows: rows == [])
    assert sales_table(ui_user).pagination["rowsNumber"] == 0


async def test_unknown_sale_is_a_written_not_found(ui_user: UIUser, gql: GQL, app: FastAPI) -> None:
    admin = await make_admin(gql, app)
    await open_as(ui_user, admin, "/money", "sales-table")
    for wrong in (str(uuid.uuid4()), "not-an-id"):
        await ui_user.open(f"/money/{wrong}")
        await ui_user.should_see("This page cannot be shown")
        await ui_user.should_see("It does not exist, or it is not yours to see.")


async def test_balance_check_finds_an_unbalanced_ledger(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    sale = await paid(gql, app)
    viewer = await user_row(app, admin)
    deps = app.state.deps
    mine = uuid.UUID(sale.transaction_id)

    check = await admin_money.check_balances(deps, viewer)
    assert [p for p in check.problems if p.transaction_id == mine] == []
    assert check.volume.get("USD", 0) > 0

    # A leg posted alone, in another currency: the posting, the sale and the whole ISK
    # ledger no longer sum to zero. Removed afterwards: the session's ledger is shared.
    leg = str(uuid.uuid4())
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO ledger_entries (transaction_id, posting_id, posting_key, account,"
                " amount, currency, created_at) VALUES (:t, :p, 'stray', 'escrow', 500, 'ISK',"
                " now())"
            ),
            {"t": sale.transaction_id, "p": leg},
        )
    try:
        check = await admin_money.check_balances(deps, viewer)
        assert not check.balanced
        found = {(p.where, p.currency, p.amount) for p in check.problems}
        assert ("posting", "ISK", 500) in found
        assert ("sale", "ISK", 500) in found
        assert ("ledger", "ISK", 500) in found

        await open_as(ui_user, admin, "/money", "check-balances")
        ui_user.find(marker="check-balances").click()
        await ui_user.should_see(marker="ledger-unbalanced")
        await ui_user.should_see("The whole ISK ledger sums to 500 ISK, not zero.")
        await ui_user.open(f"/money/{sale.transaction_id}")
        await ui_user.should_see(marker="sale-unbalanced")
    finally:
        async with app.state.engine.begin() as conn:
            await conn.execute(text("DELETE FROM ledger_entries WHERE posting_id = :p"), {"p": leg})
    check = await admin_money.check_balances(deps, viewer)
    assert [p for p in check.problems if p.currency == "ISK"] == []


async def test_balance_check_finds_escrow_that_disagrees_with_the_sale(
    gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    sale = await paid(gql, app)
    viewer = await user_row(app, admin)
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE transactions SET status = 'RELEASED' WHERE id = :t"),
            {"t": sale.transaction_id},
        )
    try:
        check = await admin_money.check_balances(app.state.deps, viewer)
        escrow = [p for p in check.problems if p.transaction_id == uuid.UUID(sale.transaction_id)]
        assert [(p.where, p.expected) for p in escrow] == [("escrow", 0)]
        assert escrow[0].amount > 0
    finally:
        async with app.state.engine.begin() as conn:
            await conn.execute(
                text("UPDATE transactions SET status = 'AUTHORIZED' WHERE id = :t"),
                {"t": sale.transaction_id},
            )


async def test_reconciliation_runs_on_a_button_and_reports_in_words(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    await paid(gql, app)
    await open_as(ui_user, admin, "/money", "run-reconciliation")
    ui_user.find(marker="run-reconciliation").click()
    found: list[str] = []
    for _ in range(50):
        for marker in ("reconciliation-clean", "reconciliation-differences"):
            with contextlib.suppress(AssertionError):  # not shown (yet)
                found += [str(getattr(e, "text", "")) for e in ui_user.find(marker=marker).elements]
        if found:
            break
        await asyncio.sleep(0.1)
    [words] = found
    # Counts agree with their nouns: "1 sale agrees", "3 sales agree", never "sale(s)".
    assert "(s)" not in words and re.search(r"\b(1 sale\b|\d+ sales\b)", words), words


@pytest.mark.parametrize("path", ["/money", "/money/{id}"])
async def test_sellers_and_bidders_get_nothing_of_the_money_pages(
    ui_user: UIUser, gql: GQL, app: FastAPI, path: str
) -> None:
    sale = await paid(gql, app)
    other_seller = await register(gql, seller=True)
    for account in (other_seller, sale.seller, sale.buyer):
        await open_as(ui_user, account, path.format(id=sale.transaction_id), "Not for this account")
        await ui_user.should_not_see(marker="sales-table")
        await ui_user.should_not_see(marker="sale-summary")
        await ui_user.should_not_see(marker="ledger-table")
        ui_user.find(marker="sign-out").click()
        await ui_user.should_see(marker="sign-in")


async def test_anonymous_visitors_are_sent_to_sign_in(ui_user: UIUser) -> None:
    for path in ("/money", f"/money/{uuid.uuid4()}"):
        await ui_user.open(path)
        await ui_user.should_see(marker="sign-in")
        await ui_user.should_not_see(marker="sales-table")


async def test_money_reads_refuse_anyone_but_an_admin(gql: GQL, app: FastAPI) -> None:
    sale = await paid(gql, app)
    deps = app.state.deps
    for account in (sale.seller, sale.buyer):
        viewer = await user_row(app, account)
        with pytest.raises(Forbidden):
            await admin_money.list_sales(deps, viewer)
        with pytest.raises(Forbidden):
            await admin_money.sale_file(deps, viewer, sale.transaction_id)
        with pytest.raises(Forbidden):
            await admin_money.check_balances(deps, viewer)
        with pytest.raises(Forbidden):
            await admin_money.run_reconciliation(deps, viewer)
        with pytest.raises(Forbidden):
            await admin_money.dispute_queue(deps, viewer)
        with pytest.raises(Forbidden):
            await admin_money.dispute_file(deps, viewer, uuid.uuid4())


# -- hostile input and an open page that outlives its sign-in --------------------------


async def test_forged_table_events_are_clamped_not_crashes(
    ui_user: UIUser, gql: GQL, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    admin = await make_admin(gql, app)
    await sold(gql, app)
    await open_as(ui_user, admin, "/money", "sales-table")
    for forged in FORGED_REQUESTS:
        trigger(ui_user, "sales-table", "request", forged)
        await asyncio.sleep(0.15)
    for event, args in (("open", "x"), ("open", {"id": None}), ("rowClick", [1]), ("open", [])):
        trigger(ui_user, "sales-table", event, args)
    await asyncio.sleep(0.3)
    assert crashes(caplog) == []
    assert sales_table(ui_user).pagination["rowsPerPage"] in (10, 20, 50, 100)


async def test_a_nul_byte_in_the_search_is_refused_in_words(
    ui_user: UIUser, gql: GQL, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    admin = await make_admin(gql, app)
    await open_as(ui_user, admin, "/money", "sale-search-go")
    ui_user.find(marker="sale-search").type("ab\x00c")
    ui_user.find(marker="sale-search-go").click()
    await ui_user.should_see("Query must not contain NUL")
    assert crashes(caplog) == []


async def test_an_open_sales_list_reads_nothing_once_the_admin_is_banned(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    await open_as(ui_user, admin, "/money", "sales-table")
    await ban_out_of_band(app, admin.id)
    seller = await register(gql, seller=True)
    await sold(gql, app, seller=seller)
    ui_user.find(marker="sale-search").type(seller.username)
    ui_user.find(marker="sale-search-go").click()
    leaked = await eventually_true(
        lambda: any(r["seller"] == seller.username for r in table_rows(ui_user, "sales-table"))
    )
    assert not leaked, "a banned admin's open /money page listed a sale made after the ban"
