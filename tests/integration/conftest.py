"""Integration tests run against a REAL API server: the lab (default), or any cluster whose kubeconfig is in
ASGI_TEST_KUBECONFIG (for example a kind cluster on a machine with Docker). Nothing here is mocked."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.operator_proc import OperatorProcess
from lab.cluster import Cluster, ExistingCluster, Lab, ensure_binaries


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    given = os.environ.get("ASGI_TEST_KUBECONFIG")
    if given:
        existing = ExistingCluster(Path(given).expanduser())
        existing.install_crds()
        yield existing
        return
    lab = Lab(bin_dir=ensure_binaries())
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
