"""Account holds and bans, and the admins' moderation use cases (SPEC section 8: fraud
holds; the admin queue bans accounts and reviews fraud flags; docs/admin-api.md).

A ban refuses every request of the account (`ACCOUNT_BANNED`; sockets close with 4403)
and revokes its refresh tokens; a fraud hold refuses its bids (`FRAUD_HOLD`). Both take
effect through the account's state in Redis (realtime/account_states.py), written in the
same step as the row (`accounts.commit_account`): other app processes see them within
their user cache's TTL.

Two layers:
- `set_banned` / `set_fraud_hold`: the system's switches (the fraud scorer, tests); an
  unchanged state is a no-op.
- `ban_user`, `unban_user`, `set_hold`, `dismiss_flag`, `void_bidder_bids`: an admin's
  decisions. Admins
  only (FORBIDDEN), with a reason (INVALID_INPUT, field `reason`: 1-500 characters), never
  on the admin's own account nor another admin's (FORBIDDEN, field `userId`: admins are
  demoted in the database first, so no admin can lock the others out). A decision that
  changes nothing is refused with a stable code (ALREADY_BANNED, NOT_BANNED,
  ALREADY_HELD, NOT_HELD, FLAG_NOT_OPEN) and writes nothing.

Bids follow too (eBay: a suspended member's bids are removed): once a ban or a hold has
committed and the account state is written, its live bids on every ACTIVE auction are
voided and those auctions recomputed (`bid_voiding.void_account_bids`, reason VOIDED,
note "account banned" / "account held", by the admin or None for the fraud scorer); the
bidders concerned are notified as for any void (the system's hold, `set_fraud_hold`, voids
in a task beside its caller: the fraud scorer calls it inside its open transaction; a
crash in between leaves the bids, which later recomputes skip and the fraud scorer's
sweep, `sweep_barred_bids`, voids within about 30 s). An auction that
refuses (its end has passed, or bids kept arriving) is skipped and logged. Any later
recompute does not replay the bids of an account banned or held (services/bid_voiding.py),
so a bid accepted in the moment before every app process saw the new state cannot regain
the lead through one.
Releasing or unbanning restores nothing.

Flags follow the decision on the account: a hold or a ban marks the account's OPEN flags
ACTIONED, a release marks them DISMISSED (the admin reviewed them and found nothing to
act on); an unban leaves them alone. Every change writes exactly one audit row
(services/audit.py) in the same transaction, naming the flags it closed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select, update

from domain.enums import AuctionStatus, FraudFlagStatus, Role
from domain.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from services import bid_voiding
from services.accounts import commit_account
from services.audit import audit_row
from services.bid_voiding import VoidReport
from services.deps import Deps
from storage.tables import Auction, Bid, FraudFlag, RefreshToken, User
from storage.uow import UnitOfWork

log = logging.getLogger("gavel.moderation")

MAX_REASON_CHARS = 500


def require_admin(actor: User) -> None:
    """FORBIDDEN unless `actor` is an admin (the use cases check it as well as the schema:
    the admin app calls them directly)."""
    if Role.ADMIN.value not in actor.roles:
        raise Forbidden("admins only")


def check_reason(reason: str) -> str:
    """The reason an admin gives, trimmed: 1-500 characters, else INVALID_INPUT."""
    text = reason.strip()
    if not text or len(text) > MAX_REASON_CHARS:
        raise ValidationFailed(
            f"give a reason of 1 to {MAX_REASON_CHARS} characters", field="reason"
        )
    return text


async def set_banned(
    deps: Deps,
    user_id: uuid.UUID,
    banned: bool,
    *,
    actor_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> User:
    """Ban (or unban) an account; a ban revokes its refresh tokens. Raises NotFound for an
    unknown id; an unchanged state is a no-op."""
    async with deps.uow() as uow:
        user = await _locked_user(uow, user_id)
        changed = (user.banned_at is not None) != banned
        if changed:
            await _ban(deps, uow, user, banned, actor_id=actor_id, reason=reason)
    if changed and banned:
        await _void_live_bids(deps, user_id, actor_id, BANNED_NOTE)
    return user


async def set_fraud_hold(
    deps: Deps,
    user_id: uuid.UUID,
    held: bool,
    *,
    actor_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> User:
    """Put an account on fraud hold (or release it). Raises NotFound for an unknown id;
    an unchanged state is a no-op. Its flags stay as they are (an admin reviews them)."""
    async with deps.uow() as uow:
        user = await _locked_user(uow, user_id)
        changed = user.fraud_hold != held
        if changed:
            await _hold(deps, uow, user, held, actor_id=actor_id, reason=reason, flags=None)
    if changed and held:
        # The fraud scorer calls this inside its pass's open transaction: voiding (one
        # recompute per auction, each recorded by the persister) must not hold that
        # transaction open, so it runs beside it.
        _in_background(_void_live_bids(deps, user_id, actor_id, HELD_NOTE))
    return user


async def ban_user(deps: Deps, actor: User, user_id: uuid.UUID, *, reason: str) -> User:
    """An admin bans an account: refused at once everywhere, refresh tokens revoked, its
    OPEN flags ACTIONED, then its live bids voided on every ACTIVE auction. Errors:
    FORBIDDEN, INVALID_INPUT, NOT_FOUND, ALREADY_BANNED."""
    user = await _decide(
        deps,
        actor,
        user_id,
        reason,
        unchanged=lambda u: u.banned_at is not None,
        code="ALREADY_BANNED",
        apply=lambda uow, user, why: _ban(deps, uow, user, True, actor_id=actor.id, reason=why),
    )
    await _void_live_bids(deps, user.id, actor.id, BANNED_NOTE)
    return user


async def unban_user(deps: Deps, actor: User, user_id: uuid.UUID, *, reason: str) -> User:
    """An admin lifts a ban. Errors: FORBIDDEN, INVALID_INPUT, NOT_FOUND, NOT_BANNED."""
    return await _decide(
        deps,
        actor,
        user_id,
        reason,
        unchanged=lambda u: u.banned_at is None,
        code="NOT_BANNED",
        apply=lambda uow, user, why: _ban(deps, uow, user, False, actor_id=actor.id, reason=why),
    )


async def set_hold(deps: Deps, actor: User, user_id: uuid.UUID, held: bool, *, reason: str) -> User:
    """An admin holds an account (its bids refused FRAUD_HOLD; OPEN flags ACTIONED; its
    live bids voided on every ACTIVE auction) or releases it (OPEN flags DISMISSED;
    nothing restored). Errors: FORBIDDEN, INVALID_INPUT, NOT_FOUND, ALREADY_HELD,
    NOT_HELD."""
    closes = FraudFlagStatus.ACTIONED if held else FraudFlagStatus.DISMISSED
    user = await _decide(
        deps,
        actor,
        user_id,
        reason,
        unchanged=lambda u: u.fraud_hold == held,
        code="ALREADY_HELD" if held else "NOT_HELD",
        apply=lambda uow, user, why: _hold(
            deps, uow, user, held, actor_id=actor.id, reason=why, flags=closes
        ),
    )
    if held:
        await _void_live_bids(deps, user.id, actor.id, HELD_NOTE)
    return user


async def dismiss_flag(deps: Deps, actor: User, flag_id: uuid.UUID, *, reason: str) -> FraudFlag:
    """An admin dismisses a fraud flag: OPEN -> DISMISSED with resolved_by/at; the
    account's hold is not touched (release it with `set_hold`). Errors: FORBIDDEN (not
    an admin, or a flag on the admin's own account or another admin's, field flagId),
    INVALID_INPUT, NOT_FOUND (field flagId), FLAG_NOT_OPEN."""
    require_admin(actor)
    why = check_reason(reason)
    async with deps.uow() as uow:
        flag = await uow.session.get(FraudFlag, flag_id, with_for_update=True)
        if flag is None:
            raise NotFound("no such fraud flag", field="flagId")
        await _not_an_admins_case(uow, actor, flag.user_id, field="flagId")
        if flag.status != FraudFlagStatus.OPEN.value:
            raise InvalidState(
                f"the flag is {flag.status}, not OPEN", code="FLAG_NOT_OPEN", field="flagId"
            )
        now = deps.clock()
        before = {"status": flag.status, "resolved_by_id": None, "resolved_at": None}
        flag.status = FraudFlagStatus.DISMISSED.value
        flag.resolved_by_id = actor.id
        flag.resolved_at = now
        after = {"status": flag.status, "resolved_by_id": actor.id, "resolved_at": now}
        uow.session.add(
            audit_row(
                actor.id,
                "dismiss_fraud_flag",
                "fraud_flag",
                flag.id,
                before=before,
                after=after,
                reason=why,
                at=now,
                user_id=flag.user_id,
                rule=flag.rule,
            )
        )
        await uow.commit()
        return flag


async def void_bidder_bids(
    deps: Deps,
    actor: User,
    bidder_id: uuid.UUID,
    auction_id: uuid.UUID | None = None,
    *,
    reason: str,
) -> VoidReport:
    """An admin voids a bidder's bids on `auction_id` (None: every ACTIVE auction they
    have live bids on) and each auction is recomputed by the same rules
    (services/bid_voiding.py, which writes the `void_bids` audit row per auction).
    Errors: FORBIDDEN (not an admin, or the admin's own bids or another admin's: nobody
    judges their own case), INVALID_INPUT (reason), NOT_FOUND (no such user or auction),
    and bid_voiding's NO_BIDS, AUCTION_ENDED, AUCTION_NOT_ACTIVE, AUCTION_BUSY (on every
    auction: the auctions that refuse are skipped, see `bid_voiding.void_bids`)."""
    require_admin(actor)
    why = check_reason(reason)
    async with deps.uow() as uow:
        await _not_an_admins_case(uow, actor, bidder_id, field="userId")
    return await bid_voiding.void_bids(deps, actor, bidder_id, auction_id, reason=why)


_VOIDS_RUNNING: set[asyncio.Task[None]] = set()


def _in_background(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` beside the caller (kept referenced until done; a failure is logged)."""
    task = asyncio.create_task(work)
    _VOIDS_RUNNING.add(task)

    def done(t: asyncio.Task[None]) -> None:
        _VOIDS_RUNNING.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("voiding a held account's bids failed", exc_info=t.exception())

    task.add_done_callback(done)


