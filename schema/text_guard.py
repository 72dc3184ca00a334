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
    """Where the first unstorable string of an operation is ("$input.title", "a string
    literal"), or None. Cost per request: one walk of the variables; the document's verdict
    is remembered per query text, as the parser cache remembers its parse."""
    if variables:
        found = first_unstorable(variables)
        if found is not None:
            return f"${found}"
    if query is not None:
        return _refused_in_text(query, document)
    return _refused_in_document(document)


# query text -> verdict on its literals; bounded like the parser cache (schema/build.py).
_VERDICTS: dict[str, str | None] = {}
_VERDICTS_KEPT = 512


def _refused_in_text(query: str, document: DocumentNode | None) -> str | None:
    try:
        return _VERDICTS[query]
    except KeyError:
        pass
    # Raw text holds every literal's characters but for escapes; only a backslash makes a
    # walk of the parsed literals necessary.
    if not is_storable(query):
        verdict: str | None = "the document"
    else:
        verdict = _refused_in_document(document) if "\\" in query else None
    if len(_VERDICTS) >= _VERDICTS_KEPT:
        _VERDICTS.clear()  # rare; a simple bound beats bookkeeping on every request
    _VERDICTS[query] = verdict
    return verdict


def _refused_in_document(document: DocumentNode | None) -> str | None:
    if document is None:
        return None
    literals = _Literals()
    visit(document, literals)
    return None if literals.refused is None else "a string literal"


def refusal(where: str) -> GraphQLError:
    return GraphQLError(
        f"{where} contains NUL, a control character or an unpaired surrogate,"
        " which no field accepts",
        extensions={"code": "INVALID_INPUT", "field": where},
    )


# No argument of the schema takes more items than this (page sizes and id lists are
# capped lower by their use cases); a longer list in the variables is refused before
# graphql-core coerces it item by item on the event loop, and before it could become a
# statement with more parameters than PostgreSQL takes.
MAX_LIST_ITEMS = 1000


def oversized_list(value: object, path: str = "") -> str | None:
    """The path of the first list in a JSON-like value with over MAX_LIST_ITEMS items."""
    if isinstance(value, list):
        if len(value) > MAX_LIST_ITEMS:
            return path or "(list)"
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                found = oversized_list(item, f"{path}[{index}]")
                if found is not None:
                    return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                found = oversized_list(item, f"{path}.{key}" if path else str(key))
                if found is not None:
                    return found
    return None


def list_refusal(where: str) -> GraphQLError:
    return GraphQLError(
        f"${where} has more than {MAX_LIST_ITEMS} items, more than any argument takes",
        extensions={"code": "INVALID_INPUT", "field": f"${where}"},
    )


class TextGuard(SchemaExtension):
    """Refuses, after validation and before execution, an operation carrying a string
    domain.text.is_storable refuses, or a list in its variables longer than any argument
    takes. Listed after the validation extensions."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: str | None = None

    def on_parse(self) -> Iterator[None]:
        # An unknown operation's error echoes its name, and "\ud800" cannot be encoded as
        # JSON: the response would fail instead of answering. The name is dropped here and
        # refused after validation, on every transport alike.
        ctx = self.execution_context
        if ctx.operation_name is not None and not is_storable(ctx.operation_name):
            self.refused = "operationName"
            # strawberry 0.341 keeps the client's name here (no setter); without it the
            # first operation stands in, and on_validate refuses before anything runs.
            ctx._provided_operation_name = None
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if self.refused is None and not ctx.pre_execution_errors:
            self.refused = refused_string(ctx.query, ctx.graphql_document, ctx.variables)
            if self.refused is None and ctx.variables:
                too_long = oversized_list(ctx.variables)
                if too_long is not None:
                    ctx.pre_execution_errors = [list_refusal(too_long)]
        if self.refused is not None:  # an invalid document otherwise keeps its own errors
            ctx.pre_execution_errors = [refusal(self.refused)]
        yield
