"""Payloads of the multi-factor login and password mutations (resolvers/auth.py)."""

from __future__ import annotations

import strawberry

from schema.errors import UserError
from schema.user_types import User


@strawberry.type(description="A started MFA enrolment: add it to an authenticator app.")
class MfaEnrollmentPayload:
    secret: str | None = strawberry.field(
        default=None, description="The TOTP secret (base32), for typing in by hand."
    )
    provisioning_uri: str | None = strawberry.field(
        default=None, description="otpauth://totp/Gavel:<email>?secret=...&issuer=Gavel"
    )
    qr_code: str | None = strawberry.field(
        default=None, description="The provisioning URI as a QR image (SVG data URI)."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(
    description="MFA turned on: the recovery codes (shown only now; each works once) "
    "and a fresh session; every other session was revoked."
)
class MfaEnabledPayload:
    recovery_codes: list[str] | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="New recovery codes (shown only now); the old ones no longer work.")
class RecoveryCodesPayload:
    recovery_codes: list[str] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
