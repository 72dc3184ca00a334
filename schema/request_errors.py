"""A client's malformed request or document answered as a coded GraphQL error, on every path.

Strawberry answers some client mistakes with exceptions each transport handles its own way
(a text/plain 400 over HTTP, `INTERNAL` or a closed socket over WebSockets, a cut event
stream), lets the first of several operations run when no `operationName` chooses one, and
lets any exception a parsing or validation step raises escape as raw text. `GavelSchema`
turns all of them into one refusal shape, before execution, for every transport (HTTP,
server-sent events, graphql-transport-ws, graphql-ws): a GraphQL error whose
`extensions.code` is one of

- `BAD_REQUEST`: the request itself is malformed: no query, a query that is not a string,
  `variables` not an object, `operationName` not a string (also the HTTP layer's bodies
  that are not JSON objects, see schema/app.py);
- `GRAPHQL_PARSE_FAILED`: the document does not parse (syntax, the token limit);
- `GRAPHQL_VALIDATION_FAILED`: the document does not validate (unknown fields, fragments,
  arguments or types, the depth and alias limits, ...);
- `INVALID_INPUT`: a literal argument value that does not coerce to its type (an inline
  `amount: "abc"`), like a variable that does not (schema/errors.py);
- `OPERATION_NOT_FOUND`: `operationName` names no operation of the document, or the
  document has none;
- `OPERATION_NAME_REQUIRED`: several operations and no `operationName` (GraphQL spec,
  GetOperation);
- `OPERATION_NOT_SUPPORTED`: the transport does not serve that operation type
  (a subscription over plain HTTP, a mutation over GET, a query over graphql-ws).

Errors a rule or an extension raised with a code of its own keep it. The order follows the
spec: parse, validate, then choose the operation and check its type.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

import strawberry
from graphql import GraphQLError, OperationDefinitionNode, specified_rules, validate
from graphql.execution.values import get_variable_values
from graphql.validation import ASTValidationRule, ValuesOfCorrectTypeRule
from strawberry.exceptions import MissingQueryError
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.types.execution import ExecutionContext, PreExecutionError
from strawberry.types.graphql import OperationType

from domain.errors import DomainError
from schema.errors import log_errors, log_unexpected, unexpected_message

log = logging.getLogger("gavel.graphql")

BAD_REQUEST = "BAD_REQUEST"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INVALID_INPUT = "INVALID_INPUT"
OPERATION_NOT_FOUND = "OPERATION_NOT_FOUND"
OPERATION_NAME_REQUIRED = "OPERATION_NAME_REQUIRED"
OPERATION_NOT_SUPPORTED = "OPERATION_NOT_SUPPORTED"

# Refusals of the request as a whole (nothing was executed): HTTP answers them with 400
# (405 for a mutation over GET), as strawberry did, but with a JSON body.
REQUEST_REFUSALS = frozenset(
    {BAD_REQUEST, OPERATION_NOT_FOUND, OPERATION_NAME_REQUIRED, OPERATION_NOT_SUPPORTED}
)

_ALL_OPERATIONS = frozenset(OperationType)
_OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")  # a GraphQL Name, for the log


def refusal(message: str, code: str, *, like: GraphQLError | None = None) -> GraphQLError:
    """A GraphQL error with `extensions.code`; `like` lends its locations."""
    return GraphQLError(
        message,
        nodes=like.nodes if like else None,
        source=like.source if like else None,
        positions=like.positions if like else None,
        extensions={"code": code},
    )


def error_code(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else None


def request_shape_problem(query: object, variables: object, operation_name: object) -> str | None:
    """Why a request's members cannot make a GraphQL request, or None if they can."""
    if query is not None and not isinstance(query, str):
        return "The request's `query` must be a string."
    if variables is not None and not isinstance(variables, Mapping):
        return "The request's `variables` must be an object."
    if operation_name is not None and not isinstance(operation_name, str):
        return "The request's `operationName` must be a string."
    return None


class CodedValuesOfCorrectTypeRule(ValuesOfCorrectTypeRule):
    """A literal argument that does not coerce is bad input, like a variable that does not:
    `INVALID_INPUT`, or the code of the domain error the scalar raised."""

    def report_error(self, error: GraphQLError) -> None:
        original = error.original_error
        code = original.code if isinstance(original, DomainError) else INVALID_INPUT
        super().report_error(refusal(error.message, code, like=error))


def _with_coded_literals(
    rules: tuple[type[ASTValidationRule], ...],
) -> tuple[type[ASTValidationRule], ...]:
    # The same classes every time: the validation cache is keyed by the rule tuple.
    return tuple(CodedValuesOfCorrectTypeRule if r is ValuesOfCorrectTypeRule else r for r in rules)


def _unsupported_message(operation: OperationType, allowed: Iterable[OperationType]) -> str:
    if operation is OperationType.SUBSCRIPTION:
        return (
            "Subscriptions are served over a WebSocket (graphql-transport-ws or graphql-ws) "
            "or as server-sent events (Accept: text/event-stream), not as a plain request."
        )
    if operation is OperationType.MUTATION and OperationType.QUERY in allowed:
        return "Mutations must be sent with POST."
    return "Only subscriptions are served over graphql-ws; use graphql-transport-ws or HTTP."


