"""Builds the strawberry Schema with its limits and caches."""

from __future__ import annotations

import strawberry
from graphql.validation import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from schema.compiled_bid import Compiler
from schema.errors import GavelMaskErrors
from schema.exposure import HideSuggestions, IntrospectionDisabled
from schema.limits import limit_rule
from schema.null_variables import NullVariables
from schema.request_errors import GavelSchema
from schema.root import Mutation, Query, Subscription
from schema.scalars import SCALAR_OVERRIDES
from schema.settlement_types import Dispute
from schema.socket_protocols import CapturingExecutionContext
from schema.text_guard import TextGuard
from schema.timing import OperationTimer


def _limit_rules(
    max_depth: int, max_aliases: int, max_fields: int
) -> list[type[ASTValidationRule]]:
    # Our own rule, linear in the document: the library limiters are exponential in
    # chained fragments (schema/limits.py).
    return [limit_rule(max_depth=max_depth, max_aliases=max_aliases, max_fields=max_fields)]


def build_bid_compiler(
    schema: strawberry.Schema,
    *,
    max_depth: int = 10,
    max_tokens: int = 2000,
    max_aliases: int = 30,
    max_fields: int = 1000,
) -> Compiler:
    """Compiles placeBid/buyNow documents under the same validation limits."""
    return Compiler(
        schema._schema, _limit_rules(max_depth, max_aliases, max_fields), max_tokens=max_tokens
    )


def build_schema(
    *,
    max_depth: int = 10,
    max_tokens: int = 2000,
    max_aliases: int = 30,
    introspection: bool = True,
    max_fields: int = 1000,
    suggestions: bool = True,
) -> strawberry.Schema:
    # Parsing and validating dominate a small operation's cost and clients repeat
    # documents; both caches live at module level, shared by every per-request instance.
    # The validation cache is keyed by the rule classes too, and the limiters make a new
    # rule class per instance: build them once, or every request misses the cache.
    limit_rules = _limit_rules(max_depth, max_aliases, max_fields)
    extensions: list[object] = [
        OperationTimer,  # first: its time includes every other extension's
        GavelMaskErrors,
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: AddValidationRules(limit_rules),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        TextGuard,  # after validation: refuses unstorable strings before anything runs
        NullVariables,  # after validation: null where a value is required (a bid ran)
    ]
    if not introspection:
        extensions.append(lambda: AddValidationRules([IntrospectionDisabled]))
    if not suggestions:
        extensions.append(HideSuggestions)
    return GavelSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Dispute],  # in the contract; also reachable through Transaction.dispute
        extensions=extensions,  # type: ignore[arg-type]
        config=StrawberryConfig(disable_field_suggestions=not suggestions),
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=CapturingExecutionContext,
    )
