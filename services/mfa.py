"""Multi-factor login use cases (SPEC section 8): enrol, confirm, disable, regenerate
recovery codes. The codes themselves are checked by services/second_factor.py.

The flow: `enroll` stores a pending secret and returns what an authenticator app needs;
`confirm` checks a first code from that secret, turns MFA on, and returns ten recovery
codes, once. From then on login needs a TOTP code or an unused recovery code
(services/accounts.py `login`). Turning MFA on or off revokes every session (refresh
tokens and access tokens: `revoke_all_sessions`) and gives the actor a fresh one.

Every code a signed-in user presents here counts as a login attempt
(services/credentials.py `as_login_attempt`): a stolen access token cannot guess codes
faster than a login could. Audit actions (actor = the user): `enable_mfa`,
`disable_mfa`, `regenerate_recovery_codes`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlmodel import col

from adapters.qr import svg_data_uri
from domain.errors import Conflict, InvalidState
from services import second_factor
from services.accounts import AuthFailed, AuthResult, commit_account, revoke_all_sessions
from services.accounts import start_session as _start_session
from services.credentials import (
    as_login_attempt,
    audit,
    check_current_password,
    locked_user,
    notify,
)
from services.deps import Deps
from storage.auth_tables import MfaRecoveryCode
from storage.tables import User
from storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Enrollment:
    """`secret`: base32, for typing into an app; `provisioning_uri`: otpauth:// with issuer
    "Gavel" and the account's email; `qr_code`: that URI as an SVG data URI."""

    secret: str
    provisioning_uri: str
    qr_code: str


@dataclass(frozen=True, slots=True)
class Enabled:
    recovery_codes: list[str]
    session: AuthResult


def _wrong_code() -> AuthFailed:
    return AuthFailed("the code is wrong or was used", code="INVALID_OTP", field="code")


def _not_enabled() -> InvalidState:
    return InvalidState("multi-factor login is not enabled", code="MFA_NOT_ENABLED")


async def enroll(
    deps: Deps, actor: User, current_password: str, ip: str | None = None
) -> Enrollment:
    """Start (or restart) an enrolment: a new pending secret replaces any earlier one.

    Needs the account's current password, like changePassword: turning MFA on revokes
    every other session and is then needed at every login (a password reset keeps it), so
    an access token alone (stolen) must not be enough to lock the owner out. The password
    is a login attempt (`as_login_attempt`: the login limits, a wrong one with backoff).
    Raises AuthFailed INVALID_CREDENTIALS (field currentPassword), RateLimited, Conflict
    MFA_ALREADY_ENABLED (disable first)."""

    async def act() -> tuple[str, str]:
        async with deps.uow() as uow:
            user = await locked_user(uow, actor)
            await check_current_password(deps, user, current_password)
            if user.mfa_enabled:
                raise Conflict("multi-factor login is already enabled", code="MFA_ALREADY_ENABLED")
            secret = second_factor.new_secret()
            user.mfa_pending_secret = secret
            await uow.commit()
            return secret, user.email

    secret, email = await as_login_attempt(deps, actor.email, ip, act)
    uri = second_factor.provisioning_uri(secret, email)
    return Enrollment(secret=secret, provisioning_uri=uri, qr_code=svg_data_uri(uri))


async def _replace_recovery_codes(uow: UnitOfWork, user: User) -> list[str]:
    await uow.session.exec(delete(MfaRecoveryCode).where(col(MfaRecoveryCode.user_id) == user.id))
    codes = second_factor.new_recovery_codes()
    for code in codes:
        uow.session.add(
            MfaRecoveryCode(
                user_id=user.id, code_hash=second_factor.recovery_code_hash(user.id, code)
            )
        )
    return codes


