"""The signals a fraud rule stored in a flag's `details`, read back for people: the
GraphQL `FraudFlag.signals` (schema/admin_types.py) and the admin app's fraud queue
(admin_ui/pages/fraud.py) both show them.

`details["signals"]` is a list of objects `{name or rule, value?, weight or score?,
explanation?, evidence?, auction_id?}` or a mapping name -> value; `details["signal"]` is
one such object, as services/fraud writes it. Anything else is skipped rather than failing
an admin's page; numbers that are not finite are dropped (GraphQL's Float has none).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoredSignal:
    name: str
    value: float | None
    weight: float | None  # what it adds to the flag's score (0-100), if recorded
    explanation: str | None
    evidence: dict[str, Any] | None  # the numbers and ids the rule based it on
    auction_id: uuid.UUID | None


def stored_signals(details: dict[str, Any]) -> list[StoredSignal]:
    raw = details.get("signals")
    if isinstance(raw, dict):
        raw = [{"name": k, "value": v} for k, v in raw.items()]
    items = list(raw) if isinstance(raw, list) else []
    if isinstance(details.get("signal"), dict):
        items.append(details["signal"])
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        name = item.get("name", item.get("rule"))
        if not isinstance(name, str):
            continue
        explanation = item.get("explanation")
        evidence = item.get("evidence")
        out.append(
            StoredSignal(
                name=name,
                value=finite_number(item.get("value")),
                weight=finite_number(item.get("weight", item.get("score"))),
                explanation=explanation if isinstance(explanation, str) else None,
                evidence=evidence if isinstance(evidence, dict) else None,
                auction_id=_uuid(item.get("auction_id")),
            )
        )
    return out


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def finite_number(value: Any) -> float | None:
    """`value` as a float when it is a finite number (or a bool), else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None
