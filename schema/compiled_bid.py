"""`placeBid` and `buyNow` without graphql-core's per-request execution.

Bidding is the hot write path, and the generic path spends most of a bid's time in
machinery that is the same for every bid: strawberry's request handling and extension
hooks, graphql-core's execution of the selection set, result post-processing. A
document that only asks for `placeBid` (or `buyNow`) and fields of its result is
compiled once into a plan (cached by its text): which arguments come from which
variables, and which fields, under which response keys, each result type renders. A
request with such a document is then decided by the same use case the resolver calls
(`services.bidding.place_bid`) and its plan renders the answer.

Anything else takes the normal path, unchanged: other documents, fields the plans do
not know (e.g. `auction { … }` of an accepted bid), directives, named fragments, batches,
streaming requests, and every request that fails before the use case runs (no or bad
token, variables that do not coerce, an invalid id): nothing has happened yet, so the
normal path answers it in full, errors included. Once the use case has run, its answer
(or its `DomainError`) is rendered here: never run twice.

Equivalence with the normal path is a test (tests/api/test_compiled_bid.py): the same
requests answered with this path on and off give the same bodies.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    Undefined,
    VariableNode,
    parse,
    validate,
    value_from_ast,
)
from graphql.execution.values import get_variable_values
from graphql.validation import ASTValidationRule, specified_rules

from domain.errors import DomainError
from domain.money import to_decimal
from services import bidding
from services.deps import Deps
from storage.tables import User

log = logging.getLogger("gavel.graphql")

ROOT_FIELDS = ("placeBid", "buyNow")
PLANS_KEPT = 256
MAX_DOCUMENT = 4_000  # characters; longer documents are not compiled


@dataclass(frozen=True, slots=True)
class _Money:
    minor: int
    currency: str


Getter = Callable[[Any], Any]


def _getters(schema: GraphQLSchema) -> dict[str, dict[str, Getter]]:
    """What each supported field of each result type reads, serialized as the schema does."""
    decimal = schema.get_type("Decimal")
    moment = schema.get_type("DateTime")
    assert isinstance(decimal, GraphQLScalarType) and isinstance(moment, GraphQLScalarType)

    def money(minor: int | None, currency: str) -> _Money | None:
        return None if minor is None else _Money(minor, currency)

    return {
        "BidAccepted": {
            "__typename": lambda _: "BidAccepted",
            "leading": lambda a: a.leading,
            "bid": lambda a: a.bid,
        },
        # The viewer placed this bid, so its amount is never hidden from them.
        "Bid": {
            "__typename": lambda _: "Bid",
            "id": lambda b: str(b.id),
            "sequence": lambda b: b.sequence,
            "placedAt": lambda b: moment.serialize(b.placed_at),
            "amount": lambda b: money(b.amount, b.currency),
        },
        "BidRejected": {
            "__typename": lambda _: "BidRejected",
            "reason": lambda r: r.reason,
            "message": lambda r: r.message,
            "minimumNextBid": lambda r: money(r.minimum_next_bid, r.currency),
        },
        "Money": {
            "__typename": lambda _: "Money",
            "amount": lambda m: decimal.serialize(to_decimal(m.minor, m.currency)),
            "currency": lambda m: m.currency,
        },
    }


CHILDREN = {("BidAccepted", "bid"): "Bid", ("Bid", "amount"): "Money"}
CHILDREN[("BidRejected", "minimumNextBid")] = "Money"

# (response key, getter, child plan or None)
Plan = tuple[tuple[str, Getter, "Plan | None"], ...]


class Unsupported(Exception):
    """The document needs the normal path."""


@dataclass(frozen=True, slots=True)
class CompiledBid:
    document: DocumentNode
    operation: OperationDefinitionNode
    field: FieldNode
    key: str  # the response key of placeBid/buyNow
    buy_now: bool
    arguments: dict[str, tuple[bool, Any]]  # name -> (from a variable?, variable name | value)
    accepted: Plan
    rejected: Plan


class Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        rules: list[type[ASTValidationRule]],
        *,
        max_tokens: int | None = None,
    ) -> None:
        self.schema = schema
        self.max_tokens = max_tokens
        self.rules = [*specified_rules, *rules]
        self.getters = _getters(schema)
        self.cache: OrderedDict[tuple[str, str | None], CompiledBid | None] = OrderedDict()

    def plan(self, query: str, operation_name: str | None) -> CompiledBid | None:
        if "placeBid" not in query and "buyNow" not in query:
            return None  # most documents: not even worth a parse
        key = (query, operation_name)
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        try:
            compiled: CompiledBid | None = self._compile(query, operation_name)
        except Unsupported:
            compiled = None
        self.cache[key] = compiled
        while len(self.cache) > PLANS_KEPT:
            self.cache.popitem(last=False)
        return compiled

    def _compile(self, query: str, operation_name: str | None) -> CompiledBid:
        if len(query) > MAX_DOCUMENT:
            raise Unsupported
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            raise Unsupported from None
        if len(document.definitions) != 1 or validate(self.schema, document, self.rules):
            raise Unsupported
        operation = document.definitions[0]
        if (
            not isinstance(operation, OperationDefinitionNode)
            or operation.operation is not OperationType.MUTATION
            or operation.directives
            or (operation_name is not None and operation.name is None)
            or (operation.name is not None and operation_name not in (None, operation.name.value))
            or len(operation.selection_set.selections) != 1
        ):
            raise Unsupported
        field = operation.selection_set.selections[0]
        if (
            not isinstance(field, FieldNode)
            or field.directives
            or field.name.value not in ROOT_FIELDS
        ):
            raise Unsupported
        mutation = self.schema.mutation_type
        assert mutation is not None
        definition = mutation.fields[field.name.value]
        arguments: dict[str, tuple[bool, Any]] = {}
        for argument in field.arguments or ():
            if isinstance(argument.value, VariableNode):
                arguments[argument.name.value] = (True, argument.value.name.value)
                continue
            value = value_from_ast(argument.value, definition.args[argument.name.value].type)
            if value is Undefined:
                raise Unsupported
            arguments[argument.name.value] = (False, value)
        selections = field.selection_set.selections if field.selection_set else ()
        return CompiledBid(
            document=document,
            operation=operation,
            field=field,
            key=field.alias.value if field.alias else field.name.value,
            buy_now=field.name.value == "buyNow",
            arguments=arguments,
            accepted=self._object("BidAccepted", self._on("BidAccepted", selections)),
            rejected=self._object("BidRejected", self._on("BidRejected", selections)),
        )

    def _on(self, type_name: str, selections: tuple[SelectionNode, ...]) -> list[SelectionNode]:
        """The union's selections that apply to one member type, fragments flattened."""
        applied: list[SelectionNode] = []
        for selection in selections:
            if selection.directives:
                raise Unsupported
            if isinstance(selection, FieldNode):
                applied.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or condition.name.value == type_name:
                    applied.extend(self._on(type_name, selection.selection_set.selections))
            else:
                raise Unsupported  # named fragments
        return applied

    def _object(self, type_name: str, selections: list[SelectionNode]) -> Plan:
        getters = self.getters[type_name]
        plan: list[tuple[str, Getter, Plan | None]] = []
        keys: set[str] = set()
        for selection in selections:
            if not isinstance(selection, FieldNode) or selection.directives:
                raise Unsupported
            name = selection.name.value
            key = selection.alias.value if selection.alias else name
            if name not in getters or key in keys:
                raise Unsupported  # a field of its own, or one to merge: the normal path
            keys.add(key)
            child_type = CHILDREN.get((type_name, name))
            child = None
            if child_type is not None:
                assert selection.selection_set is not None
                child = self._object(
                    child_type, self._on(child_type, selection.selection_set.selections)
                )
            plan.append((key, getters[name], child))
        return tuple(plan)


