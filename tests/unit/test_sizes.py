"""`.ci/sizes.py` (run by `make lint`): no module under operator/ over 400 lines, the edge wrapper excepted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lab.cluster import REPO

SCRIPT = REPO / ".ci" / "sizes.py"


def module(root: Path, name: str, lines: int) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"x{i} = {i}\n" for i in range(lines)))


def run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, check=False)


def test_a_module_over_400_lines_fails_with_its_name_and_count(tmp_path: Path) -> None:
    module(tmp_path, "operator/asgi_operator/ok.py", 400)
    module(tmp_path, "operator/asgi_operator/kube/big.py", 401)
    module(tmp_path, "operator/asgi_operator/cli/bigger.py", 636)
    out = run(tmp_path)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[:2] == [
        "operator/asgi_operator/cli/bigger.py: 636 lines (limit 400)",
        "operator/asgi_operator/kube/big.py: 401 lines (limit 400)",
    ]
    assert "ok.py" not in out.stdout


def test_the_edge_wrapper_may_stay_whole_and_a_tree_within_the_limit_passes(tmp_path: Path) -> None:
    module(tmp_path, "operator/asgi_operator/edge/asgi_edge.py", 700)
    module(tmp_path, "operator/asgi_operator/api/models.py", 400)
    module(tmp_path, "tests/unit/test_long.py", 2000)  # only operator/ is checked
    out = run(tmp_path)
    assert (out.returncode, out.stdout) == (0, "")


def test_make_lint_runs_it() -> None:
    makefile = (REPO / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "$(PY) .ci/sizes.py" in lint
