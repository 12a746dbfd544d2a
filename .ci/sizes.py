"""Fail when a module of the operator grows past the size limit (part of `make lint`).

    python .ci/sizes.py [ROOT]     ROOT: the repository (default: this script's); checks ROOT/operator/**/*.py

A module over LIMIT lines is a sign it holds more than one job: split it. The exception is the edge wrapper,
operator/asgi_operator/edge/asgi_edge.py, which ships into the app's container as one self-contained file.
Prints every offender with its line count, largest first, and exits 1; prints nothing and exits 0 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 400
EXEMPT = frozenset({"operator/asgi_operator/edge/asgi_edge.py"})


def offenders(root: Path) -> list[tuple[str, int]]:
    """(path relative to root, line count) of every module under root/operator over LIMIT lines."""
    found = []
    for path in sorted((root / "operator").rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name in EXEMPT:
            continue
        with path.open("rb") as f:
            lines = sum(1 for _ in f)
        if lines > LIMIT:
            found.append((name, lines))
    return sorted(found, key=lambda item: -item[1])


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1]
    found = offenders(root)
    for name, lines in found:
        print(f"{name}: {lines} lines (limit {LIMIT})")
    if found:
        print(f"{len(found)} module(s) over {LIMIT} lines: split them (only {', '.join(sorted(EXEMPT))} may be larger)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
