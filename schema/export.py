"""`python -m schema.export [PATH]` writes the served schema as SDL (default: schema.graphql)."""

from __future__ import annotations

import sys
from pathlib import Path

from schema.build import build_schema


def sdl() -> str:
    return build_schema().as_str() + "\n"


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "schema.graphql")
    target.write_text(sdl())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
