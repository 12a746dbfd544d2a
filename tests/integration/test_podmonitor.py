"""Metrics scraping both ways: prometheus.io/* pod annotations always, and a PodMonitor carrying the pod labels
the canary analysis selects on, once the prometheus-operator CRD exists (installed here from its Go module's
CRD file, then removed again)."""

from __future__ import annotations

import json
from pathlib import Path

from integration.helpers import apply, events_for, example, get, must_get, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from lab.cluster import Cluster, crd_dir

POD_MONITOR_CRD = "podmonitors.monitoring.coreos.com"


def _announced(cluster: Cluster, namespace: str, ref: str) -> list[str]:
    """The reasons of the events that name the child `ref` (Created, Updated, DriftRepaired)."""
    return [e["reason"] for e in events_for(cluster, namespace, "hello") if ref in e["message"].split(" (")[0]]


def test_pod_annotations_without_the_crd_and_a_pod_monitor_with_it(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path, fake_nodes: None
) -> None:
    doc = example("hello.yaml")
    doc["spec"]["rollout"]["strategy"] = "RollingUpdate"
    doc["spec"]["metrics"] = {"interval": "15s"}
    assert cluster.kubectl("get", "crd", POD_MONITOR_CRD, check=False).returncode != 0, "CRD left by another test"
    op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
    try:
        apply(cluster, namespace, doc)
        wait_ready(cluster, namespace, "hello")
        annotations = must_get(cluster, "deployment", "hello", namespace)["spec"]["template"]["metadata"]["annotations"]
        scrape = {k: v for k, v in annotations.items() if k.startswith("prometheus.io/")}
        assert scrape == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "8000",
            "prometheus.io/path": "/metrics",
        }
    finally:
        op.stop()

    cluster.kubectl(
        "apply",
        "--server-side",
        "-f",
        str(crd_dir() / "prometheus-operator" / "monitoring.coreos.com_podmonitors.yaml"),
    )
    try:
        cluster.wait_established(POD_MONITOR_CRD)
        op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
        try:
            monitor = wait_until("the PodMonitor", lambda: get(cluster, "podmonitor", "hello", namespace), 60)
            spec = monitor["spec"]
            assert spec["selector"] == {"matchLabels": {"asgi.dev/name": "hello"}}
            assert spec["podMetricsEndpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]
            # the labels the canary queries select on (asgi_dev_name, asgi_dev_track, asgi_dev_revision)
            assert spec["podTargetLabels"] == ["asgi.dev/name", "asgi.dev/track", "asgi.dev/revision"]
            asvc = must_get(cluster, "asgiservice", "hello", namespace)
            assert monitor["metadata"]["ownerReferences"][0]["uid"] == asvc["metadata"]["uid"]
            # announced as what happened: created now that its CRD exists, not "put back" (nobody deleted it)
            wait_until("the PodMonitor announced", lambda: _announced(cluster, namespace, "PodMonitor/hello"), 30)
            assert _announced(cluster, namespace, "PodMonitor/hello") == ["Created"]
            # the pod template did not change: a PodMonitor appearing is not a new revision (no canary)
            assert asvc["status"]["stableRevision"] == asvc["status"]["revision"]
            # a duration the AsgiService takes but prometheus-operator's pattern does not is rendered canonical
            raw = {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PodMonitor",
                "metadata": {"name": "raw", "namespace": namespace},
                "spec": {"selector": spec["selector"], "podMetricsEndpoints": [{"port": "http", "interval": "1.5m"}]},
            }
            refused = cluster.kubectl(
                "apply", "--server-side", "--dry-run=server", "-f", "-", stdin=json.dumps(raw), check=False
            )
            assert refused.returncode != 0 and "should match" in refused.stderr
            doc["spec"]["metrics"]["interval"] = "1.5m"
            apply(cluster, namespace, doc)
            wait_until(
                "the PodMonitor's interval in canonical form",
                lambda: (
                    must_get(cluster, "podmonitor", "hello", namespace)["spec"]["podMetricsEndpoints"][0]["interval"]
                    == "1m30s"
                ),
            )
            wait_ready(cluster, namespace, "hello")
            # switching scraping off removes the PodMonitor the operator created
            doc["spec"]["metrics"]["scrape"] = "none"
            apply(cluster, namespace, doc)
            wait_until("the PodMonitor removed", lambda: get(cluster, "podmonitor", "hello", namespace) is None)
        finally:
            op.stop()
    finally:
        cluster.kubectl("delete", "crd", POD_MONITOR_CRD, "--wait=true", "--timeout=60s", check=False)
