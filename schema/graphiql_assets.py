"""GraphiQL's browser assets, pinned, and the setup step that fetches them.

GraphiQL's page (schema/graphiql.py) loads its scripts and styles from the app itself, so it
works on a machine without internet. They come from the npm registry, fetched by
`python -m schema.graphiql_assets` (run by `make venv`, so by `make run` and `make test`)
with npm's own client (`npm pack`, no install, no scripts), each tarball checked against the
sha512 pinned here, into `vendor/graphiql/` (git-ignored). Beside the files it writes
`NOTICE` (each package, version and licence) and each package's licence text.

The versions are the ones strawberry's own GraphiQL page loads from a CDN.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "vendor" / "graphiql"
# Written last: its presence (and content) says the folder holds exactly these pins.
PINS_FILE = "PINS"


@dataclass(frozen=True)
class Package:
    """One npm package: `files` maps a path inside its tarball to the name served."""

    name: str
    version: str
    integrity: str  # the npm registry's `dist.integrity` of the tarball
    licence: str
    files: tuple[tuple[str, str], ...]
    licence_file: str | None = "package/LICENSE"

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


PACKAGES = (
    Package(
        "react",
        "18.2.0",
        "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",
        "MIT",
        (("package/umd/react.production.min.js", "react.production.min.js"),),
    ),
    Package(
        "react-dom",
        "18.2.0",
        "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==",
        "MIT",
        (("package/umd/react-dom.production.min.js", "react-dom.production.min.js"),),
    ),
    Package(
        "graphiql",
        "3.8.3",
        "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
        "MIT",
        (
            ("package/graphiql.min.js", "graphiql.min.js"),
            ("package/graphiql.min.css", "graphiql.min.css"),
        ),
    ),
    Package(
        "@graphiql/plugin-explorer",
        "1.0.2",
        "sha512-9j+kg2UjtLZD5EBmGjeWHkoVVxtbShYg2DzbUVebibnZYZM/iMBEF4vaccXJIAm5KaomIPLx0aoNs4LbODyc3Q==",
        # Its tarball has no LICENSE file; it is part of the graphiql repository, whose
        # MIT licence (LICENSE-graphiql) its package.json names.
        "MIT (the graphiql project's licence, LICENSE-graphiql)",
        (
            ("package/dist/index.umd.js", "plugin-explorer.umd.js"),
            ("package/dist/style.css", "plugin-explorer.css"),
        ),
        licence_file=None,
    ),
)

SERVED = frozenset(name for package in PACKAGES for _, name in package.files)


class FetchError(RuntimeError):
    pass


def pins_text() -> str:
    return "".join(f"{p.spec} {p.integrity}\n" for p in PACKAGES)


def present(directory: Path = ASSETS_DIR) -> bool:
    """True when `directory` holds every served file of exactly the pinned versions."""
    pins = directory / PINS_FILE
    return pins.is_file() and pins.read_text() == pins_text()


def licence_name(package: Package) -> str:
    return "LICENSE-" + package.name.rsplit("/", 1)[-1]


def _notice() -> str:
    lines = [
        "GraphiQL's browser assets, served by Gavel at /graphiql/static/.",
        "Fetched from the npm registry by `python -m schema.graphiql_assets` (make venv).",
        "",
    ]
    for p in PACKAGES:
        licence = f"see {licence_name(p)}" if p.licence_file else "see LICENSE-graphiql"
        lines.append(f"{p.spec}  licence: {p.licence}; {licence}")
        lines.extend(
            f"    {name} (from {inner.removeprefix('package/')})" for inner, name in p.files
        )
    return "\n".join(lines) + "\n"


def _pack(package: Package, workdir: Path) -> bytes:
    """The package's tarball from the npm registry, checked against the pinned sha512."""
    try:
        done = subprocess.run(
            ["npm", "pack", package.spec, "--json", "--pack-destination", str(workdir)],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"npm pack {package.spec}: {exc}") from exc
    if done.returncode != 0:
        raise FetchError(f"npm pack {package.spec} failed: {done.stderr.strip()[-500:]}")
    filename = str(json.loads(done.stdout)[0]["filename"])
    data = (workdir / filename).read_bytes()
    algorithm, _, expected = package.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise FetchError(f"{package.spec}: tarball {algorithm} is {actual}, pinned {expected}")
    return data


def fetch(directory: Path = ASSETS_DIR) -> None:
    """Fetch every pinned package and write its served files and licence to `directory`
    (replaced whole, so no file of another version is left behind). Raises FetchError."""
    if shutil.which("npm") is None:
        raise FetchError("npm is not installed (Node.js's package manager)")
    staging = directory.with_name(directory.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as workdir:
        for package in PACKAGES:
            data = _pack(package, Path(workdir))
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                wanted = dict(package.files)
                if package.licence_file:
                    wanted[package.licence_file] = licence_name(package)
                for inner, name in wanted.items():
                    member = archive.extractfile(inner)
                    if member is None:
                        raise FetchError(f"{package.spec} has no file {inner}")
                    (staging / name).write_bytes(member.read())
    (staging / "NOTICE").write_text(_notice())
    (staging / PINS_FILE).write_text(pins_text())
    shutil.rmtree(directory, ignore_errors=True)
    staging.rename(directory)


def main() -> int:
    if present():
        (ASSETS_DIR / PINS_FILE).touch()  # newer than this file: make has nothing to do
        return 0
    try:
        fetch()
    except FetchError as exc:
        # Not fatal to the setup: the API works without; GraphiQL's page says what is missing.
        print(f"GraphiQL's assets were not fetched: {exc}", file=sys.stderr)
        return 0
    print(f"GraphiQL's assets fetched into {ASSETS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
