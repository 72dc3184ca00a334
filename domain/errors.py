"""Typed domain errors: expected failures with a stable code clients can switch on."""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure. `code` is stable API; `message` is for humans."""

    code: str = "INVALID_INPUT"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class ValidationFailed(DomainError):
    code = "INVALID_INPUT"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotAuthenticated(DomainError):
    code = "NOT_AUTHENTICATED"


class Conflict(DomainError):
    code = "CONFLICT"


class InvalidState(DomainError):
    code = "INVALID_STATE"


class NotAvailableYet(DomainError):
    """A contract feature whose implementation has not landed yet."""

    code = "NOT_AVAILABLE_YET"

    def __init__(self, feature: str):
        super().__init__(f"{feature} is not available yet", field=None)