class GavelSchema(strawberry.Schema):
    """strawberry's Schema, refusing malformed requests and documents with a coded error
    (module docstring) instead of raising or running the first operation, and logging
    each error once by its kind (schema/errors.py)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Replaces strawberry's, which logs every error, a client's mistakes included, at
        # ERROR with a traceback. Called with the errors before GavelMaskErrors masks them.
        log_errors(errors, _operation_label(execution_context))

    async def _prepare_operation_async(
        self, context: ExecutionContext, extensions_runner: SchemaExtensionsRunner
    ) -> PreExecutionError | None:
        # Overrides a strawberry internal (0.341): the one step of `execute` and `stream`
        # (so of every transport) that parses, checks the operation type and validates. It
        # raises for a missing query, an unknown operation and a type the transport does
        # not serve, and lets whatever a parsing or validation extension raises escape.
        allowed = frozenset(context.allowed_operations)
        try:
            return await self._refusal(context, extensions_runner, allowed)
        except Exception as exc:
            return _refuse(context, _exception_refusal(self, context, exc))
        finally:
            context.allowed_operations = allowed

    async def _refusal(
        self,
        context: ExecutionContext,
        extensions_runner: SchemaExtensionsRunner,
        allowed: frozenset[OperationType],
    ) -> PreExecutionError | None:
        problem = request_shape_problem(
            context.query, context.variables, _provided_operation_name(context)
        )
        if problem is not None:
            return _refuse(context, refusal(problem, BAD_REQUEST))
        context.allowed_operations = _ALL_OPERATIONS  # the type is checked after validation
        context.validation_rules = _with_coded_literals(context.validation_rules)
        failed = await super()._prepare_operation_async(context, extensions_runner)
        context.allowed_operations = allowed
        if failed is not None:
            parsed = context.graphql_document is not None
            return _refuse(
                context, *(_document_refusal(e, parsed=parsed) for e in failed.errors or ())
            )
        if _several_operations(context) and _provided_operation_name(context) is None:
            return _refuse(
                context,
                refusal(
                    "Must provide operation name if query contains multiple operations.",
                    OPERATION_NAME_REQUIRED,
                ),
            )
        operation = context.operation_type
        if operation not in allowed:
            # Variables are coerced before an operation runs, whatever the transport: a
            # bad one is answered as such everywhere, also where the type is not served.
            # (Only here: on the normal path graphql-core coerces them, once.)
            bad_variables = _variable_errors(self, context)
            if bad_variables:
                return _refuse(context, *bad_variables)
            message = _unsupported_message(operation, allowed)
            return _refuse(context, refusal(message, OPERATION_NOT_SUPPORTED))
        return None


def _operation_label(context: ExecutionContext | None) -> str | None:
    """The operation's name for the log, if it is a well-formed one (never the client's
    arbitrary text)."""
    name = context.operation_name if context is not None else None
    return name if isinstance(name, str) and _OPERATION_NAME.fullmatch(name) else None


def _refuse(context: ExecutionContext, *errors: GraphQLError) -> PreExecutionError:
    context.pre_execution_errors = list(errors)
    return PreExecutionError(data=None, errors=list(errors))


def _provided_operation_name(context: ExecutionContext) -> object:
    # strawberry internal (0.341): `operation_name` falls back to the first operation's
    # name; only the provided one tells whether the client chose.
    return getattr(context, "_provided_operation_name", None)


def _several_operations(context: ExecutionContext) -> bool:
    document = context.graphql_document
    assert document is not None
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions) > 1


def _variable_errors(schema: GavelSchema, context: ExecutionContext) -> list[GraphQLError]:
    document, name = context.graphql_document, context.operation_name
    assert document is not None
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name is not None and definition.name.value == name)
        ):
            coerced = get_variable_values(
                schema._schema, definition.variable_definitions or (), context.variables or {}, 50
            )
            if isinstance(coerced, list):
                return [refusal(e.message, INVALID_INPUT, like=e) for e in coerced]
            return []
    return []


def _document_refusal(error: GraphQLError, *, parsed: bool) -> GraphQLError:
    """A parse or validation error strawberry returned, with its code."""
    if error_code(error) is not None:
        return error  # coded where it was raised: a limit, a literal's coercion
    if (
        not parsed
        and error.original_error is not None
        and not isinstance(error.original_error, GraphQLError)
    ):
        # The parser itself failed (not a syntax error): keep its text from the client.
        log.warning("the parser failed: %r", error.original_error)
        return refusal("The document could not be parsed.", PARSE_FAILED)
    return refusal(error.message, PARSE_FAILED if not parsed else VALIDATION_FAILED, like=error)


def _exception_refusal(
    schema: GavelSchema, context: ExecutionContext, exc: Exception
) -> GraphQLError:
    if isinstance(exc, MissingQueryError):
        return refusal("The request has no GraphQL document in `query`.", BAD_REQUEST)
    if isinstance(exc, CannotGetOperationTypeError):
        name = _provided_operation_name(context)
        if name is None:
            return refusal("The document contains no operation.", OPERATION_NOT_FOUND)
        return refusal(f"Unknown operation named '{name}'.", OPERATION_NOT_FOUND)
    document = context.graphql_document
    if isinstance(exc, GraphQLError):
        return _document_refusal(exc, parsed=document is not None)
    if document is None:
        log.warning("the parser failed: %r", exc)
        return refusal("The document could not be parsed.", PARSE_FAILED)
    # A validation rule crashed. The specified rules alone say what is wrong with the
    # document; if nothing is, the crash is ours.
    try:
        found = validate(schema._schema, document, specified_rules)
    except Exception:
        found = []
    if found:
        log.info("a validation rule failed on an invalid document: %r", exc)
        return _document_refusal(found[0], parsed=True)
    error_id = log_unexpected(exc, "(validation)")
    return GraphQLError(
        unexpected_message(error_id), extensions={"code": "INTERNAL", "errorId": error_id}
    )
