"""Builds the strawberry Schema with its limits and caches."""

from __future__ import annotations

import strawberry
from graphql.validation import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from schema.compiled_bid import Compiler
from schema.errors import GavelMaskErrors
from schema.live_delivery import CapturingExecutionContext
from schema.root import Mutation, Query, Subscription
from schema.scalars import SCALAR_OVERRIDES
from schema.text_guard import TextGuard
from schema.types import Dispute


def _limit_rules(max_depth: int, max_aliases: int) -> list[type[ASTValidationRule]]:
    return [
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
    ]


def build_bid_compiler(
    schema: strawberry.Schema,
    *,
    max_depth: int = 10,
    max_tokens: int = 2000,
    max_aliases: int = 30,
) -> Compiler:
    """Compiles placeBid/buyNow documents under the same validation limits."""
    return Compiler(schema._schema, _limit_rules(max_depth, max_aliases), max_tokens=max_tokens)


def build_schema(
    *,
    max_depth: int = 10,
    max_tokens: int = 2000,
    max_aliases: int = 30,
    introspection: bool = True,
) -> strawberry.Schema:
    # Parsing and validating dominate a small operation's cost and clients repeat
    # documents; both caches live at module level, shared by every per-request instance.
    # The validation cache is keyed by the rule classes too, and the limiters make a new
    # rule class per instance: build them once, or every request misses the cache.
    limit_rules = _limit_rules(max_depth, max_aliases)
    extensions: list[object] = [
        GavelMaskErrors,
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: AddValidationRules(limit_rules),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        TextGuard,  # after validation: refuses unstorable strings before anything runs
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Dispute],  # in the contract; reachable from mutations of a later issue
        extensions=extensions,  # type: ignore[arg-type]
        config=StrawberryConfig(),
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=CapturingExecutionContext,
    )
