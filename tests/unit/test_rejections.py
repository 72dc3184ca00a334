"""The rejection catalogue (domain/rejections.py) holds every code a script can return."""

from __future__ import annotations

import re
from pathlib import Path

from domain.rejections import DETAILS, MESSAGES, BidRejection

LUA = Path(__file__).resolve().parents[2] / "realtime" / "lua"
# reject('REASON'[, minimum[, 'DETAIL']]) in the scripts, one call a line, and the shared
# rule functions' refusals (common.lua): return false, 'REASON'[, minimum[, 'DETAIL']].
REJECT = re.compile(r"(?:reject\(|return false, )'([A-Z_]+)'([^\n]*)")
QUOTED = re.compile(r"'([A-Z_]+)'")


def _script_codes() -> tuple[set[str], set[str]]:
    reasons: set[str] = set()
    details: set[str] = set()
    for script in LUA.glob("*.lua"):
        for reason, rest in REJECT.findall(script.read_text()):
            reasons.add(reason)
            details.update(QUOTED.findall(rest.split("reject(")[0]))
    return reasons, details


def test_every_code_a_script_returns_is_in_the_catalogue():
    reasons, details = _script_codes()
    assert reasons, "no reject(...) found: the pattern no longer matches the scripts"
    assert reasons <= {r.value for r in BidRejection}, reasons - set(BidRejection)
    assert {"CEILING_NOT_RAISED", "NO_BUY_NOW"} <= details, details  # the pattern still reads
    assert details <= set(DETAILS), details - set(DETAILS)


def test_every_reason_has_a_message():
    assert set(MESSAGES) == {r.value for r in BidRejection}
