"""The operator against the real API server, running as a real process under its least-privilege identity:
examples become Ready workloads, changes roll through, drift is repaired, idle costs no writes, deletion
cleans up, and API errors become conditions."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration.conftest import identity, operator_rules
from integration.helpers import (
    apply,
    condition,
    events_for,
    example,
    get,
    must_get,
    operator_writes,
    replace_spec,
    wait_ready,
    wait_until,
)
from integration.operator_proc import OperatorProcess
from lab.cluster import Cluster

# Workloads here run placeholder images: they become Ready only on the lab's kwok nodes.
pytestmark = pytest.mark.usefixtures("fake_nodes")


def rolling(doc: dict[str, Any]) -> dict[str, Any]:
    """The example without canary analysis (these tests are about the workload; canaries are elsewhere)."""
    doc["spec"].setdefault("rollout", {})["strategy"] = "RollingUpdate"
    return doc


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    return dict(deployment["spec"]["template"]["spec"]["containers"][0])


def test_hello_example_becomes_ready_with_everything_it_needs(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    doc = example("hello.yaml")
    started = time.monotonic()
    apply(cluster, namespace, doc)
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "--timeout=60s", "asgiservice/hello")
    ready_after = time.monotonic() - started
    print(f"kubectl apply -> Ready=True in {ready_after:.2f}s")

    asvc = must_get(cluster, "asgiservice", "hello", namespace)
    uid = asvc["metadata"]["uid"]
    status = asvc["status"]
    assert status["phase"] == "Ready"
    assert status["observedGeneration"] == asvc["metadata"]["generation"]
    assert status["readyReplicas"] == 3
    assert status["stableRevision"] == status["revision"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
    }

    deploy = must_get(cluster, "deployment", "hello", namespace)
    c = container(deploy)
    # behind the asgi_edge wrapper (the default), which imports the app named in ASGI_EDGE_APP
    assert c["command"][:4] == ["uvicorn", "asgi_edge:app", "--app-dir", "/opt/asgi-edge"]
    assert {"name": "ASGI_EDGE_APP", "value": "main:app"} in c["env"]
    assert must_get(cluster, "configmap", "hello-edge", namespace)["data"]["asgi_edge.py"].startswith('"""asgi_edge')
    assert "--timeout-keep-alive" in c["command"] and "65" in c["command"]
    assert c["command"][c["command"].index("--forwarded-allow-ips") + 1] == "10.0.0.0/8"
    assert c["lifecycle"]["preStop"]["sleep"]["seconds"] == 10
    assert deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 10 + 30 + 5
    assert c["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert deploy["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert deploy["spec"]["replicas"] == 3
    assert deploy["metadata"]["ownerReferences"][0]["uid"] == uid
    assert deploy["spec"]["template"]["metadata"]["labels"]["asgi.dev/revision"] == status["revision"]

    for svc in ("hello", "hello-stable", "hello-canary"):
        assert must_get(cluster, "service", svc, namespace)["metadata"]["ownerReferences"][0]["uid"] == uid
    route = must_get(cluster, "httproute", "hello", namespace)
    assert route["spec"]["hostnames"] == ["hello.example.com"]
    assert route["spec"]["parentRefs"][0]["name"] == "public"
    assert [(b["name"], b["weight"]) for b in route["spec"]["rules"][0]["backendRefs"]] == [
        ("hello-stable", 100),
        ("hello-canary", 0),
    ]
    assert must_get(cluster, "pdb", "hello", namespace)["spec"]["maxUnavailable"] == 1
    assert get(cluster, "hpa", "hello", namespace) is None

    reasons = [e["reason"] for e in events_for(cluster, namespace, "hello")]
    assert "Created" in reasons and "Deployed" in reasons


def test_orders_example_autoscaled_behind_nginx_with_tls(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, example("orders-gunicorn.yaml"))
    wait_ready(cluster, namespace, "orders")
    deploy = json.loads(
        cluster.kubectl("get", "deployment", "orders", "-n", namespace, "-o", "json", "--show-managed-fields").stdout
    )
    c = container(deploy)
    assert c["command"][:4] == ["gunicorn", "asgi_edge:app", "--pythonpath", "/opt/asgi-edge"]
    assert {"name": "ASGI_EDGE_APP", "value": "orders.api:app"} in c["env"]
    assert {"name": "PROMETHEUS_MULTIPROC_DIR", "value": "/var/run/prometheus-multiproc"} in c["env"]
    assert deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 45  # explicit, and it fits
    hpa = must_get(cluster, "hpa", "orders", namespace)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    # the operator never sets replicas the HPA owns: it does not manage the field at all
    managers = {m["manager"]: json.dumps(m.get("fieldsV1", {})) for m in deploy["metadata"]["managedFields"]}
    assert '"f:replicas"' not in managers["asgi-operator"]
    # created at the HPA's minimum right away, not at the Deployment default of 1
    assert deploy["spec"]["replicas"] == 3
    ingress = must_get(cluster, "ingress", "orders", namespace)
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["orders.example.com"], "secretName": "orders-example-com-tls"}]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "orders-stable"


