"""Account use cases: register, verify email, log in/out, rotate refresh tokens, profile, roles."""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from adapters.tokens import TokenError, new_refresh_token, refresh_token_hash
from domain.accounts import (
    Address,
    check_address,
    check_display_name,
    check_password,
    check_username,
    normalize_email,
    with_role,
)
from domain.enums import Role
from domain.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from services import second_factor
from services.audit import audit_row
from services.deps import Deps
from services.limits import LoginOutcome
from services.unavailable import Unavailable, unavailable
from storage.tables import RefreshToken, User
from storage.uow import UnitOfWork

log = logging.getLogger("gavel.accounts")


class AuthFailed(DomainError):
    code = "INVALID_CREDENTIALS"


class TokenRejected(DomainError):
    code = "INVALID_TOKEN"


@dataclass(frozen=True, slots=True)
class AuthResult:
    user: User
    access_token: str
    refresh_token: str


# The one lock order of everything that touches an account's credentials or sessions:
# the `users` row first, then its `refresh_tokens` rows (and its other auth rows). A path
# that locked a token row first and then inserted a token (whose foreign key takes a KEY
# SHARE lock on `users`) deadlocked with a change that held `users` and revoked tokens.
# FOR NO KEY UPDATE: these paths change no key of `users`, so they still let other
# tables' foreign-key checks (bids, notifications, ...) through while they hold it.
_NO_KEY_UPDATE = {"key_share": True}


async def lock_account(uow: UnitOfWork, user_id: uuid.UUID) -> User | None:
    """The account's row, re-read and locked `FOR NO KEY UPDATE` (the lock order above:
    take it before any of its refresh-token rows). None when no such account."""
    return await uow.session.get(
        User, user_id, with_for_update=_NO_KEY_UPDATE, populate_existing=True
    )


async def _issue(deps: Deps, uow: UnitOfWork, user: User, family: uuid.UUID) -> AuthResult:
    """A refresh token of `family` and an access token, both bound to `user`'s current
    `token_version`; `user`'s row must be locked by the caller (`lock_account`), so no
    credential change can commit between reading the version and storing the token."""
    # The token's requests authenticate from Redis: refresh the account's state from the
    # row just read (this also picks up changes made by hand in SQL).
    await _store_state(deps, user)
    token = new_refresh_token()
    now = deps.clock()
    uow.session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family,
            token_hash=refresh_token_hash(token),
            token_version=user.token_version,
            created_at=now,
            expires_at=now + deps.refresh_ttl,
        )
    )
    return AuthResult(
        user=user,
        access_token=deps.tokens.issue_access(user.id, now, token_version=user.token_version),
        refresh_token=token,
    )


async def register(
    deps: Deps, *, username: str, email: str, password: str, ip: str | None = None
) -> AuthResult:
    """Create an account and log it in. Raises ValidationFailed (bad input), Conflict
    (EMAIL_TAKEN, USERNAME_TAKEN) or RateLimited (registrations per address, counted
    once the input is valid: SPEC section 8)."""
    name = check_username(username)
    address = normalize_email(email)
    check_password(password)
    await deps.throttle.register(ip)
    async with deps.uow() as uow:
        taken = await uow.session.exec(
            select(User.username, User.email).where(
                (func.lower(User.username) == name.lower()) | (User.email == address)
            )
        )
        for other_name, other_email in taken:
            if other_email == address:
                raise Conflict(
                    "an account with this email exists", code="EMAIL_TAKEN", field="email"
                )
            raise Conflict(
                f"username {other_name!r} is taken", code="USERNAME_TAKEN", field="username"
            )
        user = User(username=name, email=address, password_hash=await deps.hasher.hash(password))
        uow.session.add(user)
        try:
            await uow.session.flush()
        except IntegrityError:
            raise Conflict(
                "username or email was taken a moment ago", code="USERNAME_TAKEN", field="username"
            ) from None
        result = await _issue(deps, uow, user, uuid.uuid4())
        await uow.commit()
    await send_verification(deps, user)
    return result


async def send_verification(deps: Deps, user: User) -> None:
    token = deps.tokens.issue_email_verification(user.id, user.email)
    await deps.mailer.send(
        user.email,
        "Verify your Gavel email",
        f"Hello {user.username},\n\nconfirm your address with the GraphQL mutation\n"
        f'  mutation {{ verifyEmail(token: "{token}") {{ ok }} }}\n'
        f"or open {deps.public_base_url}/verify-email?token={token}\n",
    )


