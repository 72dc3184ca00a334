"""The fraud queue (admins): each flag with its account, its score and the signals that
fired, in words; and the decisions on it, each with a reason for the audit log.

Flags come from services/admin_queries.list_fraud_flags (open ones by default, newest
first, paged by the server's cursors). The decisions are the moderation use cases:
dismiss the flag, hold (or release) the account, ban it, or void its bids on the flag's
auction or on every active auction (services/moderation.py). After a void, the
auctions recomputed are listed with their price before and after.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import quote

from nicegui import ui

from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.formatting import money, plural, when
from admin_ui.messages import empty_state, error_state, explain
from admin_ui.pages.overview import current_admin
from admin_ui.shell import PageEnv, admin_page
from domain.enums import FraudFlagStatus
from domain.errors import DomainError
from services import admin_queries, moderation
from services.batch_loads import one_per_key
from services.bid_voiding import AuctionState, RecomputedAuction, VoidReport
from services.deps import Deps
from services.fraud.flag_signals import finite_number, stored_signals
from services.unavailable import Unavailable
from storage.tables import Auction, FraudFlag, Item, User

PAGE_SIZE = 10
STATUS_WORDS = {
    FraudFlagStatus.OPEN.value: "Open",
    FraudFlagStatus.DISMISSED.value: "Dismissed",
    FraudFlagStatus.ACTIONED.value: "Actioned",
}
SKIP_WORDS = {
    "AUCTION_ENDED": "its end has passed: the closer decides it",
    "AUCTION_NOT_ACTIVE": "it is not active",
    "AUCTION_BUSY": "bids kept arriving: try again in a moment",
    "NO_BIDS": "the bidder has no live bids there",
    "NOT_FOUND": "it no longer exists",
}


@dataclass(frozen=True)
class FlagCard:
    """A flag with what its card shows beside it."""

    flag: FraudFlag
    user: User | None
    open_flags: int
    auction_title: str | None
    currency: str | None = None  # the flag's auction's: its signals' amounts are in it


@dataclass(frozen=True)
class Signal:
    """One signal of a flag's details, as the card words it."""

    name: str
    value: float | None
    weight: float | None
    explanation: str | None
    evidence: dict[str, Any]
    auction_id: uuid.UUID | None = None


def signals_of(details: dict[str, Any]) -> list[Signal]:
    """The signals a fraud rule stored in a flag's details
    (services/fraud/flag_signals.py), as the card words them."""
    return [
        Signal(
            name=signal.name,
            value=signal.value,
            weight=signal.weight,
            explanation=signal.explanation,
            evidence=signal.evidence or {},
            auction_id=signal.auction_id,
        )
        for signal in stored_signals(details)
    ]


def words(name: str) -> str:
    """ "bidder_tendency" is "Bidder tendency"."""
    text = name.replace("_", " ").replace(".", " ").strip()
    return text[:1].upper() + text[1:]