def test_switching_to_autoscaling_keeps_the_pods_running(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    doc = rolling(example("hello.yaml"))
    doc["spec"]["replicas"] = 6
    apply(cluster, namespace, doc)
    wait_ready(cluster, namespace, "hello")
    del doc["spec"]["replicas"]
    doc["spec"]["autoscaling"] = {"minReplicas": 2, "maxReplicas": 10}
    replace_spec(cluster, namespace, doc)
    wait_until("the HPA", lambda: get(cluster, "hpa", "hello", namespace))
    # server-side apply without `replicas` would have reset the Deployment to 1 pod; it keeps 6
    assert must_get(cluster, "deployment", "hello", namespace)["spec"]["replicas"] == 6
    assert wait_ready(cluster, namespace, "hello")["status"]["readyReplicas"] == 6


def test_existing_httproute_gets_only_its_weights_managed(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "storefront", "labels": {"team": "platform"}},
        "spec": {
            "parentRefs": [{"name": "public"}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/cart"}}],
                    "backendRefs": [{"name": "cart", "port": 80}],
                },
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/search"}}],
                    "backendRefs": [
                        {"name": "search-stable", "port": 80, "weight": 50},
                        {"name": "search-canary", "port": 80, "weight": 50},
                    ],
                },
            ],
        },
    }
    apply(cluster, namespace, route)
    apply(cluster, namespace, example("search-granian.yaml"))
    wait_ready(cluster, namespace, "search")
    live = must_get(cluster, "httproute", "storefront", namespace)
    assert [(b["name"], b["weight"]) for b in live["spec"]["rules"][1]["backendRefs"]] == [
        ("search-stable", 100),
        ("search-canary", 0),
    ]
    assert live["spec"]["rules"][0]["backendRefs"] == [
        {"group": "", "kind": "Service", "name": "cart", "port": 80, "weight": 1}
    ]
    assert live["metadata"]["labels"] == {"team": "platform"}
    assert "ownerReferences" not in live["metadata"]  # still the platform team's object
    assert get(cluster, "httproute", "search", namespace) is None


def test_scale_image_and_env_changes_roll_through(cluster: Cluster, namespace: str, operator: OperatorProcess) -> None:
    doc = rolling(example("hello.yaml"))
    apply(cluster, namespace, doc)
    first = wait_ready(cluster, namespace, "hello")["status"]

    doc["spec"]["replicas"] = 5
    apply(cluster, namespace, doc)
    scaled = wait_ready(cluster, namespace, "hello")["status"]
    assert scaled["readyReplicas"] == 5
    assert scaled["revision"] == first["revision"]  # scaling is not a new revision
    assert must_get(cluster, "deployment", "hello", namespace)["spec"]["replicas"] == 5

    doc["spec"]["image"] = "registry.example.com/hello:1.1.0"
    apply(cluster, namespace, doc)
    imaged = wait_ready(cluster, namespace, "hello")["status"]
    assert imaged["revision"] != first["revision"]
    assert imaged["stableRevision"] == imaged["revision"]
    assert imaged["image"] == "registry.example.com/hello:1.1.0"
    deploy = must_get(cluster, "deployment", "hello", namespace)
    assert container(deploy)["image"] == "registry.example.com/hello:1.1.0"
    assert deploy["status"]["updatedReplicas"] == 5

    doc["spec"]["env"] = [{"name": "APP_VERSION", "value": "v2"}, {"name": "FEATURE_X", "value": "on"}]
    apply(cluster, namespace, doc)
    enved = wait_ready(cluster, namespace, "hello")["status"]
    assert enved["revision"] not in (first["revision"], imaged["revision"])
    env = container(must_get(cluster, "deployment", "hello", namespace))["env"]
    assert {"name": "FEATURE_X", "value": "on"} in env
    reasons = [e["reason"] for e in events_for(cluster, namespace, "hello")]
    assert reasons.count("Updated") >= 2


