"""The AsgiService contract, enforced by the real API server: the generated CRD installs, every example
applies, and every invalid manifest is rejected at `kubectl apply` with a message naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from asgi_operator.api.models import AsgiService
from asgi_operator.render.drift import holds
from invalid_specs import AT_THE_EDGE, BASE, INVALID, Invalid, at_the_edge
from lab.cluster import Cluster, KubectlError

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


def test_crd_is_served_with_its_names(cluster: Cluster) -> None:
    out = cluster.kubectl("api-resources", "--api-group=asgi.dev", "-o", "wide").stdout
    assert "asgiservices" in out
    assert "asgi,asvc" in out
    assert "AsgiService" in out
    crd = json.loads(cluster.kubectl("get", "crd", "asgiservices.asgi.dev", "-o", "json").stdout)
    assert crd["status"]["acceptedNames"]["shortNames"] == ["asgi", "asvc"]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_applies_server_side(cluster: Cluster, namespace: str, path: Path) -> None:
    cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", str(path))
    for doc in yaml.safe_load_all(path.read_text()):
        if doc["kind"] != "AsgiService":  # the objects it uses (a Secret, a ConfigMap) may come with it
            continue
        live = json.loads(
            cluster.kubectl("get", "asgiservice", doc["metadata"]["name"], "-n", namespace, "-o", "json").stdout
        )
        # nothing the user wrote is lost or rewritten; defaults are filled in around it
        assert holds(doc["spec"], live["spec"])
        assert "maxErrorRate" in live["spec"]["rollout"]["slo"]
        # and what the API server stored is what the operator's models accept
        AsgiService.model_validate(live)


def test_defaults_are_filled_in_by_the_api_server(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=json.dumps(BASE))
    live = json.loads(cluster.kubectl("get", "asgi", "shop", "-n", namespace, "-o", "json").stdout)
    spec = live["spec"]
    assert spec["rollout"]["steps"] == [10, 50, 100]
    assert spec["rollout"]["slo"]["maxErrorRate"] == 0.005
    assert spec["rollout"]["slo"]["maxLatencyP99"] == "200ms"
    assert spec["server"]["kind"] == "uvicorn"
    assert spec["server"]["gracefulShutdownTimeout"] == "30s"
    assert "keepAliveTimeout" not in spec["server"]  # server-specific: 65s, granian 60s (its maximum)
    assert spec["probes"]["path"] == "/healthz"


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_api_server_rejects_invalid_manifest(cluster: Cluster, namespace: str, case: Invalid) -> None:
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=json.dumps(case.manifest()))
    message = err.value.stderr
    assert case.field in message, message
    for word in case.words:
        assert word in message, message
    # and nothing was stored
    assert cluster.kubectl("get", "asgi", "-n", namespace, "-o", "name").stdout.strip() == ""


@pytest.mark.parametrize("changes", [c for _, c in AT_THE_EDGE], ids=[i for i, _ in AT_THE_EDGE])
def test_api_server_accepts_specs_at_the_edge_of_a_rule(
    cluster: Cluster, namespace: str, changes: dict[str, object]
) -> None:
    cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=json.dumps(at_the_edge(changes)))


def test_unknown_field_is_rejected_not_dropped(cluster: Cluster, namespace: str) -> None:
    body = {**BASE, "spec": {**BASE["spec"], "replica": 3}}
    with pytest.raises(KubectlError, match=r"spec.replica: field not declared in schema"):
        cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=json.dumps(body))


def test_printer_columns(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=json.dumps(BASE))
    header = cluster.kubectl("get", "asgi", "-n", namespace).stdout.splitlines()[0].split()
    assert header == ["NAME", "READY", "PHASE", "REPLICAS", "CANARY", "STEP", "FAILED", "REVISION", "AGE"]
    wide = cluster.kubectl("get", "asgi", "-n", namespace, "-o", "wide").stdout.splitlines()[0].split()
    assert {"IMAGE", "MESSAGE"} <= set(wide)
