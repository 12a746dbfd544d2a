"""Integration tests run against a REAL API server: the lab (default), or any cluster whose kubeconfig is in
ASGI_TEST_KUBECONFIG (for example a kind cluster on a machine with Docker). Nothing here is mocked.

With the lab, the whole run moves into a network namespace of its own (tests/lab/netns.py) once the lab's
binaries are built: the real gateway routes to pod IPs there, and nothing a test does can reach another host.
ASGI_LAB_NETNS=off keeps the machine's network (the tests that need the real gateway are then skipped).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.operator_proc import OperatorProcess
from lab import netns
from lab.cluster import Cluster, ExistingCluster, Lab, ensure_binaries
from lab.gateway import Traefik

_BIN_DIR: Path | None = None
_NETNS_UNAVAILABLE: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Before any test (and any thread): the lab's binaries (they need the network), then the namespace."""
    global _BIN_DIR, _NETNS_UNAVAILABLE
    if os.environ.get("ASGI_TEST_KUBECONFIG"):
        return
    _BIN_DIR = ensure_binaries()
    if os.environ.get("ASGI_LAB_NETNS", "").lower() in ("off", "0", "no"):
        _NETNS_UNAVAILABLE = "ASGI_LAB_NETNS=off: the run keeps the machine's network"
        return
    try:
        netns.enter()
    except netns.Unavailable as e:
        _NETNS_UNAVAILABLE = str(e)


def netns_unavailable() -> str | None:
    """Why this run has no network namespace of its own (None: it has one)."""
    return _NETNS_UNAVAILABLE if netns.current() is None else None


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    given = os.environ.get("ASGI_TEST_KUBECONFIG")
    if given:
        existing = ExistingCluster(Path(given).expanduser())
        existing.install_crds()
        yield existing
        return
    lab = Lab(bin_dir=_BIN_DIR or ensure_binaries())
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (without waiting)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl_apply(json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    # its routes first: the namespace controller deletes pods before anything else (ordered namespace deletion),
    # and a route left behind meanwhile keeps its hostname on the lab's shared Gateway (the oldest route wins)
    cluster.kubectl("delete", "httproutes.gateway.networking.k8s.io", "--all", "-n", name, "--wait=false", check=False)
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


RBAC_RULES = Path(__file__).resolve().parents[2] / "charts" / "asgi-operator" / "files" / "clusterrole-rules.yaml"
OPERATOR_NAMESPACE = "asgi-operator-system"


def grant(cluster: Cluster, name: str, rules: list[dict[str, object]]) -> None:
    """A ClusterRole with `rules`, bound to the ServiceAccount `name` in the operator's namespace."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": OPERATOR_NAMESPACE}],
    }
    for doc in (role, binding):
        cluster.kubectl_apply(json.dumps(doc))


def identity(cluster: Cluster, name: str, rules: list[dict[str, object]], directory: Path) -> Path:
    from lab.identity import create_identity_kubeconfig

    grant(cluster, name, rules)
    return create_identity_kubeconfig(
        cluster.bin("kubectl"),
        cluster.admin_kubeconfig,
        directory / f"{name}.kubeconfig",
        namespace=OPERATOR_NAMESPACE,
        name=name,
    )


def operator_rules() -> list[dict[str, object]]:
    import yaml

    return list(yaml.safe_load(RBAC_RULES.read_text()))


@pytest.fixture(scope="session")
def operator_kubeconfig(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The operator's least-privilege identity: exactly the rules the Helm chart ships."""
    return identity(cluster, "asgi-operator", operator_rules(), tmp_path_factory.mktemp("identity"))


@pytest.fixture
def operator(operator_kubeconfig: Path, namespace: str) -> Iterator[OperatorProcess]:
    """The operator as a real process, under its least-privilege identity, watching the test's namespace."""
    proc = OperatorProcess(operator_kubeconfig, "-n", namespace, "--prometheus-url=http://127.0.0.1:9")
    proc.start()
    yield proc
    proc.stop()
    if os.environ.get("ASGI_TEST_OPERATOR_LOGS"):
        print(proc.logs())


@pytest.fixture
def fake_nodes(cluster: Cluster) -> None:
    """Skip where pods of placeholder images would never become Ready (a real cluster such as kind)."""
    if not cluster.fake_nodes:
        pytest.skip("needs the lab's kwok nodes: placeholder images never run on a real cluster")


@pytest.fixture(scope="session")
def gateway(cluster: Cluster) -> Iterator[Traefik]:
    """The lab's real gateway (Traefik), once per run; skipped where the run has no network namespace."""
    why = netns_unavailable()
    if why is not None:
        pytest.skip(f"no real gateway: it routes to pod IPs, which need the lab's network namespace ({why})")
    if not cluster.fake_nodes:
        pytest.skip("the lab's gateway plays pods next to kwok nodes; a real cluster brings its own")
    traefik = Traefik(cluster).start()
    try:
        yield traefik
    finally:
        traefik.close()
