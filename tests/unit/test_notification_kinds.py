"""Every notification kind the code creates is a known kind (services/notifications/
preferences.py `KINDS`): a user can set its email preference, and docs/notifications.md
lists it. The creation sites are found in the source, so a new one cannot be missed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from services.notifications.preferences import EMAIL_DEFAULTS, KINDS

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("services", "realtime", "storage", "resolvers", "adapters", "domain")
KIND = re.compile(r"^[A-Z][A-Z_]+$")
# Functions that take a notification kind as their first string argument.
CREATORS = {"notify", "notify_both", "notify_each", "_note"}


def _kinds_in(node: ast.AST) -> set[str]:
    """Upper-case string constants anywhere in `node` (a literal or `"A" if c else "B"`)."""
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and KIND.match(n.value)
    }


def _created_kinds(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "NewNotification":
                found |= {k for kw in node.keywords if kw.arg == "kind" for k in _kinds_in(kw)}
            elif name in CREATORS:
                found |= {k for arg in node.args for k in _kinds_in(arg)}
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Dict)
            and any(getattr(t, "id", "") == "_MESSAGES" for t in node.targets)
        ):
            # realtime/recompute_records.py's messages, keyed by kind
            found |= {k for key in node.value.keys if key for k in _kinds_in(key)}
    return found


def created_kinds() -> dict[str, set[str]]:
    sites: dict[str, set[str]] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for kind in _created_kinds(ast.parse(path.read_text(), str(path))):
                sites.setdefault(kind, set()).add(str(path.relative_to(ROOT)))
    return sites


def test_every_created_kind_is_a_known_kind():
    sites = created_kinds()
    # The scan finds the creation sites it must (a broken scan would pass vacuously).
    assert {"OUTBID", "AUCTION_WON", "PAYMENT_AUTHORIZED", "BIDS_VOIDED"} <= set(sites)
    unknown = {kind: where for kind, where in sites.items() if kind not in KINDS}
    assert not unknown, f"notification kinds missing from preferences.EMAIL_DEFAULTS: {unknown}"


def test_every_known_kind_is_documented():
    doc = (ROOT / "docs" / "notifications.md").read_text()
    missing = [kind for kind in EMAIL_DEFAULTS if f"`{kind}`" not in doc]
    assert not missing, f"kinds missing from docs/notifications.md: {missing}"
