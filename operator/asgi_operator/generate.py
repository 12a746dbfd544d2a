"""Write or check every generated file: `python -m asgi_operator.generate write|check [--root DIR]`.

Generated files are never edited by hand; `check` fails (exit 1) and shows a diff when one is stale. Both refuse
(exit 1, nothing written) while a property of the CRD has no description, listing every one: `kubectl explain`
must answer for every field.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable
from pathlib import Path

from .api.crd import render_crd_yaml, undocumented_in_crd
from .api.reference import render_reference
from .rbac import render_rules

Generator = Callable[[], str]


def generated_files() -> dict[str, Generator]:
    return {
        "crds/asgiservice.yaml": render_crd_yaml,
        # Helm installs CRDs from the chart's crds/: the same generated file
        "charts/asgi-operator/crds/asgiservice.yaml": render_crd_yaml,
        "docs/reference.md": render_reference,
        "charts/asgi-operator/files/clusterrole-rules.yaml": render_rules,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asgi_operator.generate")
    parser.add_argument("command", choices=["write", "check"])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    args = parser.parse_args(argv)
    missing = undocumented_in_crd()
    if missing:
        print(
            f"{len(missing)} properties of the CRD have no description (`kubectl explain` would show nothing); "
            "give each field a `description=` (or its model a docstring) in operator/asgi_operator/api/:\n"
            + "".join(f"  {path}\n" for path in missing),
            file=sys.stderr,
            end="",
        )
        return 1
    stale = []
    for relative, generate in generated_files().items():
        path: Path = args.root / relative
        text = generate()
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        if args.command == "write":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {relative}")
        else:
            stale.append(relative)
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    relative,
                    "generated",
                    n=2,
                )
            )
    if stale:
        print(
            f"\nstale generated files: {', '.join(stale)}; run `make crds` and commit the result",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
