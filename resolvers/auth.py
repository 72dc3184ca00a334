"""Account mutations and the `me`/`user` queries."""

from __future__ import annotations

import strawberry

from domain.accounts import Address
from domain.errors import NotAuthenticated
from schema.context import Ctx
from schema.inputs import AddressInput, RegisterInput
from schema.mfa_types import MfaEnabledPayload, MfaEnrollmentPayload, RecoveryCodesPayload
from schema.payloads import AuthPayload, SimplePayload
from schema.user_types import User
from schema.viewer_types import Viewer
from services import accounts, credentials, mfa, password_reset
from services.accounts import AuthResult
from services.fraud.sightings import record_sighting

from .common import as_payload, client_ip, parse_id, viewer


def _auth(result: AuthResult) -> AuthPayload:
    return AuthPayload(
        access_token=result.access_token,
        refresh_token=result.refresh_token,
        user=User(row=result.user),
    )


def _auth_failed(error: object) -> AuthPayload:
    return AuthPayload(errors=[error])  # type: ignore[list-item]


async def _sighting(info: Ctx, result: AuthResult) -> None:
    """Fraud evidence (services/fraud/sightings.py): the address and the optional
    X-Device-Fingerprint header the account was seen with."""
    headers = getattr(info.context.request, "headers", None)
    device = headers.get("x-device-fingerprint") if headers is not None else None
    await record_sighting(info.context.deps, result.user.id, ip=client_ip(info), device=device)


async def register(info: Ctx, input: RegisterInput) -> AuthPayload:
    async def act() -> AuthPayload:
        result = await accounts.register(
            info.context.deps,
            username=input.username,
            email=input.email,
            password=input.password,
            ip=client_ip(info),
        )
        await _sighting(info, result)
        return _auth(result)

    return await as_payload(_auth_failed, act)


async def verify_email(info: Ctx, token: str) -> SimplePayload:
    async def act() -> SimplePayload:
        await accounts.verify_email(info.context.deps, token)
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def login(info: Ctx, email: str, password: str, otp: str | None = None) -> AuthPayload:
    async def act() -> AuthPayload:
        result = await accounts.login(
            info.context.deps, email=email, password=password, otp=otp, ip=client_ip(info)
        )
        await _sighting(info, result)
        return _auth(result)

    return await as_payload(_auth_failed, act)


async def refresh_token(info: Ctx, refresh_token: str) -> AuthPayload:
    async def act() -> AuthPayload:
        return _auth(await accounts.refresh(info.context.deps, refresh_token))

    return await as_payload(_auth_failed, act)


async def logout(info: Ctx, refresh_token: str) -> SimplePayload:
    async def act() -> SimplePayload:
        await accounts.logout(info.context.deps, refresh_token)
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def become_seller(info: Ctx) -> SimplePayload:
    async def act() -> SimplePayload:
        await accounts.become_seller(info.context.deps, viewer(info))
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def update_profile(
    info: Ctx, display_name: str | None = None, address: AddressInput | None = None
) -> SimplePayload:
    async def act() -> SimplePayload:
        await accounts.update_profile(
            info.context.deps,
            viewer(info),
            display_name=display_name,
            address=None
            if address is None
            else Address(
                line1=address.line1,
                line2=address.line2,
                city=address.city,
                postal_code=address.postal_code,
                country=address.country,
            ),
        )
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


# --- Multi-factor login and passwords (services/mfa.py, services/credentials.py,
# services/password_reset.py) ---------------------------------------------------------


async def enroll_mfa(info: Ctx, current_password: str) -> MfaEnrollmentPayload:
    async def act() -> MfaEnrollmentPayload:
        started = await mfa.enroll(
            info.context.deps, viewer(info), current_password, client_ip(info)
        )
        return MfaEnrollmentPayload(
            secret=started.secret,
            provisioning_uri=started.provisioning_uri,
            qr_code=started.qr_code,
        )

    return await as_payload(lambda e: MfaEnrollmentPayload(errors=[e]), act)


async def confirm_mfa(info: Ctx, code: str) -> MfaEnabledPayload:
    async def act() -> MfaEnabledPayload:
        done = await mfa.confirm(info.context.deps, viewer(info), code, client_ip(info))
        return MfaEnabledPayload(
            recovery_codes=done.recovery_codes,
            access_token=done.session.access_token,
            refresh_token=done.session.refresh_token,
            user=User(row=done.session.user),
        )

    return await as_payload(lambda e: MfaEnabledPayload(errors=[e]), act)


async def disable_mfa(info: Ctx, code: str) -> AuthPayload:
    async def act() -> AuthPayload:
        return _auth(await mfa.disable(info.context.deps, viewer(info), code, client_ip(info)))

    return await as_payload(_auth_failed, act)


async def regenerate_recovery_codes(info: Ctx, code: str) -> RecoveryCodesPayload:
    async def act() -> RecoveryCodesPayload:
        codes = await mfa.regenerate_recovery_codes(
            info.context.deps, viewer(info), code, client_ip(info)
        )
        return RecoveryCodesPayload(recovery_codes=codes)

    return await as_payload(lambda e: RecoveryCodesPayload(errors=[e]), act)


async def change_password(info: Ctx, current_password: str, new_password: str) -> AuthPayload:
    async def act() -> AuthPayload:
        return _auth(
            await credentials.change_password(
                info.context.deps,
                viewer(info),
                current_password=current_password,
                new_password=new_password,
                ip=client_ip(info),
            )
        )

    return await as_payload(_auth_failed, act)


async def request_password_reset(info: Ctx, email: str) -> SimplePayload:
    async def act() -> SimplePayload:
        await password_reset.request_reset(info.context.deps, email, client_ip(info))
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def reset_password(info: Ctx, token: str, new_password: str) -> SimplePayload:
    async def act() -> SimplePayload:
        await password_reset.reset_password(info.context.deps, token, new_password)
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


def me(info: Ctx) -> Viewer | None:
    """Null when anonymous; an error when a token was sent but refused (expired, forged)."""
    ctx = info.context
    if ctx.viewer is None and ctx.auth_error is not None:
        code, message = ctx.auth_error
        raise NotAuthenticated(message, code=code)
    return Viewer(row=ctx.viewer) if ctx.viewer is not None else None


async def user(info: Ctx, id: strawberry.ID) -> User | None:
    row = await info.context.loaders.users.load(parse_id(id))
    return User(row=row) if row is not None else None