def test_drift_is_repaired_and_foreign_fields_are_left_alone(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rolling(example("hello.yaml")))
    wait_ready(cluster, namespace, "hello")

    # another tool's annotation on a child is none of the operator's business
    cluster.kubectl("annotate", "service", "hello", "-n", namespace, "mesh.example.com/inject=true")
    # a person deletes one child and edits another
    cluster.kubectl("delete", "service", "hello-stable", "-n", namespace)
    cluster.kubectl(
        "patch",
        "deployment",
        "hello",
        "-n",
        namespace,
        "--type=json",
        "-p",
        json.dumps(
            [
                {
                    "op": "replace",
                    "path": "/spec/template/spec/containers/0/image",
                    "value": "registry.example.com/hello:hacked",
                }
            ]
        ),
    )
    wait_until(
        "the deleted Service to be put back", lambda: get(cluster, "service", "hello-stable", namespace) is not None
    )
    # and somebody edits the wrapper's source (kept in the operator's memory as a digest, not as text)
    edge = must_get(cluster, "configmap", "hello-edge", namespace)
    wanted_source = edge["data"]["asgi_edge.py"]
    cluster.kubectl(
        "patch",
        "configmap",
        "hello-edge",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"data": {"asgi_edge.py": wanted_source + "\nraise SystemExit('tampered')\n"}}),
    )
    wait_until(
        "the wrapper's source to be put back",
        lambda: must_get(cluster, "configmap", "hello-edge", namespace)["data"]["asgi_edge.py"] == wanted_source,
    )
    wait_until(
        "the edited image to be put back",
        lambda: (
            container(must_get(cluster, "deployment", "hello", namespace))["image"]
            == "registry.example.com/hello:1.0.0"
        ),
    )
    svc = must_get(cluster, "service", "hello", namespace)
    assert svc["metadata"]["annotations"]["mesh.example.com/inject"] == "true"
    wait_until(
        "a DriftRepaired event",
        lambda: "DriftRepaired" in [e["reason"] for e in events_for(cluster, namespace, "hello")],
    )

    def repaired() -> str:
        events = events_for(cluster, namespace, "hello")
        return " ".join(e["message"] for e in events if e["reason"] == "DriftRepaired")

    # the deleted Service is a repair too, never announced as a fresh creation
    wait_until("the Service's repair announced", lambda: "Service/hello-stable" in repaired())
    created = [e["message"] for e in events_for(cluster, namespace, "hello") if e["reason"] == "Created"]
    assert len(created) == 1 and "Service/hello-stable" in created[0]  # only the first creation


def test_converged_resync_and_restart_cost_zero_writes(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path
) -> None:
    if cluster.audit_events() is None:
        pytest.skip("needs the API server's audit log (the lab has one)")
    op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
    try:
        apply(cluster, namespace, rolling(example("orders-gunicorn.yaml")))
        apply(cluster, namespace, rolling(example("hello.yaml")))
        created_at = time.time() - 1
        for name in ("orders", "hello"):
            wait_ready(cluster, namespace, name)
        quiet_since = _wait_quiet(cluster, op, created_at)
        create_writes = operator_writes(cluster, created_at)
        print(f"writes to converge 2 new AsgiServices: {len(create_writes)}: {create_writes}")

        # 1. a watch event that changes nothing the operator owns: full reconcile, zero writes
        before = _reconciles(op)
        cluster.kubectl("label", "service", "hello", "-n", namespace, "team=checkout")
        wait_until("the operator to reconcile after the event", lambda: _reconciles(op) > before)
        # 2. the operator restarts: every object is resumed and re-reconciled, zero writes
        op.stop()
        op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
        wait_until("both AsgiServices reconciled after the restart", lambda: _reconciles(op) >= 2)
        assert operator_writes(cluster, quiet_since) == []
        assert 'asgi_operator_reconciles_total{outcome="changed"}' not in op.metrics()
    finally:
        op.stop()