BANNED_NOTE = "account banned"
HELD_NOTE = "account held"


async def _void_live_bids(
    deps: Deps, user_id: uuid.UUID, actor_id: uuid.UUID | None, note: str
) -> None:
    """After a ban or hold committed: its live bids go (see the module's docstring)."""
    report = await bid_voiding.void_account_bids(deps, user_id, actor_id=actor_id, note=note)
    for skipped in report.skipped:
        log.info(
            "bids of %s on %s left as they are after %r: %s",
            user_id,
            skipped.auction_id,
            note,
            skipped.code,
        )


# Barred accounts' live bids the sweep handles per call (it runs again soon after).
SWEEP_BATCH = 50


async def sweep_barred_bids(deps: Deps) -> int:
    """Void the live bids on ACTIVE auctions of accounts banned or on fraud hold (the
    system's void, actor None), for bids the void at hold/ban time missed: a crash
    between the hold's commit and its void task, or a bid accepted in the moment before
    every app process saw the new account state. Returns how many accounts were swept.
    The fraud scorer runs it every `FraudScorer.sweep_interval` seconds."""
    async with deps.uow() as uow:
        rows = await uow.session.exec(
            select(Bid.bidder_id, col(User.banned_at).is_not(None))
            .join(Auction, col(Auction.id) == Bid.auction_id)
            .join(User, col(User.id) == Bid.bidder_id)
            .where(
                col(Bid.voided_at).is_(None),
                col(Auction.status) == AuctionStatus.ACTIVE.value,
                # Past its end the recompute refuses (the closer decides it): not picked
                # again and again ahead of the ones that can be swept.
                col(Auction.ends_at) > deps.clock(),
                or_(col(User.fraud_hold), col(User.banned_at).is_not(None)),
            )
            .distinct()
            .limit(SWEEP_BATCH)
        )
        barred = sorted(rows.all())
    for user_id, banned in barred:
        await _void_live_bids(deps, user_id, None, BANNED_NOTE if banned else HELD_NOTE)
    return len(barred)