async def verify_email(deps: Deps, token: str) -> None:
    try:
        user_id, email = deps.tokens.read_email_verification(token)
    except TokenError as err:
        raise TokenRejected(str(err), code=err.code, field="token") from None
    async with deps.uow() as uow:
        user = await uow.session.get(User, user_id, with_for_update=True)
        if user is None or user.email != email:
            raise TokenRejected("the token does not match an account", field="token")
        if user.email_verified_at is None:
            user.email_verified_at = deps.clock()
            user.updated_at = deps.clock()
            await commit_account(deps, uow, user)


async def login(
    deps: Deps, *, email: str, password: str, otp: str | None, ip: str | None = None
) -> AuthResult:
    """Log in by email and password (and, when MFA is on, `otp`: a current TOTP code or
    an unused recovery code, each accepted once: services/second_factor.py).

    Raises RateLimited before anything else when the pair (account, address), the
    account across all addresses or the address has no attempt left
    (services/limits.py; a pair's failures back off), then AuthFailed
    (INVALID_CREDENTIALS, MFA_REQUIRED, INVALID_OTP) or Forbidden (ACCOUNT_BANNED).
    A known and an unknown email cost the same: one password verification, off the loop.
    """
    address = email.strip().lower()
    attempt = await deps.throttle.login(address, ip)
    outcome: LoginOutcome = "neutral"
    try:
        result = await _login(deps, address, password, otp)
        outcome = "succeeded"
        return result
    except AuthFailed as err:
        if err.code != "MFA_REQUIRED":  # the password was right: no guess was wasted
            outcome = "failed"
        raise
    finally:
        await deps.throttle.login_settled(attempt, outcome)


async def _login(deps: Deps, address: str, password: str, otp: str | None) -> AuthResult:
    async with deps.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.email == address))).first()
        if user is None:
            await deps.hasher.verify_unknown(password)
            raise AuthFailed("wrong email or password")
        # The slow hash runs before the lock (argon2 must not hold the account's row)...
        verified_hash = user.password_hash
        if not await deps.hasher.verify(verified_hash, password):
            raise AuthFailed("wrong email or password")
        # ...so a password change may have committed meanwhile: decide everything else on
        # the locked row, and refuse if the password verified is no longer the account's.
        # A session issued here then never outlives a change (it is bound to the version
        # read under the lock, and a later change revokes it).
        locked = await lock_account(uow, user.id)
        if locked is None or locked.password_hash != verified_hash:
            raise AuthFailed("wrong email or password")
        if locked.banned_at is not None:
            raise Forbidden("this account is banned", code="ACCOUNT_BANNED")
        factor = await _second_factor(deps, uow, locked, otp) if locked.mfa_enabled else None
        result = await _issue(deps, uow, locked, uuid.uuid4())
        await uow.commit()
    if factor == "recovery":
        await _recovery_code_notice(deps, locked)
    return result


async def _second_factor(
    deps: Deps, uow: UnitOfWork, user: User, otp: str | None
) -> second_factor.Factor:
    """The login's second factor: a TOTP code or an unused recovery code
    (services/second_factor.py), checked on the row the caller locked, so a code works
    once. Raises AuthFailed MFA_REQUIRED (no code) or INVALID_OTP (wrong, replayed or
    used)."""
    if not otp:
        raise AuthFailed("a one-time code is required", code="MFA_REQUIRED", field="otp")
    factor = await second_factor.accept_code(uow, user, otp, deps.clock())
    if factor is None:
        raise AuthFailed("the one-time code is wrong or was used", code="INVALID_OTP", field="otp")
    if factor == "recovery":
        uow.session.add(audit_row(user.id, "use_recovery_code", "user", user.id, reason="login"))
    return factor


async def _recovery_code_notice(deps: Deps, user: User) -> None:
    """Mail the owner that a recovery code signed in (README "Accounts"): one it did not
    use means its codes leaked. Best effort: the login already committed."""
    try:
        await deps.mailer.send(
            user.email,
            "A Gavel recovery code was used",
            f"Hello {user.username},\n\na recovery code was used to sign in to your account."
            "\nEach code works once; regenerate them when few are left.\n\nIf this was not"
            " you, reset your password now, regenerate your recovery codes and contact"
            " support.\n",
        )
    except Exception:
        log.exception("recovery-code notice to %s not sent", user.id)


async def start_session(deps: Deps, uow: UnitOfWork, user: User) -> AuthResult:
    """A new session (a new refresh-token family) for `user`, committed with `uow`: the
    actor's own session after a change that revoked all the others (services/mfa.py)."""
    return await _issue(deps, uow, user, uuid.uuid4())