def _figure(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


async def load_cards(deps: Deps, flags: list[FraudFlag]) -> list[FlagCard]:
    """Each flag with its account, the account's open flag count, its auction's title and
    the currency its signals' amounts are in (one query each, whatever the page's size)."""
    user_ids = list(dict.fromkeys(f.user_id for f in flags))
    users = dict(zip(user_ids, await one_per_key(deps, User, "id", user_ids), strict=True))
    counts = dict(zip(user_ids, await admin_queries.open_flag_counts(deps, user_ids), strict=True))
    facts = await auction_facts(deps, [a for f in flags for a in _auctions_of(f)])
    cards = []
    for flag in flags:
        title = facts[flag.auction_id][0] if flag.auction_id in facts else None
        # A signal's amounts are in its own auction's currency (domain/fraud/rules.py).
        currency = next((facts[a][1] for a in _auctions_of(flag) if a in facts), None)
        cards.append(
            FlagCard(flag, users.get(flag.user_id), counts.get(flag.user_id, 0), title, currency)
        )
    return cards


def _auctions_of(flag: FraudFlag) -> list[uuid.UUID]:
    """The flag's auction, then those its signals name (first the flag's own signal's)."""
    details = flag.details if isinstance(flag.details, dict) else {}
    named = [s.auction_id for s in signals_of(details) if s.auction_id is not None]
    return list(dict.fromkeys([flag.auction_id, *named] if flag.auction_id else named))


async def auction_facts(deps: Deps, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
    """(item title, currency) of each auction."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    auctions = [a for a in await one_per_key(deps, Auction, "id", ids) if a is not None]
    item_ids = [a.item_id for a in auctions]
    items = {i.id: i.title for i in await one_per_key(deps, Item, "id", item_ids) if i}
    return {a.id: (items.get(a.item_id, "an auction"), a.currency) for a in auctions}


async def auction_titles(deps: Deps, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The item title of each auction."""
    return {a: title for a, (title, _) in (await auction_facts(deps, ids)).items()}


@admin_page(
    "/fraud", title="Fraud queue", audience="admin", nav="Fraud queue", icon="report", order=40
)
async def fraud_page(env: PageEnv) -> None:
    deps = admin_context().deps
    state: dict[str, Any] = {"status": FraudFlagStatus.OPEN.value, "cursors": [None], "total": 0}

    with ui.row().classes("w-full items-center gap-2 flex-wrap"):
        ui.label("Flags raised by the fraud rules, each with the signals that fired.").classes(
            "opacity-70 grow"
        )
        status = (
            ui.select({**STATUS_WORDS, "": "All flags"}, value=state["status"], label="Show")
            .props("outlined dense")
            .classes("min-w-[10rem]")
            .mark("flag-status")
        )
    fresh = ui.row().classes("w-full")  # "new flags arrived" notice
    report_area = ui.column().classes("w-full gap-2").mark("void-report-area")

    async def fetch(viewer: User) -> tuple[int, list[FlagCard], bool]:
        wanted = FraudFlagStatus(state["status"]) if state["status"] else None
        page = await admin_queries.list_fraud_flags(
            deps, viewer, wanted, None, PAGE_SIZE, state["cursors"][-1]
        )
        state["next"] = page.cursors[-1] if page.has_next and page.cursors else None
        return page.total, await load_cards(deps, page.rows), page.has_next

    @ui.refreshable
    async def queue() -> None:
        found = await act(fetch, audience="admin")
        if found is None:
            error_state("The queue could not be read", "Reload the page in a moment.")
            return
        total, cards, has_next = found
        state["total"] = total
        fresh.clear()
        if not cards:
            empty_state(
                "No flags here" if state["status"] != "OPEN" else "Nothing to review",
                "The fraud rules raise a flag when an account's bidding looks like shill"
                " bidding or another pattern (docs/fraud.md). New flags appear here.",
                icon="verified_user",
            )
            return
        for card in cards:
            flag_card(env, card, decide)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        number = len(state["cursors"])
        with ui.row().classes("w-full items-center justify-center gap-2"):
            ui.button(icon="chevron_left", on_click=previous).props(
                "flat round" + ("" if number > 1 else " disable")
            ).mark("flags-prev")
            ui.label(f"Page {number} of {pages} · {plural(total, 'flag')}").mark("flags-page")
            ui.button(icon="chevron_right", on_click=following).props(
                "flat round" + ("" if has_next else " disable")
            ).mark("flags-next")

    async def previous() -> None:
        if len(state["cursors"]) > 1:
            state["cursors"].pop()
            await queue.refresh()

    async def following() -> None:
        if state.get("next"):
            state["cursors"].append(state["next"])
            await queue.refresh()

    async def restart() -> None:
        state["status"] = status.value or ""
        state["cursors"] = [None]
        await queue.refresh()

    async def decide(done: str | None, report: VoidReport | None) -> None:
        if report is not None:
            report_area.clear()
            with report_area:
                await void_report(deps, report)
        await queue.refresh()

    async def watch() -> None:
        """A notice (not a redraw under the reader's eyes) when the queue changed."""
        if state["status"] != FraudFlagStatus.OPEN.value or len(state["cursors"]) > 1:
            return
        wanted = FraudFlagStatus.OPEN
        try:
            # Re-authenticated at every tick: the page may stay open past a ban or a
            # lost role; then the queue stops being read.
            viewer = await current_admin()
            if viewer is None:
                timer.cancel()
                return
            page = await admin_queries.list_fraud_flags(deps, viewer, wanted, None, 0, None)
        except (DomainError, Unavailable):  # a store outage: try next tick
            return
        if page.total != state["total"] and not list(fresh):
            with fresh:
                ui.button(
                    f"The queue changed ({page.total} open): show it",
                    icon="refresh",
                    on_click=queue.refresh,
                ).props("outline no-caps").mark("flags-changed")

    status.on_value_change(restart)
    await queue()
    timer = ui.timer(max(5.0, admin_context().refresh_seconds * 10), watch)


Decided = Callable[[str | None, VoidReport | None], Awaitable[None]]


def flag_card(env: PageEnv, card: FlagCard, decided: Decided) -> None:
    flag, user = card.flag, card.user
    details = flag.details if isinstance(flag.details, dict) else {}
    is_open = flag.status == FraudFlagStatus.OPEN.value
    with ui.card().classes("w-full gap-2").mark(f"flag-card flag-{flag.id}"):
        with ui.row().classes("w-full items-center gap-2 flex-wrap"):
            ui.icon("report").classes("text-2xl " + ("text-negative" if is_open else "opacity-50"))
            ui.label(words(flag.rule)).classes("text-lg font-semibold")
            color = "negative" if flag.score >= 80 else "warning" if flag.score >= 50 else "grey"
            ui.badge(f"score {flag.score}", color=color).mark("flag-score")
            ui.badge(STATUS_WORDS.get(flag.status, flag.status), color="grey").props("outline")
            ui.space()
            ui.label(when(flag.created_at, env.zone)).classes("text-sm opacity-70")
        with ui.row().classes("items-center gap-2 flex-wrap"):
            ui.icon("person").classes("opacity-70")
            if user is None:
                ui.label("an account that no longer exists")
            else:
                ui.link(user.username, f"/users?q={quote(user.username)}").classes(
                    "font-medium"
                ).mark("flag-user")
                ui.label(user.email).classes("text-sm opacity-70 break-all")
                if user.banned_at is not None:
                    ui.badge("Banned", color="negative")
                if user.fraud_hold:
                    ui.badge("On hold", color="warning")
                ui.label(plural(card.open_flags, "open flag")).classes("text-sm opacity-80").mark(
                    "flag-open-count"
                )
        if flag.auction_id is not None:
            with ui.row().classes("items-center gap-2"):
                ui.icon("gavel").classes("opacity-70")
                ui.link(card.auction_title or "the auction", f"/auctions/{flag.auction_id}")
        total = details.get("total")
        if isinstance(total, int):
            ui.label(
                f"Combined score {total}"
                + (
                    f" (flagged from {details['flag_threshold']}, held from"
                    f" {details['hold_threshold']})"
                    if "flag_threshold" in details and "hold_threshold" in details
                    else ""
                )
            ).classes("text-sm opacity-80")
        signals = signals_of(details)
        if signals:
            with ui.column().classes("w-full gap-1").mark("flag-signals"):
                ui.label("Signals that fired").classes("text-xs uppercase opacity-60")
                for signal in signals:
                    signal_row(signal, card.currency)
        else:
            ui.label("The rule recorded no signals.").classes("text-sm opacity-70")
        if not is_open and flag.resolved_at is not None:
            ui.label(f"Decided {when(flag.resolved_at, env.zone)}").classes("text-sm opacity-70")
        if user is not None:
            actions(card, decided)


def signal_row(signal: Signal, currency: str | None = None) -> None:
    with ui.row().classes("w-full items-start gap-2 no-wrap"):
        ui.icon("sensors").classes("opacity-60 mt-1")
        with ui.column().classes("gap-0 min-w-0"):
            head = words(signal.name)
            if signal.value is not None:
                head += f": {_figure(signal.value)}"
            if signal.weight is not None:
                head += f" (adds {_figure(signal.weight)} to the score)"
            ui.label(head).classes("font-medium").mark("flag-signal")
            sentence = signal_sentence(signal, currency)
            if sentence:
                ui.label(sentence).classes("text-sm opacity-80").mark("flag-signal-why")
            facts = evidence_lines(signal, currency)
            if facts:
                with ui.element("ul").classes("text-xs opacity-70 list-disc pl-5 m-0"):
                    for fact in facts:
                        with ui.element("li"):
                            ui.label(fact).classes("break-words").mark("flag-evidence")


# Evidence keys holding amounts in minor units of the signal's auction's currency.
MONEY_KEYS = frozenset({"amount", "threshold", "max_amount", "price", "high_value_bid"})
# Evidence that only links records (shown elsewhere on the card, or meaningless to people).
HIDDEN_KEYS = frozenset({"seller_id", "auction_id", "bidder_id", "user_id", "weights"})


def signal_sentence(signal: Signal, currency: str | None) -> str | None:
    """The rule's explanation as a sentence, amounts with their currency: the stored one
    of `new_account_high_value` counts minor units ("bid 185000 minor units (threshold
    100000)"), so it is written again from its evidence."""
    ev = signal.evidence
    amount, threshold = ev.get("amount"), ev.get("threshold")
    if signal.name == "new_account_high_value" and _whole(amount) and _whole(threshold):
        age = ev.get("account_age_seconds")
        young = f"An account {age_words(age)} old" if _whole(age) else "A new account"
        return (
            f"{young} bid {_money(amount, currency)}; new accounts are flagged from"
            f" {_money(threshold, currency)}."
        )
    if not signal.explanation:
        return None
    text = signal.explanation.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def evidence_lines(signal: Signal, currency: str | None) -> list[str]:
    """The evidence as short lines for people: a shill signal's features with their weights
    ("Bidder tendency 0.90 (weight 3)"), amounts with their currency, durations in words,
    lists joined; record ids left out."""
    ev = signal.evidence
    lines: list[str] = []
    features = ev.get("features")
    raw_weights = ev.get("weights")
    weights: dict[str, Any] = raw_weights if isinstance(raw_weights, dict) else {}
    for key, value in list(ev.items())[:12]:
        if key in HIDDEN_KEYS or key.endswith("_id"):
            continue
        if key == "features" and isinstance(features, dict):
            ranked = sorted(
                features.items(),
                key=lambda kv: (
                    -(finite_number(kv[1]) or 0) * (finite_number(weights.get(kv[0])) or 1)
                ),
            )
            for name, figure in ranked:
                weight = finite_number(weights.get(name))
                number = finite_number(figure)
                # Features are shares 0..1: two decimals each, so the list lines up.
                shown = f"{number:.2f}" if number is not None else str(figure)
                lines.append(
                    f"{words(str(name))} {shown}"
                    + (f" (weight {_figure(weight)})" if weight is not None else "")
                )
            continue
        # "account_age_seconds" reads "Account age: 5 hours": the unit is in the value.
        label = words(str(key).removesuffix("_seconds"))
        lines.append(f"{label}: {_value_words(str(key), value, currency)}")
    return lines


def _value_words(key: str, value: Any, currency: str | None) -> str:
    if key in MONEY_KEYS and _whole(value):
        return _money(value, currency)
    if key.endswith("_seconds") and _whole(value):
        return age_words(value)
    if key == "ratio" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.0%}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        number = finite_number(value)
        return _figure(number) if number is not None else str(value)
    if isinstance(value, list):
        if key == "auctions":
            return plural(len(value), "auction")
        return ", ".join(_value_words("", v, currency) for v in value[:10]) or "none"
    if isinstance(value, dict):
        return ", ".join(
            f"{words(str(k)).lower()} {_value_words(str(k), v, currency)}"
            for k, v in list(value.items())[:10]
        )
    text = str(value)
    return {"ip": "IP address", "device": "device"}.get(text, text)


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _money(minor: int, currency: str | None) -> str:
    return money(minor, currency) if currency else f"{minor:,} (minor units, currency unknown)"


def age_words(seconds: int) -> str:
    """ "5 hours", "3 days", "40 minutes": how long, in the largest whole unit up to days."""
    if seconds >= 2 * 86_400:
        return plural(seconds // 86_400, "day")
    if seconds >= 3_600:
        return plural(seconds // 3_600, "hour")
    return plural(max(0, seconds) // 60, "minute")


def actions(card: FlagCard, decided: Decided) -> None:
    flag, user = card.flag, card.user
    assert user is not None
    deps = admin_context().deps
    is_open = flag.status == FraudFlagStatus.OPEN.value
    with ui.row().classes("w-full gap-2 flex-wrap"):
        if is_open:
            ui.button(
                "Dismiss",
                icon="done",
                on_click=lambda: ask(
                    "Dismiss this flag",
                    "The flag is closed as reviewed; the account is left as it is.",
                    "Dismiss",
                    lambda viewer, why, _: moderation.dismiss_flag(
                        deps, viewer, flag.id, reason=why
                    ),
                    "Flag dismissed.",
                    decided,
                ),
            ).props("outline no-caps").mark("flag-dismiss")
        held = user.fraud_hold
        ui.button(
            "Release hold" if held else "Hold account",
            icon="lock_open" if held else "pause_circle",
            on_click=lambda: ask(
                f"Release the hold on {user.username}?" if held else f"Hold {user.username}?",
                "Its bids are accepted again; its open flags are dismissed."
                if held
                else "Its bids are refused until released; its open flags are actioned and"
                " its live bids on active auctions are voided.",
                "Release" if held else "Hold",
                lambda viewer, why, _: moderation.set_hold(
                    deps, viewer, user.id, not held, reason=why
                ),
                "Hold released." if held else "Account on hold.",
                decided,
            ),
        ).props("outline no-caps color=warning").mark("flag-hold")
        if user.banned_at is None:
            ui.button(
                "Ban",
                icon="block",
                on_click=lambda: ask(
                    f"Ban {user.username}?",
                    f"{user.username} is signed out everywhere and every request of the"
                    " account is refused; its open flags are actioned and its live bids on"
                    " active auctions are voided and those auctions recomputed.",
                    f"Ban {user.username}",
                    lambda viewer, why, _: moderation.ban_user(deps, viewer, user.id, reason=why),
                    "Account banned.",
                    decided,
                ),
            ).props("outline no-caps color=negative").mark("flag-ban")
        scopes = {"all": "On every active auction"}
        if flag.auction_id is not None:
            scopes = {"one": f"On {card.auction_title or 'this auction'} only", **scopes}

        def void(viewer: User, why: str, scope: str | None) -> Awaitable[VoidReport]:
            auction = flag.auction_id if scope == "one" else None
            return moderation.void_bidder_bids(deps, viewer, user.id, auction, reason=why)

        ui.button(
            "Void bids",
            icon="remove_circle_outline",
            on_click=lambda: ask(
                f"Void {user.username}'s bids?",
                f"{user.username}'s live bids are voided where you choose below, and each"
                " auction is recomputed from the bids that remain, by the same rules: its"
                " price and leader may change. Voided bids stay void.",
                "Void bids",
                void,
                None,
                decided,
                scopes=scopes,
            ),
        ).props("outline no-caps color=negative").mark("flag-void")


async def ask(
    title: str,
    detail: str,
    confirm: str,
    work: Callable[[User, str, str | None], Awaitable[Any]],
    done: str | None,
    decided: Decided,
    *,
    scopes: dict[str, str] | None = None,
) -> None:
    """A dialog asking for the reason (and, for a void, where), running `work` through
    `act` on confirm. A refused reason is shown under its field and the dialog stays."""
    with ui.dialog() as dialog, ui.card().classes("w-full max-w-lg gap-3"):
        ui.label(title).classes("text-lg font-semibold")
        ui.label(detail).classes("text-sm opacity-80")
        scope = None
        if scopes:
            scope = ui.radio(scopes, value=next(iter(scopes))).mark("void-scope")
        reason = (
            ui.textarea("Reason (kept in the audit log)")
            .props("outlined autogrow counter maxlength=500")
            .classes("w-full")
            .mark("reason")
        )
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat").mark("cancel")
            # no-caps: "Ban alice" names the account as it is spelled.
            go = ui.button(confirm).props("unelevated no-caps").mark("confirm")

    async def run() -> None:
        reason.error = None
        chosen = str(scope.value) if scope is not None else None

        async def attempt(viewer: User) -> Any:
            try:
                return await work(viewer, str(reason.value or ""), chosen)
            except DomainError as err:
                if err.field == "reason":
                    reason.error = explain(err)
                    return None
                raise

        go.props("loading")
        try:
            result = await act(attempt, audience="admin")
        finally:
            go.props(remove="loading")
        if reason.error:
            return
        dialog.close()
        if result is None:
            await decided(None, None)  # refused: the reason was shown; the card may be stale
            return
        if done:
            ui.notify(done, type="positive")
        await decided(done, result if isinstance(result, VoidReport) else None)

    def forget() -> None:
        if not dialog.is_deleted:
            dialog.delete()

    go.on_click(run)
    dialog.on("hide", forget)
    dialog.open()


async def void_report(deps: Deps, report: VoidReport) -> None:
    """What a void did, auction by auction: the price before and after."""
    ids = [a.auction_id for a in report.auctions] + [s.auction_id for s in report.skipped]
    titles = await auction_titles(deps, ids)
    with ui.card().classes("w-full gap-2").mark("void-report"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("task_alt").classes("text-positive text-2xl")
            count = sum(len(a.voided) for a in report.auctions)
            ui.label(
                f"{plural(count, 'bid')} voided on {plural(len(report.auctions), 'auction')}"
            ).classes("font-semibold")
        for auction in report.auctions:
            with ui.row().classes("w-full items-center gap-2 flex-wrap").mark("void-auction"):
                ui.link(
                    titles.get(auction.auction_id, "An auction"), f"/auctions/{auction.auction_id}"
                )
                ui.label(recomputed_words(auction)).mark("void-prices")
        for skipped in report.skipped:
            reason = SKIP_WORDS.get(skipped.code, skipped.code)
            ui.label(
                f"{titles.get(skipped.auction_id, 'An auction')} was left as it was: {reason}."
            ).classes("text-sm opacity-80")


def recomputed_words(auction: RecomputedAuction) -> str:
    """ "Price $150.00 → $110.00 · 3 bids → 2 bids · new leader"."""
    before, after = auction.before, auction.after

    def price(state: AuctionState) -> str:
        if state.price is None:
            return "no price (sealed or no bids)" if state.bid_count else "no bids"
        return money(state.price, auction.currency)

    counts = f"{plural(before.bid_count, 'bid')} → {plural(after.bid_count, 'bid')}"
    text = f"Price {price(before)} → {price(after)} · {counts}"
    if before.leader_id != after.leader_id:
        text += " · new leader" if after.leader_id else " · no leader now"
    return text
