"""An explicit `null` for a variable that a non-null position needs is refused up front.

GraphQL lets a nullable variable with a default value stand where a non-null value is
required (`query($id: ID = "x") { auction(id: $id) { id } }`; the spec's "variable
default value" exception to *All Variable Usages Are Allowed*), so validation passes and
variable coercion accepts `{"id": null}`. graphql-core then fails only when it reaches
that position: an argument error surfaces as an unexpected error, and one in a
directive of a mutation's selection (`{ buyNow(...) { __typename @include(if: $x) } }`)
surfaces after the mutation already ran, so a bid was placed while the client was told
it failed. Here such an operation is refused before anything runs, with INVALID_INPUT,
on every transport (the compiled bid path leaves it to the generic path).

Cost: the positions are found once per (document text, operation name) and remembered;
per request it is a dictionary look-up and, only for operations that have such
variables, a look at those variables' values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    ValidationContext,
    is_non_null_type,
)
from strawberry.extensions import SchemaExtension

# (query text, operation name) -> names of variables used where null is not allowed.
_POSITIONS: dict[tuple[str, str | None], frozenset[str]] = {}
_POSITIONS_KEPT = 512


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def non_null_variables(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> frozenset[str]:
    """Variables of the operation used in a position whose type is non-null (fragments
    and directive arguments included)."""
    operation = _operation(document, operation_name)
    if operation is None:
        return frozenset()
    context = ValidationContext(schema, document, TypeInfo(schema), on_error=lambda _e: None)
    return frozenset(
        usage.node.name.value
        for usage in context.get_recursive_variable_usages(operation)
        if usage.type is not None and is_non_null_type(usage.type)
    )


def null_in_non_null_position(
    schema: GraphQLSchema,
    query: str | None,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> str | None:
    """The first variable given an explicit null where its use needs a value, or None."""
    if not variables:
        return None
    key = (query, operation_name) if query is not None else None
    names = _POSITIONS.get(key) if key is not None else None
    if names is None:
        names = non_null_variables(schema, document, operation_name)
        if key is not None:
            if len(_POSITIONS) >= _POSITIONS_KEPT:
                _POSITIONS.clear()  # rare; a simple bound beats bookkeeping per request
            _POSITIONS[key] = names
    return next((n for n in names if n in variables and variables[n] is None), None)


def refusal(name: str) -> GraphQLError:
    return GraphQLError(
        f"Variable '${name}' is null where a value is required.",
        extensions={"code": "INVALID_INPUT", "field": f"${name}"},
    )


class NullVariables(SchemaExtension):
    """Refuses, after validation and before execution, an operation whose variables hold
    an explicit null for a non-null position. Listed after ValidationCache."""

    def on_validate(self) -> Iterator[None]:
        # Before the yield: ValidationCache (listed earlier) has validated by now, and
        # strawberry reads the errors before the extensions' code after the yield runs.
        ctx = self.execution_context
        if not ctx.pre_execution_errors and ctx.graphql_document is not None:
            found = null_in_non_null_position(
                ctx.schema._schema,
                ctx.query,
                ctx.graphql_document,
                ctx.operation_name,
                ctx.variables,
            )
            if found is not None:
                ctx.pre_execution_errors = [refusal(found)]
        yield