async def _not_an_admins_case(
    uow: UnitOfWork, actor: User, user_id: uuid.UUID, *, field: str
) -> None:
    """FORBIDDEN when `user_id` is the actor or another admin (demote them first);
    NOT_FOUND when there is no such user."""
    if user_id == actor.id:
        raise Forbidden("admins cannot decide on their own account", field=field)
    user = await uow.session.get(User, user_id)
    if user is None:
        raise NotFound("no such user", field=field)
    if Role.ADMIN.value in user.roles:
        raise Forbidden("another admin's account: remove the ADMIN role first", field=field)


# -- the steps ----------------------------------------------------------------------------


Apply = Callable[[UnitOfWork, User, str], Any]


async def _decide(
    deps: Deps,
    actor: User,
    user_id: uuid.UUID,
    reason: str,
    *,
    unchanged: Callable[[User], bool],
    code: str,
    apply: Apply,
) -> User:
    require_admin(actor)
    why = check_reason(reason)
    if user_id == actor.id:
        raise Forbidden("admins cannot act on their own account", field="userId")
    async with deps.uow() as uow:
        user = await _locked_user(uow, user_id)
        if Role.ADMIN.value in user.roles:
            raise Forbidden("another admin's account: remove the ADMIN role first", field="userId")
        if unchanged(user):
            raise InvalidState(f"nothing to change ({code})", code=code, field="userId")
        await apply(uow, user, why)
        return user


