"""A real team's service, as a user would apply it: examples/orders-realistic.yaml (a Secret mounted as a file, a
ConfigMap config file, a native sidecar, an init container, topology spread, tolerations, a migration run before
its pods start) applies with
`kubectl apply --server-side`, the operator (a real process, least privilege) renders a Deployment the API server
accepts, and the pods are scheduled and become Ready on the lab's kwok nodes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration.helpers import EXAMPLES, must_get, operator_writes, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from integration.test_operator import _reconciles, _wait_quiet
from lab.cluster import Cluster

pytestmark = pytest.mark.usefixtures("fake_nodes")

EXAMPLE = EXAMPLES / "orders-realistic.yaml"
NAME = "orders-realistic"


def _pods(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", "pods", "-n", namespace, "-l", f"asgi.dev/name={NAME}", "-o", "json").stdout
    return list(json.loads(out)["items"])


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def test_realistic_example_applies_and_its_pods_become_ready(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", str(EXAMPLE))
    status = wait_ready(cluster, namespace, NAME, timeout=120)["status"]
    assert status["readyReplicas"] == 3

    def three_ready_pods() -> list[dict[str, Any]] | None:
        pods = [p for p in _pods(cluster, namespace) if _ready(p) and not p["metadata"].get("deletionTimestamp")]
        return pods if len(pods) == 3 else None

    pods: list[dict[str, Any]] = wait_until("three Ready pods", three_ready_pods, 60)
    pod = pods[0]["spec"]
    assert all(p["spec"].get("nodeName", "").startswith("kwok-node-") for p in pods)

    # the sidecar first, then the init container that needs it; both hardened like the app
    proxy, wait = pod["initContainers"]
    assert (proxy["name"], proxy.get("restartPolicy")) == ("db-proxy", "Always")
    assert (wait["name"], wait.get("restartPolicy")) == ("wait-for-db", None)
    app = pod["containers"][0]
    assert wait["image"] == app["image"]  # the app's image when none is given
    for c in (proxy, wait, app):
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert c["securityContext"]["runAsNonRoot"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]

    # the Secret as a file, the ConfigMap as a config file
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["db-password"]["secret"]["secretName"] == "orders-db"
    assert volumes["config"]["configMap"]["name"] == "orders-config"
    mounts = {m["mountPath"]: m["name"] for m in app["volumeMounts"]}
    assert mounts["/var/run/secrets/orders-db"] == "db-password"
    assert mounts["/etc/orders"] == "config"

    # scheduling as written, the operator's selector filled in
    doc = next(d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d["kind"] == "AsgiService")
    assert pod["tolerations"][0] == doc["spec"]["tolerations"][0]
    spread = {c["topologyKey"]: c for c in pod["topologySpreadConstraints"]}
    assert set(spread) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    assert spread["kubernetes.io/hostname"]["labelSelector"]["matchLabels"]["asgi.dev/name"] == NAME
    assert spread["kubernetes.io/hostname"]["matchLabelKeys"] == ["pod-template-hash"]

    # the Deployment carries exactly that template
    deployment = must_get(cluster, "deployment", NAME, namespace)
    assert deployment["status"]["readyReplicas"] == 3
    assert [c["name"] for c in deployment["spec"]["template"]["spec"]["initContainers"]] == ["db-proxy", "wait-for-db"]

    # the migration ran first, as a Job with the same pod: the database proxy sidecar, the secret, the config
    out = cluster.kubectl("get", "jobs", "-n", namespace, "-l", f"asgi.dev/name={NAME}", "-o", "json").stdout
    (job,) = json.loads(out)["items"]
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])
    job_pod = job["spec"]["template"]["spec"]
    assert job_pod["containers"][0]["command"] == ["alembic", "upgrade", "head"]
    assert [c["name"] for c in job_pod["initContainers"]] == ["db-proxy", "wait-for-db"]
    template_app = deployment["spec"]["template"]["spec"]["containers"][0]
    assert job_pod["containers"][0]["volumeMounts"] == template_app["volumeMounts"]
    assert deployment["metadata"]["creationTimestamp"] >= job["status"]["completionTime"]


def test_realistic_example_costs_zero_writes_once_converged(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path
) -> None:
    """Volumes, mounts, a sidecar, an init container, spread and tolerations are stored by the API server in a
    form that still holds what the operator renders (defaults such as a volume's defaultMode or a probe's
    successThreshold are added around it): a restarted operator re-reconciles and writes nothing."""
    if cluster.audit_events() is None:
        pytest.skip("needs the API server's audit log (the lab has one)")
    op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
    try:
        created_at = time.time() - 1
        cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", str(EXAMPLE))
        wait_ready(cluster, namespace, NAME, timeout=120)
        quiet_since = _wait_quiet(cluster, op, created_at)
        op.stop()
        op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
        wait_until("the AsgiService reconciled after the restart", lambda: _reconciles(op) >= 1)
        assert operator_writes(cluster, quiet_since) == []
        assert 'asgi_operator_reconciles_total{outcome="changed"}' not in op.metrics()
    finally:
        op.stop()
