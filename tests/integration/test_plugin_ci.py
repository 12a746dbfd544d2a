"""`kubectl asgi` as a CI pipeline and a platform engineer use it, against the lab: the installed `kubectl-asgi`
console script runs as a subprocess with its output piped (as in a CI job), FORCE_COLOR and a colour TERM set
(what CI runners often export), so "no escape codes" is proven where it could go wrong.

- A CI-like script: `kubectl asgi status hello --timeout 2m` right after applying a good release exits 0 once
  it is promoted, after a bad one exits 2 once it is rolled back, and after a good one that follows a rollback
  exits 0 again (the earlier RolledBack does not end the wait); --timeout gives 4; Ctrl-C gives 130; a rollout
  a person paused ends the wait at once with 5, and after `resume` the wait goes on to 0. The canaries are real
  (tests/integration/test_canary_e2e.py's rig: real Prometheus, real traffic, 4 s intervals).
- `render` for every example is what the operator applies: each rendered object exists, carries the same
  `asgi.dev/config-hash` as the live one (a hash of the whole manifest the operator applied, so the content is
  byte for byte the same), the live object holds every rendered field, and the operator owns nothing else;
  `diff` against the live objects is then empty (exit 0), and shows a changed file (exit 1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from asgi_operator.api import keys
from asgi_operator.cli.preview import is_asgi_service
from asgi_operator.render.drift import holds
from asgi_operator.routers import owned_kinds
from integration.helpers import EXAMPLES, apply, must_get, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from integration.test_canary_e2e import NAME, Rig, _promoted_and_ready, rig, spec
from lab import netns
from lab.cluster import Cluster

__all__ = ["rig"]  # the fixture, shared with test_canary_e2e

PLUGIN = Path(sys.executable).parent / "kubectl-asgi"  # the console script, as installed
ESCAPE = "\x1b"
CI_ENV = {**os.environ, "FORCE_COLOR": "1", "TERM": "xterm-256color", "CLICOLOR_FORCE": "1", "PYTHONUNBUFFERED": "1"}


def kubectl_asgi(
    cluster: Cluster, namespace: str, *args: str, timeout: float = 200
) -> subprocess.CompletedProcess[str]:
    """The plugin as a CI step runs it: flags after the command (kubectl's habit), output piped."""
    out = subprocess.run(
        [str(PLUGIN), *args, "-n", namespace, f"--kubeconfig={cluster.admin_kubeconfig}"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=CI_ENV,
        check=False,
    )
    assert ESCAPE not in out.stdout + out.stderr, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    return out


def revision(rig: Rig) -> str:
    return str(rig.asvc()["status"]["revision"])


# ------------------------------------------------------------------------------------------------ the CI script
def test_ci_waits_for_each_release_and_exits_by_its_outcome(rig: Rig) -> None:
    cluster, namespace = rig.cluster, rig.namespace

    # a good release: exit 0 once promoted (not on the Ready of the revision before it)
    rig.apply(spec(rig.prometheus.url, "v2"))
    good = kubectl_asgi(cluster, namespace, "status", NAME, "--timeout", "2m")
    assert good.returncode == 0, good.stdout + good.stderr
    assert _promoted_and_ready(rig)
    v2 = revision(rig)
    assert good.stdout.splitlines()[-1] == f"asgiservice {namespace}/{NAME}: revision {v2} is stable and Ready"
    assert any("step 2/3 weight 50%" in line for line in good.stdout.splitlines())  # a line per change

    # a bad release (5 % errors): exit 2 once rolled back
    rig.apply(spec(rig.prometheus.url, "v3", ERROR_RATE="0.05"))
    bad = kubectl_asgi(cluster, namespace, "status", NAME, "--timeout", "2m")
    assert bad.returncode == 2, bad.stdout + bad.stderr
    v3 = revision(rig)
    r = rig.rollout()
    assert (r["phase"], r["failedRevision"], r["stableRevision"]) == ("RolledBack", v3, v2)
    assert f"revision {v3} rolled back (SLOViolated" in bad.stdout.splitlines()[-1]
    print_once = kubectl_asgi(cluster, namespace, "status", NAME)  # after the fact, too
    assert print_once.returncode == 2 and "RolledBack" in print_once.stdout

    # the next good release: the RolledBack still in status must not end the wait for it
    rig.apply(spec(rig.prometheus.url, "v4"))
    early = kubectl_asgi(cluster, namespace, "status", NAME, "--timeout", "1s")
    assert early.returncode == 4, early.stdout + early.stderr
    assert "timed out after 1s" in early.stderr
    waiting = subprocess.Popen(
        [str(PLUGIN), "status", NAME, "-w", "-n", namespace, f"--kubeconfig={cluster.admin_kubeconfig}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=CI_ENV,
    )
    wait_until("the watch started", lambda: waiting.stdout is not None and waiting.stdout.readline())
    waiting.send_signal(signal.SIGINT)
    _, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 130 and "Traceback" not in err
    again = kubectl_asgi(cluster, namespace, "status", NAME, "--timeout", "2m")
    assert again.returncode == 0, again.stdout + again.stderr
    v4 = revision(rig)
    assert v4 not in (v2, v3) and rig.rollout()["stableRevision"] == v4

    # what happened, as the plugin tells it
    listed = kubectl_asgi(cluster, namespace, "list")
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[1].split()[:3] == [NAME, "Ready", v4]
    history = kubectl_asgi(cluster, namespace, "history", NAME)
    assert history.returncode == 0
    outcomes = {line.split()[0]: line for line in history.stdout.splitlines() if line[:10] in (v2, v3, v4)}
    assert "promoted" in outcomes[v2] and "rolled back" in outcomes[v3] and "promoted" in outcomes[v4]


def test_ci_learns_at_once_that_a_person_paused_the_rollout(rig: Rig) -> None:
    cluster, namespace = rig.cluster, rig.namespace
    assert kubectl_asgi(cluster, namespace, "pause", NAME).returncode == 0
    # nothing in flight: the pause changes nothing, the stable revision is Ready
    idle = kubectl_asgi(cluster, namespace, "status", NAME, "--timeout", "1m")
    assert idle.returncode == 0, idle.stdout + idle.stderr

    # a release applied while paused: its canary starts and is held at step 1; the wait ends then, with 5
    rig.apply(spec(rig.prometheus.url, "v2"))
    started = time.monotonic()
    held = kubectl_asgi(cluster, namespace, "status", NAME, "--timeout", "2m")
    took = time.monotonic() - started
    assert held.returncode == 5, held.stdout + held.stderr
    assert took < 60, took  # at once, not at the deadline
    r = rig.rollout()
    assert (r["phase"], r["paused"], r["stepIndex"], r["canaryRevision"]) == ("Progressing", True, 0, revision(rig))
    assert f"the rollout of revision {revision(rig)} is paused" in held.stdout.splitlines()[-1]

    # resumed: the pause still in status until the operator takes the resume must not end the next wait
    assert kubectl_asgi(cluster, namespace, "resume", NAME).returncode == 0
    resumed = kubectl_asgi(cluster, namespace, "status", NAME, "--timeout", "2m")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _promoted_and_ready(rig) and rig.rollout()["stableRevision"] == r["canaryRevision"]


# ------------------------------------------------------------------------------------------------ render, diff
def _served(cluster: Cluster, crd: str) -> bool:
    return cluster.kubectl("get", "crd", crd, check=False).returncode == 0


def _owned(cluster: Cluster, namespace: str, uid: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every object in the namespace that the AsgiService controls (owner reference with its uid)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for kind in owned_kinds():
        resource = f"{kind.plural}.{kind.group}" if kind.group else kind.plural
        got = cluster.kubectl("get", resource, "-n", namespace, "-o", "json", check=False)
        if got.returncode != 0:
            continue  # not served here
        for item in json.loads(got.stdout)["items"]:
            refs = item["metadata"].get("ownerReferences", [])
            if any(r.get("uid") == uid and r.get("controller") for r in refs):
                out[(kind.kind, item["metadata"]["name"])] = item
    return out


STOREFRONT = {  # the platform team's HTTPRoute search-granian.yaml puts its canary into
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "storefront"},
    "spec": {
        "parentRefs": [{"name": "public"}],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/search"}}],
                "backendRefs": [
                    {"name": "search-stable", "port": 80, "weight": 100},
                    {"name": "search-canary", "port": 80, "weight": 0},
                ],
            }
        ],
    },
}
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_render_is_what_the_operator_applies_and_diff_agrees(
    cluster: Cluster, namespace: str, operator: OperatorProcess, path: Path, tmp_path: Path
) -> None:
    if not cluster.fake_nodes:
        pytest.skip("the examples' placeholder images only become Ready on the lab's kwok nodes")
    doc = next(d for d in yaml.safe_load_all(path.read_text()) if is_asgi_service(d))
    name = doc["metadata"]["name"]
    if path.stem == "search-granian":
        apply(cluster, namespace, STOREFRONT)
    cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", str(path))
    live_service = wait_ready(cluster, namespace, name, timeout=120)
    uid = live_service["metadata"]["uid"]

    flags = ["--uid", uid]
    flags += ["--pod-monitor-crd"] if _served(cluster, "podmonitors.monitoring.coreos.com") else []
    flags += ["--cert-manager-crd"] if _served(cluster, "certificates.cert-manager.io") else []
    rendered_out = kubectl_asgi(cluster, namespace, "render", "-f", str(path), *flags)
    assert rendered_out.returncode == 0, rendered_out.stderr
    rendered = list(yaml.safe_load_all(rendered_out.stdout))
    assert rendered

    def converged() -> dict[tuple[str, str], dict[str, Any]] | None:
        live = _owned(cluster, namespace, uid)
        wanted = {(o["kind"], o["metadata"]["name"]) for o in rendered}
        return live if wanted <= set(live) else None

    live = wait_until(f"every rendered object of {name} exists", converged, 60)
    for obj in rendered:
        key = (obj["kind"], obj["metadata"]["name"])
        have = live[key]
        assert holds(obj, have), f"{key}: the live object does not hold the rendered one"
        if obj["kind"] != "Job":  # the Job is created once, without a config hash
            want_hash = obj["metadata"]["annotations"][keys.ANNOTATION_CONFIG_HASH]
            assert have["metadata"]["annotations"][keys.ANNOTATION_CONFIG_HASH] == want_hash, key
    assert set(live) == {(o["kind"], o["metadata"]["name"]) for o in rendered}  # and nothing more

    same = kubectl_asgi(cluster, namespace, "diff", "-f", str(path))
    assert (same.returncode, same.stdout) == (0, ""), same.stdout + same.stderr

    changed = yaml.safe_load_all(path.read_text())
    edited = []
    for d in changed:
        if is_asgi_service(d):
            d["spec"]["image"] = d["spec"]["image"] + "-next"
        edited.append(d)
    (tmp_path / "next.yaml").write_text(yaml.safe_dump_all(edited))
    other = kubectl_asgi(cluster, namespace, "diff", "-f", str(tmp_path / "next.yaml"))
    assert other.returncode == 1, other.stderr
    assert f"+  image: {doc['spec']['image']}-next" in other.stdout  # the AsgiService's own spec
    assert f"--- live/apps/v1.Deployment.{namespace}.{name}" in other.stdout
    assert (
        must_get(cluster, "asgiservice", name, namespace)["spec"]["image"] == doc["spec"]["image"]
    )  # diff wrote nothing


# ------------------------------------------------------------------------------------------------ installing it
REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")  # Debian's and Ubuntu's, marked externally managed (PEP 668)


def readme_install_block() -> str:
    """The commands under the README's `<!-- plugin-install ... -->` marker, as written there."""
    text = (REPO / "README.md").read_text()
    after = text[text.index("<!-- plugin-install:") :]
    block = re.search(r"```bash\n(.*?)```", after, re.S)
    assert block is not None
    return block.group(1)


def checkout_copy(into: Path) -> Path:
    """The checkout's files (tracked, and new ones not ignored), without .venv, .lab or build output."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file() and not source.is_symlink():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def test_the_readmes_plugin_install_works_with_the_system_python(tmp_path: Path) -> None:
    if not SYSTEM_PYTHON.exists():
        pytest.skip(f"no {SYSTEM_PYTHON}: not a Debian/Ubuntu system")
    if subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sys; sys.exit(sys.version_info < (3, 11))"], check=False
    ).returncode:
        pytest.skip(f"{SYSTEM_PYTHON} is older than 3.11, which the README asks for")
    marked = list(SYSTEM_PYTHON.parent.parent.glob("lib/python3*/EXTERNALLY-MANAGED"))
    home, checkout = tmp_path / "home", checkout_copy(tmp_path / "asgi-operator")
    home.mkdir()
    hidden = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_BREAK_SYSTEM_PACKAGES"}  # what could hide a failure
    env = {k: v for k, v in os.environ.items() if k not in hidden} | {
        "HOME": str(home),  # the README's ~ is this test's
        "PATH": f"{SYSTEM_PYTHON.parent}:/bin",  # python3 is the system's, not a virtualenv's or pyenv's
        # the machine's pip cache, not one per run under the temporary HOME (only answers with caching headers
        # are kept: where the index sends none, each run downloads the ~15 MB again; most of the ~20 s is pip's
        # resolving and unpacking)
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip"),
        "PIP_NO_COMPILE": "1",  # no .pyc files for 40 packages: the scripts still run, compiling what they import
    }
    if marked and (SYSTEM_PYTHON.parent / "pip3").exists():  # as the README says: a system pip refuses to install
        refused = subprocess.run(
            ["python3", "-m", "pip", "install", "--dry-run", "."],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr, refused.stderr
    try:  # pip needs the machine's network: the run itself is in the lab's network namespace
        install = netns.run_outside(
            ["bash", "-euo", "pipefail", "-c", readme_install_block()], cwd=checkout, env=env, timeout=480
        )
    except netns.Unavailable as e:
        pytest.skip(str(e))
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    on_path = {**env, "PATH": f"{home / '.local' / 'bin'}:{env['PATH']}"}
    helped = subprocess.run(["kubectl-asgi", "--help"], env=on_path, capture_output=True, text=True, check=False)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("Usage: kubectl asgi [OPTIONS] COMMAND [ARGS]...")
    assert re.search(r"^\s+5\s+status -w/--timeout: the rollout is paused", helped.stdout, re.M)
    completed = subprocess.run(
        ["kubectl_complete-asgi", "pro"], env=on_path, capture_output=True, text=True, check=True
    )
    assert completed.stdout.splitlines() == ["promote\tGo to the next step without analysis.", ":4"]
    kubectl = shutil.which("kubectl")
    if kubectl:  # and as kubectl finds it
        through = subprocess.run([kubectl, "asgi", "--help"], env=on_path, capture_output=True, text=True, check=True)
        assert through.stdout == helped.stdout
