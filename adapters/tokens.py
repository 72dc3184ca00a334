"""JWT access and email-verification tokens (PyJWT), opaque refresh tokens (secrets)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt


class TokenError(Exception):
    def __init__(self, message: str, code: str = "INVALID_TOKEN"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    expires_at: datetime
    # The account's `token_version` when the token was issued (0 for tokens without it):
    # a password or MFA change raises the account's, so older tokens stop working.
    token_version: int = 0


class TokenService:
    ALGORITHM = "HS256"

    def __init__(self, secret: str, *, access_ttl: timedelta, email_ttl: timedelta) -> None:
        if len(secret) < 32:
            raise ValueError("the JWT secret needs at least 32 characters")
        self._secret = secret
        self._access_ttl = access_ttl
        self._email_ttl = email_ttl

    def _encode(self, claims: dict[str, object], ttl: timedelta, now: datetime) -> str:
        payload = {**claims, "iat": int(now.timestamp()), "exp": int((now + ttl).timestamp())}
        return jwt.encode(payload, self._secret, algorithm=self.ALGORITHM)

    def _decode(self, token: str, purpose: str) -> dict[str, object]:
        # Tokens are ASCII; anything else (a lone surrogate from a WebSocket's JSON
        # connection_init cannot even be encoded) is malformed, not a server fault.
        if not isinstance(token, str) or not token.isascii():
            raise TokenError("the token is malformed or its signature is wrong")
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[self.ALGORITHM], options={"require": ["exp"]}
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired", "TOKEN_EXPIRED") from None
        except jwt.PyJWTError:
            raise TokenError("the token is malformed or its signature is wrong") from None
        if claims.get("purpose") != purpose:
            raise TokenError("the token is not meant for this use")
        return dict(claims)

    def issue_access(
        self, user_id: uuid.UUID, now: datetime | None = None, *, token_version: int = 0
    ) -> str:
        now = now or datetime.now(UTC)
        # jti: two logins in the same second must not get the same token (caches key on it).
        claims: dict[str, object] = {
            "sub": str(user_id),
            "purpose": "access",
            "jti": secrets.token_hex(8),
        }
        if token_version:
            claims["tv"] = token_version
        return self._encode(claims, self._access_ttl, now)

    def read_access(self, token: str) -> AccessClaims:
        claims = self._decode(token, "access")
        try:
            user_id = uuid.UUID(str(claims["sub"]))
        except (KeyError, ValueError):
            raise TokenError("the token names no valid user") from None
        exp = claims["exp"]
        assert isinstance(exp, int)
        version = claims.get("tv", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise TokenError("the token's version is malformed")
        return AccessClaims(
            user_id=user_id,
            expires_at=datetime.fromtimestamp(exp, UTC),
            token_version=version,
        )

    def issue_email_verification(self, user_id: uuid.UUID, email: str) -> str:
        return self._encode(
            {"sub": str(user_id), "email": email, "purpose": "verify_email"},
            self._email_ttl,
            datetime.now(UTC),
        )

    def read_email_verification(self, token: str) -> tuple[uuid.UUID, str]:
        claims = self._decode(token, "verify_email")
        try:
            return uuid.UUID(str(claims["sub"])), str(claims["email"])
        except (KeyError, ValueError):
            raise TokenError("the token names no valid user") from None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def refresh_token_hash(token: str) -> str:
    # surrogatepass: a forged token holding a lone surrogate hashes to no stored token
    # instead of failing to encode.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
