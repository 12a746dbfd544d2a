"""A generated route using a feature the Gateway's class does not list is never written (issue 22): against the
REAL API server, with a GatewayClass whose status is written as Traefik v3.7.13 writes it (no HTTPRouteCORS).

Traefik marks a route with a CORS filter Accepted and answers 500 to every request of its rule, so writing it
takes the whole service down while everything looks healthy. The operator keeps the live route serving (or writes
none at a first deploy), says so in Ready/Stalled (GatewayFeatureMissing) and in one Warning event naming the
feature, the class, its controller and what to use instead, and writes everything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from integration.gateway_classes import TRAEFIK_CONTROLLER, traefik_status
from integration.helpers import (
    apply,
    condition,
    events_for,
    example,
    get,
    must_get,
    now,
    operator_writes,
    wait_ready,
    wait_until,
)
from integration.operator_proc import OperatorProcess
from lab.cluster import Cluster

CORS = {"allowOrigins": ["https://shop.example.com"], "allowMethods": ["GET", "POST"]}


@pytest.fixture
def traefik_class(cluster: Cluster, namespace: str) -> Iterator[str]:
    """A GatewayClass of Traefik's controller with the status Traefik v3.7.13 writes, and the Gateway `public` of
    that class in the test's namespace. Yields the class's name."""
    name = f"traefik-{namespace}"
    gateway_class = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {"controllerName": TRAEFIK_CONTROLLER},
    }
    cluster.kubectl_apply(json.dumps(gateway_class))
    write_class_status(cluster, name, traefik_status())
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "public", "namespace": namespace},
        "spec": {"gatewayClassName": name, "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
    }
    cluster.kubectl_apply(json.dumps(gateway))
    yield name
    cluster.kubectl("delete", "gatewayclass", name, "--wait=false", check=False)


def write_class_status(cluster: Cluster, name: str, status: dict[str, Any]) -> None:
    """What the gateway controller writes: the status subresource of its GatewayClass."""
    patch = json.dumps({"status": status})
    cluster.kubectl("patch", "gatewayclass", name, "--subresource=status", "--type=merge", "-p", patch)


def hello(namespace: str, cors: str | None) -> dict[str, Any]:
    doc = example("hello.yaml")
    doc["spec"]["rollout"] = {"strategy": "RollingUpdate"}
    doc["spec"]["expose"]["gateway"] = {"name": "public", "namespace": namespace}
    if cors is not None:
        doc["spec"]["expose"]["cors"] = {**CORS, "enforcement": cors}
    return doc


def reconciles(op: OperatorProcess) -> float:
    return sum(
        float(m.group(1)) for m in re.finditer(r"asgi_operator_reconciles_total\{[^}]*\} ([0-9.e+]+)", op.metrics())
    )


def missing(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    """The AsgiService once its Ready condition says GatewayFeatureMissing for its current generation."""
    obj = get(cluster, "asgiservice", name, namespace)
    ready = condition(obj, "Ready")
    if (
        obj
        and ready.get("reason") == "GatewayFeatureMissing"
        and ready.get("observedGeneration") == obj["metadata"].get("generation")
    ):
        return obj
    return None


def assert_told(obj: dict[str, Any], class_name: str, kept: str) -> str:
    ready, stalled = condition(obj, "Ready"), condition(obj, "Stalled")
    assert ready["status"] == "False", ready
    assert (stalled["status"], stalled["reason"]) == ("True", "GatewayFeatureMissing"), stalled
    assert condition(obj, "Reconciling")["status"] == "False"
    message = str(ready["message"])
    for said in (
        f"HTTPRoute hello is not written ({kept})",
        f"GatewayClass {class_name} (controller traefik.io/gateway-controller)",
        "does not support HTTPRouteCORS",
        "expose.cors.enforcement: App",
    ):
        assert said in message, message
    return message


def warnings(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    return [e for e in events_for(cluster, namespace, "hello") if e["reason"] == "GatewayFeatureMissing"]


def wake(cluster: Cluster, namespace: str, op: OperatorProcess) -> None:
    """One more reconcile of hello (an annotation change wakes it), done."""
    before = reconciles(op)
    cluster.kubectl("annotate", "asgiservice", "hello", "-n", namespace, f"example.com/touched={now()}", "--overwrite")
    wait_until("one more reconcile", lambda: reconciles(op) > before, 30)


def test_cors_at_an_edge_whose_class_lacks_it_keeps_the_live_route_serving_and_says_so(
    cluster: Cluster, namespace: str, operator: OperatorProcess, fake_nodes: None, traefik_class: str
) -> None:
    apply(cluster, namespace, hello(namespace, cors=None))
    wait_ready(cluster, namespace, "hello")
    good = must_get(cluster, "httproute", "hello", namespace)
    assert "filters" not in good["spec"]["rules"][0]

    # CORS at the edge: the route is not written, the live one serves on
    since = now()
    apply(cluster, namespace, hello(namespace, cors="Edge"))
    obj = wait_until("Ready False: GatewayFeatureMissing", lambda: missing(cluster, namespace, "hello"), 30)
    message = assert_told(obj, traefik_class, "the live one keeps serving")
    route = must_get(cluster, "httproute", "hello", namespace)
    assert route["metadata"]["resourceVersion"] == good["metadata"]["resourceVersion"]
    assert "filters" not in route["spec"]["rules"][0]
    assert not [w for w in operator_writes(cluster, since) if "httproutes" in w]
    [warning] = wait_until("one Warning event", lambda: warnings(cluster, namespace), 20)
    assert (warning["type"], warning["message"]) == ("Warning", message)
    # another pass: still withheld, told already
    wake(cluster, namespace, operator)
    assert len(warnings(cluster, namespace)) == 1
    assert (
        must_get(cluster, "httproute", "hello", namespace)["metadata"]["resourceVersion"]
        == (good["metadata"]["resourceVersion"])
    )

    # enforcement App (the operator's edge wrapper enforces CORS in the app): the route the operator wants is the
    # one serving, the app is rolled out with CORS, and the condition clears
    apply(cluster, namespace, hello(namespace, cors="App"))
    wait_ready(cluster, namespace, "hello")
    assert condition(must_get(cluster, "asgiservice", "hello", namespace), "Stalled")["status"] == "False"
    route = must_get(cluster, "httproute", "hello", namespace)
    assert "filters" not in route["spec"]["rules"][0]
    template = must_get(cluster, "deployment", "hello", namespace)["spec"]["template"]
    assert "ASGI_EDGE_CORS_ALLOW_ORIGINS" in json.dumps(template)


def test_a_first_deploy_with_cors_at_an_edge_whose_class_lacks_it_writes_no_route_until_the_class_has_it(
    cluster: Cluster, namespace: str, operator: OperatorProcess, fake_nodes: None, traefik_class: str
) -> None:
    apply(cluster, namespace, hello(namespace, cors="Edge"))
    obj = wait_until("Ready False: GatewayFeatureMissing", lambda: missing(cluster, namespace, "hello"), 30)
    assert_told(obj, traefik_class, "none serves until then")
    assert get(cluster, "httproute", "hello", namespace) is None  # nothing half-enforced ever serves
    # everything else is written
    for kind, name in (("deployment", "hello"), ("service", "hello-stable"), ("service", "hello-canary")):
        assert get(cluster, kind, name, namespace) is not None, f"{kind}/{name}"
    wait_until("one Warning event", lambda: warnings(cluster, namespace), 20)

    # the gateway gains the feature (an upgrade writes its class's status): the next pass writes the route with
    # its CORS filter and the condition clears
    status = traefik_status()
    status["supportedFeatures"] = sorted(
        [*status["supportedFeatures"], {"name": "HTTPRouteCORS"}], key=lambda f: f["name"]
    )
    write_class_status(cluster, traefik_class, status)
    wake(cluster, namespace, operator)
    route = wait_until("the route", lambda: get(cluster, "httproute", "hello", namespace), 30)
    assert [f["type"] for f in route["spec"]["rules"][0]["filters"]] == ["CORS"]
    wait_ready(cluster, namespace, "hello")
    assert len(warnings(cluster, namespace)) == 1
