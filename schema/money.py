"""Money on the wire: a Decimal amount (as a string) and its currency."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from domain.money import to_decimal


@strawberry.type
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, minor: int | None, currency: str) -> Money | None:
        return None if minor is None else cls(amount=to_decimal(minor, currency), currency=currency)
