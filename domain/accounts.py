"""Rules for accounts: what a valid username, email, password, profile and role change is."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.enums import Role
from domain.errors import ValidationFailed
from domain.text import check_text

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
# Deliberately simple: one @, a dot in the domain, no spaces. Real proof is the verify mail.
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
MAX_DISPLAY_NAME = 80


def check_username(username: str) -> str:
    name = username.strip()
    if not USERNAME_RE.match(name):
        raise ValidationFailed(
            "username must be 3-32 letters, digits, dots, dashes or underscores",
            code="INVALID_USERNAME",
            field="username",
        )
    return name


def normalize_email(email: str) -> str:
    value = check_text(email.strip(), "email").lower()
    if len(value) > 254 or not EMAIL_RE.match(value):
        raise ValidationFailed("not a valid email address", code="INVALID_EMAIL", field="email")
    return value


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            f"password must have at least {MIN_PASSWORD} characters",
            code="WEAK_PASSWORD",
            field="password",
        )
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed(
            f"password must have at most {MAX_PASSWORD} characters",
            code="WEAK_PASSWORD",
            field="password",
        )
    return password


def check_display_name(name: str | None) -> str | None:
    if name is None:
        return None
    value = check_text(name.strip(), "displayName")
    if not value:
        return None
    if len(value) > MAX_DISPLAY_NAME:
        raise ValidationFailed(
            f"display name must have at most {MAX_DISPLAY_NAME} characters",
            code="TOO_LONG",
            field="displayName",
        )
    return value


@dataclass(frozen=True, slots=True)
class Address:
    line1: str
    line2: str | None
    city: str
    postal_code: str
    country: str


def check_address(address: Address) -> Address:
    limits = {"line1": 200, "line2": 200, "city": 100, "postalCode": 20}
    values = {
        "line1": address.line1.strip(),
        "line2": (address.line2 or "").strip() or None,
        "city": address.city.strip(),
        "postalCode": address.postal_code.strip(),
    }
    for field, limit in limits.items():
        value = values[field]
        if value is not None:
            check_text(value, f"address.{field}")
        if field != "line2" and not value:
            raise ValidationFailed(f"{field} is required", field=f"address.{field}")
        if value is not None and len(value) > limit:
            raise ValidationFailed(
                f"{field} must have at most {limit} characters",
                code="TOO_LONG",
                field=f"address.{field}",
            )
    country = address.country.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise ValidationFailed(
            "country must be an ISO 3166 two-letter code", field="address.country"
        )
    return Address(
        line1=values["line1"] or "",
        line2=values["line2"],
        city=values["city"] or "",
        postal_code=values["postalCode"] or "",
        country=country,
    )


def with_role(roles: list[str], role: Role) -> list[str]:
    """Roles in canonical order with `role` added."""
    wanted = {*roles, role.value}
    return [r.value for r in Role if r.value in wanted]
