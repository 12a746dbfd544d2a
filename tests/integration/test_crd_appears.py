"""A CRD installed while the operator runs: the child of that kind appears within seconds, every time.

The API server serves a new CRD's resources a moment after it says so (the CRD's Established condition and the
discovery document are updated by different controllers): an operator that asks in that moment hears "not
served". Installed and removed several times in a row, so that a race lost once in a while shows.
"""

from __future__ import annotations

from pathlib import Path

from integration.helpers import apply, example, get, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from lab.cluster import Cluster, crd_dir

POD_MONITOR_CRD = "podmonitors.monitoring.coreos.com"
ROUNDS = 4


def test_a_crd_installed_while_the_operator_runs_gets_its_child_within_seconds(
    cluster: Cluster, namespace: str, operator: OperatorProcess, fake_nodes: None
) -> None:
    assert cluster.kubectl("get", "crd", POD_MONITOR_CRD, check=False).returncode != 0, "CRD left by another test"
    doc = example("hello.yaml")
    doc["spec"]["rollout"]["strategy"] = "RollingUpdate"
    apply(cluster, namespace, doc)
    wait_ready(cluster, namespace, "hello")
    crd = Path(crd_dir() / "prometheus-operator" / "monitoring.coreos.com_podmonitors.yaml")
    try:
        for round_ in range(ROUNDS):
            cluster.kubectl("apply", "--server-side", "-f", str(crd))
            wait_until(
                f"round {round_ + 1}: the PodMonitor, seconds after its CRD",
                lambda: get(cluster, "podmonitor", "hello", namespace),
                15,
            )
            cluster.kubectl("delete", "crd", POD_MONITOR_CRD, "--wait=true", "--timeout=60s")
    finally:
        cluster.kubectl("delete", "crd", POD_MONITOR_CRD, "--wait=true", "--timeout=60s", check=False)
