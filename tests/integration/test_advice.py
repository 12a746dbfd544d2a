"""Advice on a spec, told once per generation (reconcile.advice): an analysis interval under four scrapes is one
Warning event naming both fields, their values and the window used; a reconcile that changes nothing, or an
operator restart, posts none; a new generation that still does it is told once more, one that fixes it is not."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from integration.helpers import apply, events_for, example, must_get, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from lab.cluster import Cluster

pytestmark = pytest.mark.usefixtures("fake_nodes")


def _advice(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    return [e for e in events_for(cluster, namespace, "hello") if e["reason"] == "AnalysisWindowOverlaps"]


def _reconciles(op: OperatorProcess) -> float:
    return sum(
        float(m.group(1)) for m in re.finditer(r"asgi_operator_reconciles_total\{[^}]*\} ([0-9.e+]+)", op.metrics())
    )


def _observed(cluster: Cluster, namespace: str) -> bool:
    asvc = must_get(cluster, "asgiservice", "hello", namespace)
    return bool(asvc.get("status", {}).get("observedGeneration") == asvc["metadata"]["generation"])


def test_an_interval_under_four_scrapes_is_told_once_per_generation(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path
) -> None:
    doc = example("hello.yaml")
    doc["spec"]["replicas"] = 1
    doc["spec"]["metrics"] = {"interval": "10s"}
    doc["spec"]["rollout"]["interval"] = "20s"
    op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
    try:
        apply(cluster, namespace, doc)
        wait_ready(cluster, namespace, "hello")
        [event] = wait_until("the advice", lambda: _advice(cluster, namespace), 30)
        assert event["type"] == "Warning"
        assert event["message"].startswith(
            "spec.rollout.interval 20s is under 4 x spec.metrics.interval 10s: each analysis reads the last 40s"
        ), event["message"]

        # a reconcile that changes nothing (a label: no new generation) and a restart: no second event
        before = _reconciles(op)
        cluster.kubectl("label", "asgiservice", "hello", "-n", namespace, "team=checkout")
        wait_until("a reconcile after the label", lambda: _reconciles(op) > before, 30)
        op.stop()
        op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
        wait_until("the AsgiService reconciled after the restart", lambda: _reconciles(op) >= 1, 30)
        assert len(_advice(cluster, namespace)) == 1

        # a new generation that still reads old samples: told again, once
        doc["spec"]["replicas"] = 2
        apply(cluster, namespace, doc)
        wait_until("the new generation observed", lambda: _observed(cluster, namespace), 30)
        wait_until("the advice for the new generation", lambda: len(_advice(cluster, namespace)) == 2, 30)
        # one that sets the window: nothing to tell
        doc["spec"]["rollout"]["slo"]["window"] = "40s"
        apply(cluster, namespace, doc)
        wait_until("the window's generation observed", lambda: _observed(cluster, namespace), 30)
        wait_ready(cluster, namespace, "hello")
        assert len(_advice(cluster, namespace)) == 2
    finally:
        op.stop()
