"""Strict scalars that replace strawberry's lenient defaults (issue 12 item 4).

strawberry's Decimal takes anything Python's Decimal() takes, numbers included ("1_000",
Arabic-Indic digits, "1e1", `100.5`, the JSON number 100.000000000000001 already rounded
to a float), and its DateTime takes offsets that overflow when PostgreSQL converts them
to UTC. Refusals are coercion errors, answered as GraphQL errors with code INVALID_INPUT
(schema/errors.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import dateutil.parser
from graphql import GraphQLError, StringValueNode, ValueNode
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

from domain.errors import ValidationFailed
from domain.money import parse_decimal


def parse_decimal_value(value: object) -> Decimal:
    """A variable's Decimal: a plain decimal string (domain.money.parse_decimal) or a refusal."""
    try:
        return parse_decimal(value, field="Decimal")
    except ValidationFailed as err:
        raise StrawberryInputCoercionError(err.message) from None


def parse_decimal_literal(node: ValueNode, _variables: Any = None) -> Decimal:
    """An inline Decimal: only a string literal; `100.5` and `100` are refused like floats.

    graphql-core reports a literal's GraphQLError as it is, so the code goes on it here;
    a variable's refusal is wrapped instead and coded by schema/errors.py."""
    try:
        if not isinstance(node, StringValueNode):
            raise ValidationFailed('Decimal must be written as a string, like "12.50"')
        return parse_decimal(node.value, field="Decimal")
    except ValidationFailed as err:
        raise GraphQLError(err.message, node, extensions={"code": "INVALID_INPUT"}) from None


def parse_datetime_value(value: object) -> datetime:
    """An ISO 8601 date-time whose instant PostgreSQL can store (convertible to UTC)."""
    if not isinstance(value, str):
        raise StrawberryInputCoercionError("DateTime must be an ISO 8601 string")
    try:
        moment: datetime = dateutil.parser.isoparse(value)
        if moment.tzinfo is not None:
            moment.astimezone(UTC)  # year 1 at +14:00 or 9999-12-31 at -14:00 overflows
    except (ValueError, OverflowError):
        # The value is not echoed: it may hold characters no JSON encoder accepts.
        raise StrawberryInputCoercionError(
            "DateTime must be an ISO 8601 date-time within years 1-9999 in UTC"
        ) from None
    return moment


StrictDecimal = ScalarDefinition(
    name="Decimal",
    description="Decimal (fixed-point)",
    specified_by_url=None,
    serialize=str,
    parse_value=parse_decimal_value,
    parse_literal=parse_decimal_literal,
    origin=Decimal,
)

StrictDateTime = ScalarDefinition(
    name="DateTime",
    description="Date with time (isoformat)",
    specified_by_url=None,
    serialize=datetime.isoformat,
    parse_value=parse_datetime_value,
    parse_literal=None,
    origin=datetime,
)

SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {
    Decimal: StrictDecimal,
    datetime: StrictDateTime,
}
