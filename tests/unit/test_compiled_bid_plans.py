"""Which documents the bid compiler takes (schema/compiled_bid.py), without a server."""

from __future__ import annotations

import logging

import pytest
from graphql import ValidationContext
from graphql.validation import ASTValidationRule

from schema.build import build_bid_compiler, build_schema
from schema.compiled_bid import Compiler

OP = "mutation($id: ID!, $a: Decimal!)"
FIELD = "placeBid(auctionId: $id, amount: $a)"
WITH_X = "mutation($id: ID!, $a: Decimal!, $x: Boolean!)"


@pytest.fixture(scope="module")
def compiler() -> Compiler:
    return build_bid_compiler(build_schema())


@pytest.mark.parametrize(
    "selection",
    [
        "__typename ... on BidRejected { reason }",  # bench/wrk_graphql.lua's document
        "__typename ... on BidAccepted { leading bid { sequence amount { amount } } }"
        " ... on BidRejected { reason message minimumNextBid { amount } }",
        "... on PlaceBidResult { __typename } ... on BidRejected { reason }",
        "...R",
        "__typename @include(if: true) t: __typename @skip(if: true)",
    ],
)
def test_plain_documents_are_compiled(compiler, selection):
    fragment = " fragment R on PlaceBidResult { __typename ... on BidAccepted { leading } }"
    document = f"{OP} {{ {FIELD} {{ {selection} }} }}" + (fragment if "...R" in selection else "")
    assert compiler.plan(document, None) is not None


@pytest.mark.parametrize(
    "document",
    [
        f"{OP} {{ {FIELD} {{ ... on BidAccepted {{ auction {{ id }} }} }} }}",
        f"{WITH_X} {{ {FIELD} {{ __typename @skip(if: $x) }} }}",
        f"{OP} {{ {FIELD} {{ __typename ...Nope }} }}",
        f"{OP} {{ {FIELD} {{ __typename }} }} {OP} {{ {FIELD} {{ __typename }} }}",
        f"{OP} {{ {FIELD} {{ __typename }} }} query {{ categories }}",
    ],
)
def test_other_documents_are_left_to_the_generic_path(compiler, document):
    assert compiler.plan(document, None) is None


def test_a_fault_while_compiling_leaves_the_document_to_the_generic_path(caplog):
    class Broken(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            raise RuntimeError("a bug in a rule")

    compiler = Compiler(build_schema()._schema, [Broken])
    with caplog.at_level(logging.ERROR, logger="gavel.graphql"):
        assert compiler.plan(f"{OP} {{ {FIELD} {{ __typename }} }}", None) is None
    assert "the generic path answers it" in caplog.text
