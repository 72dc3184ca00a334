"""GavelSchema: whatever escapes parsing or validation becomes a coded refusal (issue 12)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import ValidationRule
from strawberry.extensions import AddValidationRules, SchemaExtension

from schema.request_errors import GavelSchema


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, times: int = 1) -> str:
        return "hi" * times


class CrashingRule(ValidationRule):
    """A rule with a bug: it crashes on every fragment spread, known or not."""

    def enter_fragment_spread(self, node: Any, *_: Any) -> None:
        raise KeyError(node.name.value)


class ParseBreaker(SchemaExtension):
    def on_parse(self) -> Iterator[None]:
        if "boom" in (self.execution_context.query or ""):
            raise RuntimeError("the parser exploded")
        yield


class CodedLimit(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        if "limited" in (self.execution_context.query or ""):
            raise GraphQLError("over the limit", extensions={"code": "QUERY_TOO_COMPLEX"})
        yield


def schema() -> GavelSchema:
    return GavelSchema(
        query=Query,
        extensions=[lambda: AddValidationRules([CrashingRule]), ParseBreaker, CodedLimit],
    )


def codes(result: Any) -> list[Any]:
    assert result.errors, result
    return [(e.extensions or {}).get("code") for e in result.errors]


def first(result: Any) -> GraphQLError:
    assert result.errors, result
    error: GraphQLError = result.errors[0]
    return error


async def test_a_crashing_rule_on_an_invalid_document_is_a_validation_error():
    result = await schema().execute("{ hello ...Nope }")
    assert codes(result) == ["GRAPHQL_VALIDATION_FAILED"]
    assert first(result).message == "Unknown fragment 'Nope'."


async def test_a_crashing_rule_on_a_valid_document_is_ours(caplog):
    with caplog.at_level("ERROR", logger="gavel.graphql"):
        result = await schema().execute("{ ...F } fragment F on Query { hello }")
    assert codes(result) == ["INTERNAL"]
    assert (first(result).extensions or {})["errorId"] in caplog.text


async def test_an_exploding_parser_is_a_parse_failure():
    result = await schema().execute("{ boom: hello }")
    assert codes(result) == ["GRAPHQL_PARSE_FAILED"]
    assert "exploded" not in first(result).message


async def test_a_coded_refusal_keeps_its_code():
    result = await schema().execute("{ limited: hello }")
    assert codes(result) == ["QUERY_TOO_COMPLEX"]


async def test_the_same_over_a_stream():
    for document, code in [
        ("{ hello ...Nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ boom: hello }", "GRAPHQL_PARSE_FAILED"),
        ("{ limited: hello }", "QUERY_TOO_COMPLEX"),
        ('{ hello(times: "x") }', "INVALID_INPUT"),
    ]:
        results = [r async for r in await schema().stream(document)]
        assert [codes(r) for r in results] == [[code]], document


async def test_valid_documents_still_run():
    result = await schema().execute(
        "query A { hello(times: 2) } query B { hello }", operation_name="A"
    )
    assert result.errors is None and result.data == {"hello": "hihi"}
