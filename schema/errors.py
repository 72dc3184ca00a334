"""GraphQL-side error plumbing: UserError payload entries and masking of unexpected errors."""

from __future__ import annotations

import logging
import uuid

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from domain.errors import DomainError
from services.unavailable import unavailable

log = logging.getLogger("gavel.graphql")


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


class GavelMaskErrors(MaskErrors):
    """Domain errors reach the client with their code; anything else is masked and logged."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda _: True)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        out: list[GraphQLError] = []
        for error in errors:
            original = error.original_error
            if original is None:
                out.append(error)  # syntax, validation, limits: the client's own doing
            elif (down := unavailable(original)) is not None:
                # PostgreSQL or Redis failed: retryable, never INTERNAL (services/unavailable.py)
                log.warning("dependency unavailable path=%s: %r", error.path, original)
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
                        },
                    )
                )
            elif isinstance(original, GraphQLError) and original.extensions:
                out.append(error)  # raised on purpose with a code (permissions)
            elif isinstance(original, GraphQLError) and error.path is None:
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
            else:
                error_id = uuid.uuid4().hex[:12]
                log.error("unexpected error id=%s path=%s", error_id, error.path, exc_info=original)
                out.append(
                    GraphQLError(
                        f"Unexpected error (id {error_id}); it has been logged.",
                        nodes=error.nodes,
                        source=error.source,
                        positions=error.positions,
                        path=error.path,
                        extensions={"code": "INTERNAL", "errorId": error_id},
                    )
                )
        return out