def _reconciles(op: OperatorProcess) -> float:
    total = 0.0
    for line in op.metrics().splitlines():
        m = re.match(r'asgi_operator_reconciles_total\{outcome="(\w+)"\} ([0-9.e+]+)', line)
        if m:
            total += float(m.group(2))
    return total


def _wait_quiet(cluster: Cluster, op: OperatorProcess, since: float) -> float:
    """Wait until the operator has written nothing for two seconds; return when that quiet began."""

    def quiet() -> float | None:
        writes_before = len(operator_writes(cluster, since))
        mark = time.time()
        deadline = mark + 2
        while time.time() < deadline:  # an observation window, bounded; not a wait for success
            if len(operator_writes(cluster, since)) != writes_before:
                return None
            time.sleep(0.2)
        return mark

    return float(wait_until("the operator to go quiet", quiet, 60))


def test_deleting_the_asgiservice_removes_every_child(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rolling(example("orders-gunicorn.yaml")))
    wait_ready(cluster, namespace, "orders")
    asvc = must_get(cluster, "asgiservice", "orders", namespace)
    assert asvc["metadata"].get("finalizers", []) == []
    cluster.kubectl("delete", "asgiservice", "orders", "-n", namespace, "--timeout=30s")
    kinds = "deployments,services,hpa,pdb,ingresses,httproutes"
    wait_until(
        "every child garbage-collected",
        lambda: (
            cluster.kubectl("get", kinds, "-n", namespace, "-l", "asgi.dev/name=orders", "-o", "name").stdout.strip()
            == ""
        ),
    )


