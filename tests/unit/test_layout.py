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
    "background_loops",
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


def _imported_packages(package: str) -> dict[str, set[str]]:
    """Top-level names each module of `package` imports (module path -> names)."""
    import ast

    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_the_domain_imports_only_the_domain_and_the_standard_library():
    import sys

    allowed = set(sys.stdlib_module_names) | {"domain"}
    offenders = {
        module: sorted(names - allowed)
        for module, names in _imported_packages("domain").items()
        if names - allowed
    }
    assert offenders == {}, f"domain/ must know nothing of frameworks or adapters: {offenders}"


def test_no_lower_layer_imports_the_api_layers():
    # GraphQL (schema/, resolvers/) sits on top: the use cases and the live machinery
    # never import it, so a second front end (the admin app) can call them as they are.
    api = {"schema", "resolvers", "admin_ui", "gavel_app"}
    offenders = {
        module: sorted(names & api)
        for package in ("domain", "services", "realtime", "storage", "adapters")
        for module, names in _imported_packages(package).items()
        if names & api
    }
    assert offenders == {}, f"these import the API layer: {offenders}"


def test_the_live_machinery_does_not_import_the_use_cases():
    # services/ (the use cases) drive realtime/ (slots, events, persister, scheduler); the
    # other way round would tie the two into one knot: the use cases reach the live
    # machinery only through the ports the composition root passes in (services/deps.py).
    offenders = {
        module: sorted(names & {"services"})
        for module, names in _imported_packages("realtime").items()
        if "services" in names
    }
    assert offenders == {}, f"realtime/ must not import services/: {offenders}"
