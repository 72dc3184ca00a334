"""The flags an assessment opens, as stored in `fraud_flags` (docs/fraud.md): one per
signal at the flag threshold, and a `combined_score` flag when the account is held.
The scorer (services/fraud/scorer.py) and the demo seeds (seeds/fraud_flags.py) both
write these, so the admin queue reads one shape."""

from __future__ import annotations

from typing import Any

from domain.fraud.assess import Assessment
from domain.fraud.rules import FraudPolicy
from domain.fraud.signals import Signal, strongest_per_rule

COMBINED_RULE = "combined_score"


def flags_of(
    found: Assessment, policy: FraudPolicy, *, held: bool, holds: bool
) -> list[tuple[Signal, dict[str, Any]]]:
    """(signal, details) per flag. `details`: `signals` (the flag's own first, then the
    strongest of each other rule: each listed once), `total`, `held` (the account is or
    is being held), `flag_threshold`, `hold_threshold`. `holds`: this assessment puts
    the account on hold, which adds the `combined_score` flag (its `signals`: the
    strongest of every rule)."""
    strongest = [s.as_json() for s in strongest_per_rule(found.signals)]
    context: dict[str, Any] = {
        "total": found.total,
        "held": holds or held,
        "flag_threshold": policy.flag_threshold,
        "hold_threshold": policy.hold_threshold,
    }
    flags: list[tuple[Signal, dict[str, Any]]] = []
    for signal in found.flags(policy):
        others = [s for s in strongest if s["rule"] != signal.rule]
        flags.append((signal, {**context, "signals": [signal.as_json(), *others]}))
    if holds:
        combined = Signal(
            rule=COMBINED_RULE,
            score=found.total,
            explanation=(
                f"combined score {found.total} reached the hold threshold {policy.hold_threshold}"
            ),
        )
        flags.append((combined, {**context, "signals": strongest}))
    return flags