def test_permission_errors_surface_as_conditions_and_events(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    rules = [r for r in operator_rules() if "poddisruptionbudgets" not in r["resources"]]  # type: ignore[operator]
    kubeconfig = identity(cluster, "asgi-operator-no-pdb", rules, tmp_path)
    op = OperatorProcess(kubeconfig, "-n", namespace).start()
    try:
        apply(cluster, namespace, rolling(example("hello.yaml")))

        def forbidden() -> dict[str, Any] | None:
            obj = get(cluster, "asgiservice", "hello", namespace)
            ready = condition(obj, "Ready")
            return ready if ready.get("reason") == "Forbidden" else None

        ready = wait_until("Ready=False with reason Forbidden", forbidden)
        assert ready["status"] == "False"
        assert "poddisruptionbudgets" in ready["message"]
        assert condition(get(cluster, "asgiservice", "hello", namespace), "Reconciling")["status"] == "True"
        warnings = [e for e in events_for(cluster, namespace, "hello") if e["type"] == "Warning"]
        assert any(e["reason"] == "Forbidden" and "poddisruptionbudgets" in e["message"] for e in warnings)
        assert op.proc is not None and op.proc.poll() is None  # no crash loop
    finally:
        op.stop()


def test_invalid_spec_that_slips_through_becomes_a_condition(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    """Version skew: a CRD older than the operator lets through a spec the operator cannot run. That becomes
    Stalled=True with the reason and an event, never a crash loop."""
    from lab.cluster import REPO

    crd = yaml.safe_load((REPO / "crds" / "asgiservice.yaml").read_text())
    rollout = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["rollout"]
    lenient = json.loads(json.dumps(crd))
    lenient_rollout = lenient["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "rollout"
    ]
    lenient_rollout.pop("x-kubernetes-validations")
    assert rollout.get("x-kubernetes-validations")
    try:
        cluster.kubectl_apply(json.dumps(lenient))
        doc = rolling(example("hello.yaml"))
        doc["spec"]["rollout"]["steps"] = [50, 10, 100]
        wait_until(
            "the lenient CRD to accept the spec",
            lambda: (
                cluster.kubectl(
                    "apply", "--server-side", "-n", namespace, "-f", "-", stdin=json.dumps(doc), check=False
                ).returncode
                == 0
            ),
        )

        def stalled() -> dict[str, Any] | None:
            c = condition(get(cluster, "asgiservice", "hello", namespace), "Stalled")
            return c if c.get("status") == "True" else None

        c = wait_until("Stalled=True", stalled)
        assert c["reason"] == "InvalidSpec"
        assert "steps must be strictly increasing" in c["message"]
        assert get(cluster, "deployment", "hello", namespace) is None  # nothing half-done
        assert any(e["reason"] == "InvalidSpec" for e in events_for(cluster, namespace, "hello"))
        assert operator.proc is not None and operator.proc.poll() is None
    finally:
        cluster.kubectl("delete", "asgiservice", "hello", "-n", namespace, "--wait=false", check=False)
        cluster.kubectl_apply((REPO / "crds" / "asgiservice.yaml").read_text())


def test_a_namespace_being_deleted_gets_no_writes_and_no_tracebacks(
    cluster: Cluster, operator_kubeconfig: Path
) -> None:
    if cluster.audit_events() is None:
        pytest.skip("needs the API server's audit log (the lab has one)")
    from asgi_operator.api.kinds import Kind
    from asgi_operator.kube.api import ApiError, KubeApi, load_client

    namespace = f"doomed-{time.time_ns() % 10**8}"
    cluster.kubectl("create", "namespace", namespace)
    op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
    hold = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "hold", "namespace": namespace, "finalizers": ["example.com/hold"]},
    }
    try:
        names = [f"app{i}" for i in range(6)]
        for name in names:
            doc = rolling(example("hello.yaml"))
            doc["metadata"]["name"] = name
            apply(cluster, namespace, doc)
        for name in names:
            wait_ready(cluster, namespace, name)
        # a finalizer keeps the namespace Terminating until the test lets go, like a slow controller would
        cluster.kubectl_apply(json.dumps(hold))
        since = _wait_quiet(cluster, op, time.time() - 1)
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")
        wait_until(
            "every AsgiService and child deleted by the namespace controller",
            lambda: (
                cluster.kubectl(
                    "get", "asgiservices,deployments,services,pdb,httproutes", "-n", namespace, "-o", "name"
                ).stdout.strip()
                == ""
            ),
            120,
        )
        # the API server's answer when something is created in a terminating namespace: not RBAC
        api = KubeApi(load_client(str(cluster.admin_kubeconfig)))
        with pytest.raises(ApiError) as err:
            api.create(Kind("v1", "ConfigMap", "configmaps"), namespace, {"metadata": {"name": "late"}, "data": {}})
        assert err.value.namespace_terminating and not err.value.rbac_denied
        writes = operator_writes(cluster, since)
        assert writes == [], writes
        logs = op.logs()
        assert "Traceback" not in logs
        assert "lacks a permission" not in logs
    finally:
        cluster.kubectl(
            "patch",
            "configmap",
            "hold",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            '{"metadata":{"finalizers":null}}',
            check=False,
        )
        op.stop()


def test_plugin_refuses_a_request_that_would_do_nothing(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    import subprocess
    import sys

    apply(cluster, namespace, rolling(example("hello.yaml")))
    wait_ready(cluster, namespace, "hello")
    before = must_get(cluster, "asgiservice", "hello", namespace)["metadata"].get("annotations", {})
    for verb in ("retry", "abort", "promote"):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "asgi_operator.cli.plugin",
                f"--kubeconfig={cluster.admin_kubeconfig}",
                "-n",
                namespace,
                verb,
                "hello",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert out.returncode == 1, out
        assert f"nothing to {verb}" in out.stderr
        assert "requested" not in out.stdout
    assert must_get(cluster, "asgiservice", "hello", namespace)["metadata"].get("annotations", {}) == before
