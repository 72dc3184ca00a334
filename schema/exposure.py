"""What a GraphQL error may tell about the schema: production hides it.

- `IntrospectionDisabled`: a validation rule refusing `__schema` and `__type` (anywhere,
  fragments included) with the code `INTROSPECTION_DISABLED`; `__typename` stays allowed.
- `HideSuggestions`: graphql-core's "Did you mean ...?" hints name fields, arguments,
  types and enum values the client did not know (strawberry's own switch only covers
  unknown fields); this extension strips every such hint, from validation errors and
  from variable coercion errors, on every transport (HTTP, WebSocket, SSE).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from graphql import FieldNode, GraphQLError, get_named_type, is_introspection_type
from graphql.validation import ValidationRule
from strawberry.extensions import SchemaExtension

INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
# graphql-core's did_you_mean(): " Did you mean 'a'?", "... 'a' or 'b'?", "... the enum
# value 'A'?"; suggested names never contain a question mark.
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class IntrospectionDisabled(ValidationRule):
    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        named = get_named_type(self.context.get_type())
        if named is not None and is_introspection_type(named):
            self.report_error(
                GraphQLError(
                    f"Introspection is disabled: '{node.name.value}' cannot be queried.",
                    node,
                    extensions={"code": INTROSPECTION_DISABLED},
                )
            )


def strip_suggestions(errors: Iterable[GraphQLError] | None) -> None:
    """Remove "Did you mean" hints from `errors`' messages, in place."""
    for error in errors or ():
        if "Did you mean" in error.message:
            error.message = _SUGGESTION.sub("", error.message)


class HideSuggestions(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        yield
        strip_suggestions(self.execution_context.pre_execution_errors)

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        strip_suggestions(getattr(result, "errors", None))
        strip_suggestions(self.execution_context.pre_execution_errors)
