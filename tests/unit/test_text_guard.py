"""The edge guard's verdict on a document's literals and its variables (schema/text_guard.py)."""

from __future__ import annotations

import pytest
from graphql import parse

from schema.text_guard import refused_string


def verdict(query: str, variables: object = None) -> str | None:
    return refused_string(query, parse(query), variables)


@pytest.mark.parametrize(
    "literal",
    [
        r'"a\u0000b"',
        r'"a\bb"',
        r'"a\fb"',
        r'"a\u001Bb"',
        r'"a\u0085b"',
        r'"a\u{0}b"',
        '"a\x85b"',  # a raw C1 control the lexer lets through
        '"""block\x7f"""',
    ],
)
def test_unstorable_literals_are_found_however_written(literal: str) -> None:
    query = f"{{ auctions(filter: {{category: {literal}}}) {{ totalCount }} }}"
    assert verdict(query) is not None
    assert verdict(query) is not None  # and again from the remembered verdict


@pytest.mark.parametrize(
    "literal", [r'"plain"', r'"tab\tand\nnewline"', r'"quote\" and \\ backslash"', r'"\u00e9"']
)
def test_storable_literals_pass(literal: str) -> None:
    assert verdict(f"{{ auctions(filter: {{category: {literal}}}) {{ totalCount }} }}") is None


def test_variables_are_walked_with_paths() -> None:
    query = "query($i: CreateAuctionInput!) { __typename }"
    assert verdict(query, {"i": {"title": "ok", "tags": ["x", "y\x00"]}}) == "$i.tags[1]"
    assert verdict(query, {"i": {"description": "two\nlines\tand\r\nmore"}}) is None
