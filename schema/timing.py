"""Times each GraphQL operation for the `gavel_graphql_request_seconds` histogram."""

from __future__ import annotations

from collections.abc import Iterator
from time import perf_counter

from strawberry.extensions import SchemaExtension

from adapters import metrics


class OperationTimer(SchemaExtension):
    """Parse, validation and execution of a query or mutation, by operation name (bounded:
    adapters/metrics.py OperationLabels) and type; "unknown" when the document does not
    parse or names no operation it has. A subscription is a stream, not timed here."""

    def on_operation(self) -> Iterator[None]:
        started = perf_counter()
        yield
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except Exception:  # no document, or no such operation: the request was refused
            kind = "unknown"
        if kind != "subscription":
            metrics.OPERATIONS.histogram(context.operation_name, kind).observe(
                perf_counter() - started
            )