def render(plan: Plan, source: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, getter, child in plan:
        value = getter(source)
        out[key] = render(child, value) if child is not None and value is not None else value
    return out


@dataclass(frozen=True, slots=True)
class Call:
    """A compiled request whose arguments coerced: ready to run the use case."""

    compiled: CompiledBid
    auction_id: uuid.UUID
    amount: Any
    max_amount: Any
    idempotency_key: str | None


def prepare(schema: GraphQLSchema, compiled: CompiledBid, variables: Any) -> Call | None:
    """The call this request makes, or None if its variables or id need the normal path
    (which reports the error)."""
    if variables is not None and not isinstance(variables, dict):
        return None
    definitions = compiled.operation.variable_definitions or ()
    values = get_variable_values(schema, definitions, variables or {})
    if isinstance(values, list):
        return None  # coercion errors
    coerced = values.coerced

    def argument(name: str) -> Any:
        if name not in compiled.arguments:
            return None  # every optional argument defaults to null
        from_variable, value = compiled.arguments[name]
        return coerced.get(value) if from_variable else value

    try:
        auction_id = uuid.UUID(str(argument("auctionId")))
    except ValueError:
        return None
    return Call(
        compiled,
        auction_id,
        argument("amount"),
        argument("maxAmount"),
        argument("idempotencyKey"),
    )


async def run(deps: Deps, viewer: User, call: Call, *, ip: str | None = None) -> dict[str, Any]:
    """Run the use case once and render its answer (or its error) as the response body."""
    compiled = call.compiled
    try:
        outcome = await bidding.place_bid(
            deps,
            viewer,
            call.auction_id,
            call.amount,
            call.max_amount,
            call.idempotency_key,
            buy_now=compiled.buy_now,
            ip=ip,
        )
    except DomainError as err:
        return _error(compiled, err.message, err, {"code": err.code, **_field(err)})
    except Exception as err:
        error_id = uuid.uuid4().hex[:12]
        log.error("unexpected error id=%s path=%s", error_id, [compiled.key], exc_info=err)
        message = f"Unexpected error (id {error_id}); it has been logged."
        return _error(compiled, message, None, {"code": "INTERNAL", "errorId": error_id})
    if isinstance(outcome, bidding.Rejected):
        return {"data": {compiled.key: render(compiled.rejected, outcome)}}
    return {"data": {compiled.key: render(compiled.accepted, outcome)}}


def _field(err: DomainError) -> dict[str, str]:
    return {"field": err.field} if err.field else {}


def _error(
    compiled: CompiledBid, message: str, original: Exception | None, extensions: dict[str, Any]
) -> dict[str, Any]:
    # As the normal path reports it (schema/errors.py): the non-null result nulls `data`.
    error = GraphQLError(
        message,
        nodes=[compiled.field],
        path=[compiled.key],
        original_error=original,
        extensions=extensions,
    )
    return {"data": None, "errors": [error.formatted]}