async def _locked_user(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    user = await uow.session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("no such user", field="userId")
    return user


async def _ban(
    deps: Deps,
    uow: UnitOfWork,
    user: User,
    banned: bool,
    *,
    actor_id: uuid.UUID | None,
    reason: str | None,
) -> None:
    now = deps.clock()
    before = {"banned_at": user.banned_at}
    user.banned_at = now if banned else None
    user.updated_at = now
    facts: dict[str, Any] = {}
    if banned:
        # `user` is locked (`_locked_user`) before its refresh tokens: the one lock order
        # of services/accounts.py. A new token version ends its access tokens for good:
        # an unban must not bring a token issued before the ban back.
        user.token_version += 1
        facts["revoked_refresh_tokens"] = await _revoke_refresh_tokens(uow, user.id, now)
        if actor_id is not None:
            facts["flags_actioned"] = await _close_open_flags(
                uow, user.id, FraudFlagStatus.ACTIONED, actor_id, now
            )
    uow.session.add(
        audit_row(
            actor_id,
            "ban_user" if banned else "unban_user",
            "user",
            user.id,
            before=before,
            after={"banned_at": user.banned_at},
            reason=reason,
            at=now,
            **facts,
        )
    )
    await commit_account(deps, uow, user)


async def _hold(
    deps: Deps,
    uow: UnitOfWork,
    user: User,
    held: bool,
    *,
    actor_id: uuid.UUID | None,
    reason: str | None,
    flags: FraudFlagStatus | None,
) -> None:
    now = deps.clock()
    before = {"fraud_hold": user.fraud_hold}
    user.fraud_hold = held
    user.updated_at = now
    facts: dict[str, Any] = {}
    if flags is not None and actor_id is not None:
        facts[f"flags_{flags.value.lower()}"] = await _close_open_flags(
            uow, user.id, flags, actor_id, now
        )
    uow.session.add(
        audit_row(
            actor_id,
            "hold_account" if held else "release_account",
            "user",
            user.id,
            before=before,
            after={"fraud_hold": held},
            reason=reason,
            at=now,
            **facts,
        )
    )
    await commit_account(deps, uow, user)


async def _revoke_refresh_tokens(uow: UnitOfWork, user_id: uuid.UUID, now: datetime) -> int:
    """Every live refresh token of the account, revoked: a ban must not be outlived by a
    session that refreshes after the ban is lifted."""
    result = await uow.session.exec(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


async def _close_open_flags(
    uow: UnitOfWork,
    user_id: uuid.UUID,
    status: FraudFlagStatus,
    actor_id: uuid.UUID,
    now: datetime,
) -> list[uuid.UUID]:
    flags = (
        await uow.session.exec(
            select(FraudFlag)
            .where(
                col(FraudFlag.user_id) == user_id,
                col(FraudFlag.status) == FraudFlagStatus.OPEN.value,
            )
            .order_by(col(FraudFlag.created_at))
            .with_for_update()
        )
    ).all()
    for flag in flags:
        flag.status = status.value
        flag.resolved_by_id = actor_id
        flag.resolved_at = now
    return [flag.id for flag in flags]