async def confirm(deps: Deps, actor: User, code: str, ip: str | None = None) -> Enabled:
    """Turn MFA on with a first code from the pending secret. Returns the ten recovery
    codes (shown only now) and a fresh session; every other session is revoked.
    Raises InvalidState MFA_NOT_ENROLLED, Conflict MFA_ALREADY_ENABLED, AuthFailed
    INVALID_OTP (field code), RateLimited."""

    async def act() -> Enabled:
        async with deps.uow() as uow:
            user = await locked_user(uow, actor)
            if user.mfa_enabled:
                raise Conflict("multi-factor login is already enabled", code="MFA_ALREADY_ENABLED")
            if not user.mfa_pending_secret:
                raise InvalidState("call enrollMfa first", code="MFA_NOT_ENROLLED")
            user.mfa_last_step = None  # a new secret: no step of it was used
            if not second_factor.accept_totp(user, user.mfa_pending_secret, code, deps.clock()):
                raise _wrong_code()
            user.mfa_secret, user.mfa_pending_secret = user.mfa_pending_secret, None
            user.mfa_enabled = True
            codes = await _replace_recovery_codes(uow, user)
            await revoke_all_sessions(deps, uow, user)
            audit(
                uow,
                user,
                "enable_mfa",
                before={"mfa_enabled": False},
                after={"mfa_enabled": True},
                reason="confirmed by the user with a TOTP code",
            )
            session = await _start_session(deps, uow, user)
            await commit_account(deps, uow, user)
            return Enabled(recovery_codes=codes, session=session)

    enabled = await as_login_attempt(deps, actor.email, ip, act)
    await notify(deps, actor, "Multi-factor login is on", "Multi-factor login was turned on.")
    return enabled


async def disable(deps: Deps, actor: User, code: str, ip: str | None = None) -> AuthResult:
    """Turn MFA off; needs a current TOTP code or an unused recovery code. Deletes the
    secret and the recovery codes, revokes every session, returns a fresh one.
    Raises InvalidState MFA_NOT_ENABLED, AuthFailed INVALID_OTP, RateLimited."""

    async def act() -> AuthResult:
        async with deps.uow() as uow:
            user = await locked_user(uow, actor)
            if not user.mfa_enabled:
                raise _not_enabled()
            factor = await second_factor.accept_code(uow, user, code, deps.clock())
            if factor is None:
                raise _wrong_code()
            user.mfa_enabled = False
            user.mfa_secret = user.mfa_pending_secret = None
            user.mfa_last_step = None
            await uow.session.exec(
                delete(MfaRecoveryCode).where(col(MfaRecoveryCode.user_id) == user.id)
            )
            await revoke_all_sessions(deps, uow, user)
            audit(
                uow,
                user,
                "disable_mfa",
                before={"mfa_enabled": True},
                after={"mfa_enabled": False},
                reason=f"confirmed by the user with a {factor} code",
            )
            session = await _start_session(deps, uow, user)
            await commit_account(deps, uow, user)
            return session

    session = await as_login_attempt(deps, actor.email, ip, act)
    await notify(deps, actor, "Multi-factor login is off", "Multi-factor login was turned off.")
    return session


async def regenerate_recovery_codes(
    deps: Deps, actor: User, code: str, ip: str | None = None
) -> list[str]:
    """Ten new recovery codes, replacing all earlier ones (used or not); needs a current
    TOTP code or an unused recovery code. Sessions stay. Raises InvalidState
    MFA_NOT_ENABLED, AuthFailed INVALID_OTP, RateLimited."""

    async def act() -> list[str]:
        async with deps.uow() as uow:
            user = await locked_user(uow, actor)
            if not user.mfa_enabled:
                raise _not_enabled()
            factor = await second_factor.accept_code(uow, user, code, deps.clock())
            if factor is None:
                raise _wrong_code()
            codes = await _replace_recovery_codes(uow, user)
            audit(
                uow,
                user,
                "regenerate_recovery_codes",
                before={"recovery_codes": "replaced"},
                after={"recovery_codes": len(codes)},
                reason=f"confirmed by the user with a {factor} code",
            )
            await uow.commit()
            return codes

    return await as_login_attempt(deps, actor.email, ip, act)
