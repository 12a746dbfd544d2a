"""The API server's passing trouble is retried before it is told (issue 21): a write answered 500 once, then
accepted a second later, flips no condition and posts no event; one that fails its retry too is told (Ready
False with reason ApiError, one Warning event) and clears once a retry gets through.

Real control plane and operator process; the faults are answered by the lab's fault proxy (lab.faultproxy) for
exactly the requests the test names, nothing at random."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from integration.helpers import apply, condition, events_for, example, must_get, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from lab.cluster import Cluster, Lab, kubeconfig_text
from lab.faultproxy import FaultProxy

pytestmark = pytest.mark.usefixtures("fake_nodes")


def _api_errors(op: OperatorProcess) -> float:
    found = re.search(r'asgi_operator_reconcile_errors_total\{reason="ApiError"\} ([0-9.e+]+)', op.metrics())
    return float(found.group(1)) if found else 0.0


def test_a_transient_api_error_is_told_only_if_it_outlives_its_retry(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path, tmp_path: Path
) -> None:
    if not isinstance(cluster, Lab):
        pytest.skip("the fault proxy forwards to the lab's own API server")
    identity = json.loads(operator_kubeconfig.read_text())
    user, token = identity["users"][0]["name"], identity["users"][0]["user"]["token"]
    proxy = FaultProxy(cluster.server, cluster.ca_file, seed=21, rate=0.0, watch_rate=0.0).start()
    through = tmp_path / "through-the-fault-proxy.kubeconfig"
    through.write_text(kubeconfig_text(proxy.url, None, user, token))
    op = OperatorProcess(through, "-n", namespace).start()
    try:
        doc = example("hello.yaml")
        doc["spec"]["replicas"] = 1
        apply(cluster, namespace, doc)
        wait_ready(cluster, namespace, "hello")
        deployment = f"/namespaces/{namespace}/deployments/hello"

        # one 500 on the Deployment's write: the retry gets past it, nothing is told
        proxy.fail_next("PATCH", deployment, "500")
        doc["spec"]["replicas"] = 2
        apply(cluster, namespace, doc)
        wait_ready(cluster, namespace, "hello")
        assert proxy.counts["500"] == 1
        assert _api_errors(op) == 1  # it happened, and was retried
        assert [e for e in events_for(cluster, namespace, "hello") if e["reason"] == "ApiError"] == []
        assert must_get(cluster, "deployment", "hello", namespace)["spec"]["replicas"] == 2

        # two in a row: it outlived its retry, so it is told; the next retry gets through and it clears
        proxy.fail_next("PATCH", deployment, "500", times=2)
        doc["spec"]["replicas"] = 3
        apply(cluster, namespace, doc)
        [told] = wait_until(
            "the error told once it outlived its retry",
            lambda: [e for e in events_for(cluster, namespace, "hello") if e["reason"] == "ApiError"],
            30,
        )
        assert told["type"] == "Warning" and "500 InternalError" in told["message"], told
        asvc = wait_ready(cluster, namespace, "hello")
        assert proxy.counts["500"] == 3 and _api_errors(op) == 3
        assert condition(asvc, "Ready")["reason"] == "Available"
    finally:
        op.stop()
        proxy.stop()
