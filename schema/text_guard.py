"""One edge check for every string a client sends (issue 12 item 5).

Every string an operation can hand a resolver comes from its variables or from a literal
in its document, so checking those two, once per operation, covers every argument, nested
input field, list element and JSON value of every query, mutation and subscription,
including fields added later. A refused operation does not run: it answers one GraphQL
error with code INVALID_INPUT. Field-specific rules (single-line titles, names, keys) are
in the domain (domain/text.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from domain.text import first_unstorable, is_storable


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.refused: StringValueNode | None = None

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if not is_storable(node.value):
            self.refused = node
            return Visitor.BREAK
        return None


def refused_string(query: str | None, document: DocumentNode | None, variables: Any) -> str | None:
    """Where the first unstorable string of an operation is ("$input.title", "a literal"),
    or None. Cost: one scan of the variables, one of the query text; the document's
    literals are walked only when the text has a backslash (an escape can spell any
    character; raw text the lexer accepted holds no NUL, surrogate or C0 control but tab
    and line breaks, yet may hold C1 controls, which the text scan finds)."""
    if variables:
        found = first_unstorable(variables)
        if found is not None:
            return f"${found}"
    if query is not None:
        if not is_storable(query):
            return "the document"
        if "\\" not in query:
            return None
    if document is not None:
        literals = _Literals()
        visit(document, literals)
        if literals.refused is not None:
            return "a string literal"
    return None


def refusal(where: str) -> GraphQLError:
    return GraphQLError(
        f"{where} contains NUL, a control character or an unpaired surrogate,"
        " which no field accepts",
        extensions={"code": "INVALID_INPUT", "field": where},
    )


class TextGuard(SchemaExtension):
    """Refuses, after validation and before execution, an operation carrying a string
    domain.text.is_storable refuses. Listed after the validation extensions."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if not ctx.pre_execution_errors:  # an invalid document keeps its own errors
            where = refused_string(ctx.query, ctx.graphql_document, ctx.variables)
            if where is not None:
                ctx.pre_execution_errors = [refusal(where)]
        yield
