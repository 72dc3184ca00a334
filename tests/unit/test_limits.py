"""Document limits (schema/limits.py): linear in the document, the library's meaning kept."""

from __future__ import annotations

import time

import pytest
from graphql import (
    DocumentNode,
    GraphQLSchema,
    OperationDefinitionNode,
    get_introspection_query,
    parse,
    specified_rules,
    validate,
)
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter

from schema.build import build_schema
from schema.limits import DocumentCost, limit_rule


def chain(levels: int, root: str = "Query", leaf: str = "__typename") -> str:
    """F0 is the leaf; each F<i> spreads F<i-1> twice: 2^levels fields once expanded."""
    parts = [f"fragment F0 on {root} {{ {leaf} }}"]
    parts += [
        f"fragment F{i} on {root} {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)
    ]
    return " ".join(parts)


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


RULE = limit_rule(max_depth=10, max_aliases=30, max_fields=1000)


def selections(document: DocumentNode) -> int:
    count = 0
    pending = [d.selection_set for d in document.definitions if hasattr(d, "selection_set")]
    while pending:
        current = pending.pop()
        for selection in current.selections:
            count += 1
            if getattr(selection, "selection_set", None) is not None:
                pending.append(selection.selection_set)
    return count


def test_a_forty_level_fragment_chain_is_refused_in_linear_time(schema):
    document = parse("query Q { ...F40 } " + chain(40))
    costs = DocumentCost(document)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    cost = costs.of_operation(operation)
    assert cost.fields == 2**40 and cost.depth == 0
    # Structural: every selection of the document walked once, each fragment summarized once.
    assert costs.walked == selections(document) == 1 + 1 + 2 * 40
    assert len(costs.summaries) == 41
    started = time.perf_counter()
    errors = validate(schema, document, [*specified_rules, RULE])
    elapsed = time.perf_counter() - started
    assert [e.extensions for e in errors] == [{"code": "QUERY_TOO_COMPLEX"}]
    assert "1099511627776 fields" in errors[0].message
    assert elapsed < 0.05, elapsed


def test_aliases_in_fragments_count_once_per_spread(schema):
    document = parse("query Q { ...F3 } " + chain(3, leaf="a: categories"))
    errors = validate(schema, document, [limit_rule(max_depth=10, max_aliases=7, max_fields=1000)])
    assert [e.extensions for e in errors] == [{"code": "TOO_MANY_ALIASES"}]
    assert "8 aliases" in errors[0].message
    assert not validate(
        schema, document, [limit_rule(max_depth=10, max_aliases=8, max_fields=1000)]
    )


def test_unknown_and_cyclic_fragments_are_left_to_graphql_core(schema):
    for query, expected in [
        ("query { categories ...Nope }", "Unknown fragment 'Nope'."),
        ("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }", "within itself"),
        ("{ ...A } fragment A on Query { a: categories ...A }", "within itself"),
    ]:
        errors = validate(schema, parse(query), [*specified_rules, RULE])
        assert errors and all(expected in e.message for e in errors), (query, errors)


# Documents on which our rule must decide as strawberry's limiters did (depth counts
# object-field levels, introspection is not looked into; aliases include fragments').
def nest(path: str, leaf: str = "id") -> str:
    """`nest("a b", "id")` is `a { b { id } }`."""
    fields = path.split()
    return " { ".join([*fields, leaf]) + " }" * len(fields)


AUCTION_BIDS = "auctions edges node bids edges node auction"
SAME_AS_THE_LIBRARY = [
    "{ categories }",
    "{ a: categories b: categories c: categories }",
    "{ " + nest("auctions edges node") + " }",
    "{ " + nest(f"{AUCTION_BIDS} item seller") + " }",  # depth 9
    "{ " + nest(f"{AUCTION_BIDS} bids edges node") + " }",  # depth 10
    "{ " + nest(f"{AUCTION_BIDS} bids edges node auction") + " }",  # depth 11
    "{ "
    + nest("auctions edges node", "...N")
    + " } fragment N on Auction { "
    + nest("bids edges node auction bids edges node auction")
    + " }",
    "{ "
    + nest(
        "auctions edges node",
        "... on Auction { " + nest("bids edges node auction bids edges node x:auction") + " }",
    )
    + " }",
    "{ "
    + nest("__schema types fields type ofType ofType ofType ofType ofType ofType", "name")
    + " }",
    "{ ...A ...A } fragment A on Query { a: categories b: categories"
    " ... on Query { c: categories } }",
    "query A { x: categories } query B { y: categories }",
    get_introspection_query(descriptions=True),
]


@pytest.mark.parametrize("max_depth,max_aliases", [(10, 30), (3, 2), (0, 0), (9, 4)])
def test_limits_decide_as_the_library_did(schema, max_depth, max_aliases):
    library = [
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
    ]
    ours = [limit_rule(max_depth=max_depth, max_aliases=max_aliases, max_fields=10**9)]
    for query in SAME_AS_THE_LIBRARY:
        document = parse(query)
        before = [e.message for e in validate(schema, document, library)]
        after = validate(schema, document, ours)
        codes = {e.extensions["code"] for e in after if e.extensions}
        assert ("QUERY_TOO_DEEP" in codes) == any("depth" in m for m in before), (query, after)
        # The library summed the aliases of all operations; only one operation executes.
        if len([d for d in document.definitions if isinstance(d, OperationDefinitionNode)]) == 1:
            assert ("TOO_MANY_ALIASES" in codes) == any("aliases" in m for m in before), query


def test_the_introspection_query_fits_the_default_limits(schema):
    document = parse(get_introspection_query(descriptions=True, specified_by_url=True))
    assert not validate(schema, document, [*specified_rules, RULE])
