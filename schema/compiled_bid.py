"""`placeBid` and `buyNow` without graphql-core's per-request execution.

Bidding is the hot write path, and the generic path spends most of a bid's time in
machinery that is the same for every bid: strawberry's request handling and extension
hooks, graphql-core's execution of the selection set, result post-processing. A
document that only asks for `placeBid` (or `buyNow`) and fields of its result is
compiled once into a plan (cached by its text): which arguments come from which
variables, and which fields, under which response keys, each result type renders. A
request with such a document is then decided by the same use case the resolver calls
(`services.bidding.place_bid`) and its plan renders the answer.

The compiler is conservative: a document is compiled only if it validates under the
normal path's rules and limits, names one mutation operation the way graphql-core would
pick it, and selects only what the plans render. Selections are collected as
graphql-core's execution collects them (fragments named or inline, type conditions on
the union or a member, each named fragment once, fields merged by response key in
first-seen order, `@skip`/`@include` with literal conditions). Anything else takes the
normal path, unchanged: malformed documents (the normal path reports them), other
documents, fields the plans do not know (e.g. `auction { … }` of an accepted bid), other
directives or conditions on variables, batches, streaming requests, and every request
that fails before the use case runs (no or bad token, variables that do not coerce, an
invalid id): nothing has happened yet, so the normal path answers it in full, errors
included. Once the use case has run, its answer
(or its `DomainError`) is rendered here: never run twice.

Equivalence with the normal path is a test (tests/api/test_compiled_bid.py): the same
requests, and generated selection sets, answered with this path on and off give the
same bodies; malformed documents are never answered here.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    Undefined,
    VariableNode,
    is_abstract_type,
    parse,
    validate,
    value_from_ast,
)
from graphql.execution.values import get_variable_values
from graphql.validation import ASTValidationRule, specified_rules
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from domain.errors import DomainError
from domain.money import to_decimal
from domain.text import first_unstorable, is_storable
from resolvers.common import parse_id
from schema.errors import log_client_error, log_unexpected, unexpected_message
from schema.null_variables import non_null_variables
from services import bidding
from services.deps import Deps
from services.unavailable import unavailable
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
        # The viewer placed this bid: its amount is their own, never hidden from them
        # (domain/public_state.py `bid_amount_visible(..., own=True)`), so nothing is
        # decided per request. An accepted bid's `auction { … }`, whose public state
        # (domain/public_state.py) needs the live slot, takes the normal path.
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
    required: frozenset[str]  # variables used where null is not allowed (null_variables)


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
        # The generic path's rules: graphql-core's, strawberry's own and our limits.
        self.rules = [*specified_rules, *rules, MaybeNullValidationRule, OneOfInputValidationRule]
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
        except Exception:
            # A fault of ours: the generic path still answers the request as if we had
            # never looked at it.
            log.exception("compiling a bid document failed; the generic path answers it")
            compiled = None
        self.cache[key] = compiled
        while len(self.cache) > PLANS_KEPT:
            self.cache.popitem(last=False)
        return compiled

    def _compile(self, query: str, operation_name: str | None) -> CompiledBid:
        """The plan of a document that validates, under the same rules as the generic
        path, and that only uses what the plans know; `Unsupported` for anything else,
        malformed documents included (the generic path reports them)."""
        if len(query) > MAX_DOCUMENT:
            raise Unsupported
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            raise Unsupported from None
        if validate(self.schema, document, self.rules):
            raise Unsupported
        operation = _operation(document, operation_name)
        fragments = _fragments(document)
        if (
            operation.operation is not OperationType.MUTATION
            or operation.directives
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
            if value is Undefined or (isinstance(value, str) and not is_storable(value)):
                raise Unsupported  # the generic path reports it (schema/text_guard.py)
            arguments[argument.name.value] = (False, value)
        return CompiledBid(
            document=document,
            operation=operation,
            field=field,
            key=field.alias.value if field.alias else field.name.value,
            buy_now=field.name.value == "buyNow",
            arguments=arguments,
            accepted=self._object("BidAccepted", [field], fragments),
            rejected=self._object("BidRejected", [field], fragments),
            required=non_null_variables(
                self.schema, document, operation.name.value if operation.name else None
            ),
        )

    def _object(
        self, type_name: str, nodes: list[FieldNode], fragments: dict[str, FragmentDefinitionNode]
    ) -> Plan:
        """The plan rendering `type_name` for the merged selections of `nodes`, as
        graphql-core's execution collects them (response keys in first-seen order)."""
        runtime = self.schema.get_type(type_name)
        assert isinstance(runtime, GraphQLObjectType)
        grouped: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        for node in nodes:
            if node.selection_set is not None:
                self._collect(runtime, node.selection_set, fragments, grouped, visited)
        getters = self.getters[type_name]
        plan: list[tuple[str, Getter, Plan | None]] = []
        for key, group in grouped.items():
            name = group[0].name.value
            if name not in getters:
                raise Unsupported  # a field of its own (e.g. `auction`): the normal path
            child_type = CHILDREN.get((type_name, name))
            child = None if child_type is None else self._object(child_type, group, fragments)
            plan.append((key, getters[name], child))
        return tuple(plan)

    def _collect(
        self,
        runtime: GraphQLObjectType,
        selection_set: SelectionSetNode,
        fragments: dict[str, FragmentDefinitionNode],
        grouped: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if not _included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, runtime):
                    self._collect(runtime, selection.selection_set, fragments, grouped, visited)
            else:
                assert isinstance(selection, FragmentSpreadNode)
                name = selection.name.value
                fragment = fragments[name]  # validated: it exists, without cycles
                if name in visited or not self._applies(fragment.type_condition, runtime):
                    continue
                visited.add(name)  # graphql-core collects a named fragment once
                self._collect(runtime, fragment.selection_set, fragments, grouped, visited)

    def _applies(self, condition: NamedTypeNode | None, runtime: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        conditional = self.schema.get_type(condition.name.value)
        if conditional is runtime:
            return True
        return is_abstract_type(conditional) and self.schema.is_sub_type(conditional, runtime)


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    """The operation the request names, as graphql-core picks it; `Unsupported` where
    graphql-core reports an error (none, unknown, or several without a name)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        if len(operations) != 1:
            raise Unsupported
        return operations[0]
    for operation in operations:
        if operation.name is not None and operation.name.value == name:
            return operation
    raise Unsupported


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            if definition.variable_definitions:
                raise Unsupported  # experimental fragment arguments
            fragments[definition.name.value] = definition
    return fragments


def _included(selection: SelectionNode) -> bool:
    """@skip/@include with literal conditions, decided once; any other directive, or a
    condition from a variable, needs the normal path."""
    included = True
    for directive in selection.directives or ():
        name = directive.name.value
        arguments = directive.arguments or ()
        if name not in ("skip", "include") or len(arguments) != 1:
            raise Unsupported
        value = arguments[0].value
        if not isinstance(value, BooleanValueNode):
            raise Unsupported
        if value.value == (name == "skip"):
            included = False
    return included


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
    if variables and first_unstorable(variables) is not None:
        return None  # the generic path refuses it (schema/text_guard.py)
    if variables and any(variables.get(name, 0) is None for name in compiled.required):
        return None  # the generic path refuses it (schema/null_variables.py)
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
        auction_id = parse_id(argument("auctionId"), "auctionId")  # the resolver's rule
    except DomainError:
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
        name = compiled.operation.name
        log_client_error(err.code, name.value if name else None, [compiled.key], err.message)
        return _error(compiled, err.message, err, {"code": err.code, **_field(err)})
    except Exception as err:
        down = unavailable(err)
        if down is not None:  # as the error masking answers it (schema/errors.py)
            log.warning("dependency unavailable path=%s: %r", [compiled.key], err)
            return _error(compiled, down.message, err, down.extensions)
        error_id = log_unexpected(err, "(compiled bid)", [compiled.key])
        message = unexpected_message(error_id)
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
