"""High availability: two operator processes with Kopf peering, only one acts; SIGKILL the active one during a
rollout and the standby takes over and finishes it, with no step skipped or repeated."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import yaml

from integration.conftest import identity, operator_rules
from integration.helpers import apply, operator_writes, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from integration.test_canary_e2e import HOST, NAME, PROMOTED, Rig, reasons, spec
from lab.cluster import REPO, Cluster
from lab.dataplane import DataPlane
from lab.load import LoadDriver
from lab.traffic import Prometheus

PEERING_RULES = yaml.safe_load((REPO / "charts/asgi-operator/files/peering-rules.yaml").read_text())
LIFETIME = 10

pytestmark = pytest.mark.usefixtures("gateway")  # the canary's traffic goes through the lab's real gateway


def acts(cluster: Cluster, since: float, user: str) -> list[str]:
    """Writes other than the peering keep-alives."""
    return [w for w in operator_writes(cluster, since, user) if "kopfpeerings" not in w]


def test_only_one_replica_acts_and_the_standby_takes_over_a_rollout(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    if cluster.audit_events() is None or not cluster.fake_nodes:
        pytest.skip("needs the lab: its audit log tells which replica wrote, kwok plays the pods")
    for path in sorted((REPO / "charts/asgi-operator/crds").glob("kopfpeerings.yaml")):
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    cluster.kubectl("wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev", "--timeout=30s")
    cluster.kubectl_apply(
        json.dumps(
            {
                "apiVersion": "kopf.dev/v1",
                "kind": "KopfPeering",
                "metadata": {"name": "asgi-ha", "namespace": namespace},
            }
        )
    )
    rules = operator_rules() + PEERING_RULES
    users = {}
    procs: dict[str, OperatorProcess] = {}
    for replica, priority in (("a", 100), ("b", 50)):
        kubeconfig = identity(cluster, f"asgi-ha-{replica}", rules, tmp_path)
        users[replica] = f"system:serviceaccount:asgi-operator-system:asgi-ha-{replica}"
        procs[replica] = OperatorProcess(
            kubeconfig, "-n", namespace, "--peering=asgi-ha", f"--priority={priority}", f"--peering-lifetime={LIFETIME}"
        )
    prometheus = Prometheus(cluster.bin_dir).start()
    plane = DataPlane(cluster, namespace, NAME, prometheus).start()
    load = LoadDriver(plane, HOST, rate=80).start()
    try:
        procs["a"].start()
        procs["b"].start()
        started = time.time()
        apply(cluster, namespace, spec(prometheus.url))
        wait_ready(cluster, namespace, NAME)
        rig = Rig(cluster, namespace, Path(), prometheus, plane, load, procs["a"])
        wait_until("stable serving traffic", lambda: load.sent["stable"] > 20)

        rig.apply(spec(prometheus.url, "v2"))
        rig.wait_rollout("the canary at 50%", lambda r: r.get("canaryWeight") == 50)
        assert acts(cluster, started, users["a"]), "the active replica wrote nothing"
        assert acts(cluster, started, users["b"]) == []  # the standby never acts (only keeps its peering alive)

        procs["a"].kill(signal.SIGKILL)
        killed = time.time()
        took_over = wait_until(
            "the standby's first write", lambda: acts(cluster, killed, users["b"]) and time.time(), 120
        )
        print(f"HA: takeover {took_over - killed:.1f}s after SIGKILL (peering lifetime {LIFETIME}s)")
        rig.wait_promoted("promoted by the standby")
        assert reasons(rig.rollout_events()) == PROMOTED
        assert took_over - killed <= LIFETIME + 15
    finally:
        for p in procs.values():
            p.stop()
        load.stop()
        plane.stop()
        prometheus.close()
