"""GraphQL-side error plumbing: UserError payload entries, masking of unexpected errors, and
how errors are logged.

Logging, once per error (`GavelSchema.process_errors` in schema/request_errors.py, which
strawberry calls with the errors before GavelMaskErrors rewrites them):

- a client's error (a domain error with its code, a refusal, a variable that does not
  coerce, a permission): one INFO line, no traceback: "client error <CODE> ...";
- a dependency's outage (PostgreSQL or Redis): one WARNING line, no traceback;
- anything else: an ERROR line with the traceback and a new error id (`error_id`), the
  id the client is told (`extensions.errorId`, "Unexpected error (id ...)").
"""

from __future__ import annotations

import logging
import uuid
from enum import Enum

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from domain.errors import DomainError
from services.unavailable import unavailable

log = logging.getLogger("gavel.graphql")

# Where process_errors leaves an unexpected error's id for GavelMaskErrors (same object).
_ERROR_ID_ATTR = "gavel_error_id"
_MESSAGE_CHARS = 200  # a client's message may quote its own (long) input


class ErrorKind(Enum):
    CLIENT = "client"  # the client's doing: answered with its code
    UNAVAILABLE = "unavailable"  # PostgreSQL or Redis failed: retryable
    UNEXPECTED = "unexpected"  # our fault: masked as INTERNAL


def error_kind(error: GraphQLError) -> ErrorKind:
    original = error.original_error
    if original is None:
        return ErrorKind.CLIENT  # syntax, validation, limits, refusals
    if unavailable(original) is not None:
        return ErrorKind.UNAVAILABLE
    if isinstance(original, DomainError):
        return ErrorKind.CLIENT
    if isinstance(original, GraphQLError) and (original.extensions or error.path is None):
        # raised on purpose with a code (permissions), or a variable that does not coerce
        return ErrorKind.CLIENT
    return ErrorKind.UNEXPECTED


def _client_code(error: GraphQLError) -> str:
    original = error.original_error
    if isinstance(original, DomainError):
        return original.code
    for source in (error, original):
        if isinstance(source, GraphQLError):
            code = (source.extensions or {}).get("code")
            if isinstance(code, str):
                return code
    return "INVALID_INPUT" if original is not None else "GRAPHQL_ERROR"


def log_unexpected(exc: BaseException | None, where: str, path: object = None) -> str:
    """Log an unexpected failure with its traceback under a new error id; returns the id,
    which the client is told (`extensions.errorId`)."""
    error_id = uuid.uuid4().hex[:12]
    log.error(
        "unexpected error id=%s %s path=%s",
        error_id,
        where,
        path,
        exc_info=exc,
        extra={"error_id": error_id},
    )
    return error_id


def unexpected_message(error_id: str) -> str:
    return f"Unexpected error (id {error_id}); it has been logged."


def log_client_error(code: str, operation: str | None, path: object, message: str) -> None:
    """One INFO line for an error that is the client's doing (no traceback)."""
    log.info(
        "client error %s operation=%s path=%s: %.*r",
        code,
        operation,
        path,
        _MESSAGE_CHARS,
        message,
        extra={"code": code},
    )


def log_errors(errors: list[GraphQLError], operation: str | None) -> None:
    """Log each error of an operation's result once, by its kind (module docstring)."""
    for error in errors:
        if (error.extensions or {}).get("errorId"):
            continue  # made for an unexpected failure, and logged where it was made
        kind = error_kind(error)
        if kind is ErrorKind.CLIENT:
            log_client_error(_client_code(error), operation, error.path, error.message)
        elif kind is ErrorKind.UNAVAILABLE:
            log.warning(
                "dependency unavailable operation=%s path=%s: %r",
                operation,
                error.path,
                error.original_error,
                extra={"code": "UNAVAILABLE"},
            )
        elif getattr(error, _ERROR_ID_ATTR, None) is None:
            error_id = log_unexpected(error.original_error, f"operation={operation}", error.path)
            setattr(error, _ERROR_ID_ATTR, error_id)


@strawberry.type(description="An expected failure, returned as data.")
class UserError:
    code: str
    message: str
    field: str | None = None
    retry_after: int | None = strawberry.field(
        default=None,
        description="RATE_LIMITED only: whole seconds to wait before trying again.",
    )

    @classmethod
    def of(cls, err: DomainError) -> UserError:
        retry_after = getattr(err, "retry_after", None)
        return cls(code=err.code, message=err.message, field=err.field, retry_after=retry_after)


def _retry_after(err: DomainError) -> dict[str, int]:
    seconds = getattr(err, "retry_after", None)
    return {"retryAfter": seconds} if isinstance(seconds, int) else {}


class GavelMaskErrors(MaskErrors):
    """Domain errors reach the client with their code; anything else is masked, under the
    error id it was logged with (by `log_errors`, or here if that did not see it)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda _: True)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        out: list[GraphQLError] = []
        for error in errors:
            original = error.original_error
            kind = error_kind(error)
            if kind is ErrorKind.UNAVAILABLE:
                # PostgreSQL or Redis failed: retryable, never INTERNAL (services/unavailable.py)
                down = unavailable(original) if original is not None else None
                assert down is not None
                out.append(
                    GraphQLError(
                        down.message,
                        nodes=error.nodes,
                        source=error.source,
                        positions=error.positions,
                        path=error.path,
                        original_error=original,
                        extensions=down.extensions,
                    )
                )
            elif kind is ErrorKind.UNEXPECTED:
                error_id = getattr(error, _ERROR_ID_ATTR, None) or log_unexpected(
                    original, "(masked)", error.path
                )
                out.append(
                    GraphQLError(
                        unexpected_message(error_id),
                        nodes=error.nodes,
                        source=error.source,
                        positions=error.positions,
                        path=error.path,
                        extensions={"code": "INTERNAL", "errorId": error_id},
                    )
                )
            elif original is None or (isinstance(original, GraphQLError) and original.extensions):
                out.append(error)  # the client's own doing, or raised with a code (permissions)
            elif isinstance(original, DomainError):
                out.append(
                    GraphQLError(
                        original.message,
                        nodes=error.nodes,
                        source=error.source,
                        positions=error.positions,
                        path=error.path,
                        original_error=original,
                        extensions={
                            "code": original.code,
                            **({"field": original.field} if original.field else {}),
                            # RATE_LIMITED on a query field: the wait, as sockets give it
                            **_retry_after(original),
                        },
                    )
                )
            else:
                # A variable that does not coerce (missing, "abc" for a Decimal): graphql-core
                # wraps the scalar's refusal; the client's doing, not ours.
                out.append(
                    GraphQLError(
                        error.message,
                        nodes=error.nodes,
                        source=error.source,
                        positions=error.positions,
                        path=error.path,
                        extensions={"code": "INVALID_INPUT"},
                    )
                )
        return out
