"""The top-level packages are ours: nothing installed may shadow them, nor they it."""

from __future__ import annotations

import importlib
import importlib.metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = [
    "schema",
    "resolvers",
    "domain",
    "realtime",
    "admin_ui",
    "storage",
    "services",
    "adapters",
    "seeds",
    "devservers",
    "settings",
    "gavel_app",
]


def test_top_level_names_resolve_to_this_repository():
    for name in OURS:
        module = importlib.import_module(name)
        assert Path(module.__file__ or "").resolve().is_relative_to(ROOT), name


def test_no_installed_distribution_claims_our_names():
    claimed = importlib.metadata.packages_distributions()
    foreign = {
        name: claimed[name] for name in OURS if name in claimed and set(claimed[name]) != {"gavel"}
    }
    assert foreign == {}, f"installed packages also provide: {foreign}"