async def revoke_all_sessions(deps: Deps, uow: UnitOfWork, user: User) -> None:
    """Revoke every refresh token of `user` and raise its token version, so its access
    tokens stop working too (`user_for_access_token`); the caller commits through
    `commit_account`, which republishes the account's state with the new version.
    Used when the password or MFA changes (SPEC section 8). The caller holds `user`'s row
    lock (`lock_account`), so no login or refresh can issue a token of the old version
    after this: the version is read under the same lock."""
    now = deps.clock()
    await uow.session.exec(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user.id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    user.token_version += 1
    user.updated_at = now


async def _token_owner(uow: UnitOfWork, token_hash: str) -> User | None:
    """The locked account (`lock_account`) of the refresh token with `token_hash`; None
    when no token has that hash. The token's row is read unlocked here: it is locked
    only after its account, in the one lock order."""
    owner = (
        await uow.session.exec(
            select(RefreshToken.user_id).where(RefreshToken.token_hash == token_hash)
        )
    ).first()
    return None if owner is None else await lock_account(uow, owner)


async def _locked_token(uow: UnitOfWork, token_hash: str) -> RefreshToken | None:
    return (
        await uow.session.exec(
            select(RefreshToken)
            .where(RefreshToken.token_hash == token_hash)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()


async def refresh(deps: Deps, token: str) -> AuthResult:
    """Rotate a refresh token. Presenting an already rotated one revokes its whole family:
    either the client lost a race with itself or the token was stolen, and we cannot tell.

    The account's row is locked first, then the token's (the lock order above), so a
    refresh and a credential change or ban run one after the other. A token issued for
    an older `token_version` (before a password/MFA change or a ban) is refused, so no
    session issued before a change commits can outlive it.

    Raises TokenRejected (INVALID_TOKEN: unknown, revoked or of an older credential
    version; TOKEN_REUSED; TOKEN_EXPIRED) or Forbidden (ACCOUNT_BANNED)."""
    now = deps.clock()
    hashed = refresh_token_hash(token)
    async with deps.uow() as uow:
        user = await _token_owner(uow, hashed)
        row = await _locked_token(uow, hashed) if user is not None else None
        if row is None or row.revoked_at is not None:
            raise TokenRejected("the refresh token is unknown or revoked", field="refreshToken")
        if row.rotated_at is not None:
            await _revoke_family(uow, row.family_id, now)
            await uow.commit()
            log.warning("refresh token reuse: family %s revoked", row.family_id)
            raise TokenRejected(
                "the refresh token was already used; its session is revoked",
                code="TOKEN_REUSED",
                field="refreshToken",
            )
        if row.expires_at <= now:
            raise TokenRejected(
                "the refresh token has expired", code="TOKEN_EXPIRED", field="refreshToken"
            )
        if user is None or user.banned_at is not None:
            raise Forbidden("this account is banned", code="ACCOUNT_BANNED")
        if row.token_version != user.token_version:
            raise TokenRejected(
                "the refresh token was revoked: the account's credentials changed",
                field="refreshToken",
            )
        row.rotated_at = now
        result = await _issue(deps, uow, user, row.family_id)
        await uow.commit()
        return result


async def _revoke_family(uow: UnitOfWork, family: uuid.UUID, now: object) -> None:
    await uow.session.exec(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def logout(deps: Deps, token: str) -> None:
    """Revoke the token's whole family. The account is locked first (the lock order
    above): a refresh of the same family running at once either commits first (and its
    new token is revoked here) or waits and then finds its token revoked.
    Raises TokenRejected INVALID_TOKEN (unknown)."""
    hashed = refresh_token_hash(token)
    async with deps.uow() as uow:
        user = await _token_owner(uow, hashed)
        row = await _locked_token(uow, hashed) if user is not None else None
        if row is None:
            raise TokenRejected("the refresh token is unknown", field="refreshToken")
        await _revoke_family(uow, row.family_id, deps.clock())
        await uow.commit()


async def user_for_access_token(deps: Deps, token: str) -> User:
    """The account an access token stands for, as authentication needs it.

    The token's signature and expiry are checked here; the account's state (roles, ban,
    fraud hold, email verification, profile) comes from this process's cache (at most
    `UserCache.ttl` old), else from Redis (realtime/account_states.py), else from
    PostgreSQL, which repopulates Redis. So PostgreSQL is needed only when Redis lacks the
    state, and a request still authenticates while PostgreSQL is down.

    A token whose version (`tv` claim) is not the account's `token_version` was issued
    before a password or MFA change (`revoke_all_sessions`) or a ban, and is refused at
    once (ACCOUNT_BANNED while the account is banned, INVALID_TOKEN otherwise).

    Raises `TokenRejected` (INVALID_TOKEN, TOKEN_EXPIRED, a revoked token, an account that
    no longer exists), `Forbidden` (ACCOUNT_BANNED), or `Unavailable` when neither Redis
    nor PostgreSQL can answer.
    """
    user = deps.user_cache.get(token)  # a hit: this token was verified and has not expired
    if user is None:
        try:
            claims = deps.tokens.read_access(token)
        except TokenError as err:
            raise TokenRejected(str(err), code=err.code) from None
        user = await _account_state(deps, claims.user_id)
        if user is not None and claims.token_version != user.token_version:
            # The password or MFA changed, or a ban came, after this token was issued. A
            # banned account is told so (its ban raised the version); after an unban the
            # token stays revoked.
            if user.banned_at is not None:
                raise Forbidden("this account is banned", code="ACCOUNT_BANNED")
            raise TokenRejected("the token was revoked: the account's credentials changed")
        if user is not None:
            deps.user_cache.put(token, user, claims.expires_at.timestamp())
    if user is None:
        raise TokenRejected("the token's account no longer exists")
    if user.banned_at is not None:
        raise Forbidden("this account is banned", code="ACCOUNT_BANNED")
    return user


async def _account_state(deps: Deps, user_id: uuid.UUID) -> User | None:
    redis_down: Unavailable | None = None
    try:
        state = await deps.account_states.get(user_id)
    except Exception as err:
        redis_down = unavailable(err)
        if redis_down is None:
            raise
        log.warning("account state unreadable (%r); reading PostgreSQL", err)
    else:
        if state is not None:
            return state
    try:
        async with deps.uow() as uow:
            user = await uow.session.get(User, user_id)
    except Exception as err:
        down = unavailable(err)
        if down is None:
            raise
        raise down from err
    if user is not None and redis_down is None:
        await _store_state(deps, user)  # kept if a change meanwhile stored a newer one
    return user


async def _store_state(deps: Deps, user: User) -> None:
    """Best effort: a state that could not be written is rebuilt on its next read."""
    try:
        await deps.account_states.put(user)
    except Exception as err:
        if unavailable(err) is None:
            raise
        log.warning("account state of %s not written: %r", user.id, err)


async def commit_account(deps: Deps, uow: UnitOfWork, user: User) -> None:
    """Commit a change to `user`'s row and keep its Redis state in step.

    The old state is deleted before the commit: if Redis is down nothing is committed
    (`Unavailable`), and if the new state cannot be written after the commit, the next
    request rebuilds it from PostgreSQL instead of trusting a stale copy. Every use case
    that changes a column the state holds (realtime/account_states.py) commits through
    this.
    """
    try:
        await deps.account_states.forget(user.id)
    except Exception as err:
        down = unavailable(err)
        if down is None:
            raise
        raise down from err
    await uow.commit()
    await _store_state(deps, user)
    deps.user_cache.forget(user.id)


async def become_seller(deps: Deps, actor: User) -> None:
    async with deps.uow() as uow:
        user = await uow.session.get(User, actor.id, with_for_update=True)
        if user is None:
            raise NotFound("no such user")
        if Role.SELLER.value not in user.roles:
            before = {"roles": list(user.roles)}
            user.roles = with_role(list(user.roles), Role.SELLER)
            user.updated_at = deps.clock()
            uow.session.add(
                audit_row(
                    user.id,
                    "become_seller",
                    "user",
                    user.id,
                    before=before,
                    after={"roles": user.roles},
                )
            )
            await commit_account(deps, uow, user)


async def update_profile(
    deps: Deps, actor: User, *, display_name: str | None, address: Address | None
) -> User:
    name = check_display_name(display_name)
    checked = check_address(address) if address is not None else None
    if display_name is None and address is None:
        raise ValidationFailed("nothing to update: give displayName or address")
    async with deps.uow() as uow:
        user = await uow.session.get(User, actor.id, with_for_update=True)
        if user is None:
            raise NotFound("no such user")
        if display_name is not None:
            user.display_name = name
        if checked is not None:
            user.address = asdict(checked)
        user.updated_at = deps.clock()
        await commit_account(deps, uow, user)
        return user


async def get_user(deps: Deps, user_id: uuid.UUID) -> User | None:
    async with deps.uow() as uow:
        return await uow.session.get(User, user_id)
