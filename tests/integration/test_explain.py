"""`kubectl explain asgiservice.<field>` answers, against the real API server: the CRD as installed (crds/) is
published in OpenAPI v3 with a description on every property, and kubectl shows them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from asgi_operator.api import keys
from asgi_operator.api.crd import undocumented
from lab.cluster import Cluster, wait_for

CRD_FILE = Path(__file__).resolve().parents[2] / "crds" / "asgiservice.yaml"
OPENAPI_PATH = f"/openapi/v3/apis/{keys.GROUP}/{keys.VERSION}"
SCHEMA_NAME = f"{'.'.join(reversed(keys.GROUP.split('.')))}.{keys.VERSION}.{keys.KIND}"

# leaves and objects, spec and status, inside lists and maps
PATHS = [
    "spec.probes.readiness.periodSeconds",
    "spec.rollout.slo",
    "spec.rollout.slo.maxLatencyP99",
    "spec.env.valueFrom.secretKeyRef.name",
    "spec.expose.ingress.annotations",
    "spec.autoscaling.maxReplicas",
    "status.rollout.canaryWeight",
    "status.rollout.lastAnalysis.verdict",
    "status.conditions.lastTransitionTime",
]


def _crd_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD_FILE.read_text())
    return dict(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def _paths(node: dict[str, Any], path: str = "") -> set[str]:
    out: set[str] = set()
    for name, sub in node.get("properties", {}).items():
        where = f"{path}.{name}" if path else name
        out |= {where} | _paths(sub, where)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            out |= _paths(node[key], path)
    return out


def _at(node: dict[str, Any], path: str) -> dict[str, Any]:
    for name in path.split("."):
        node = node["properties"][name]
        while node.get("type") == "array":
            node = node["items"]
    return node


@pytest.fixture(scope="module")
def published(cluster: Cluster) -> dict[str, Any]:
    """The AsgiService schema the API server publishes in OpenAPI v3 (what kubectl explain reads), once it has
    every field of the installed CRD (publishing lags the CRD by a moment)."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    want = _paths(_crd_schema())

    def served() -> dict[str, Any] | None:
        doc = json.loads(cluster.kubectl("get", "--raw", OPENAPI_PATH).stdout)
        schema: dict[str, Any] = doc["components"]["schemas"][SCHEMA_NAME]
        return schema if want <= _paths(schema) else None

    return dict(wait_for(f"{SCHEMA_NAME} with every field in {OPENAPI_PATH}", served, timeout=60))  # type: ignore[arg-type]


def test_every_published_property_has_a_description(published: dict[str, Any]) -> None:
    missing = undocumented(published)
    assert not missing, "kubectl explain shows no description for:\n" + "\n".join(missing)


def _description(explain: str) -> str:
    """The DESCRIPTION section of `kubectl explain` output (up to FIELDS:, if any)."""
    lines = explain.splitlines()
    start = lines.index("DESCRIPTION:") + 1
    body = []
    for line in lines[start:]:
        if line.startswith("FIELDS:"):
            break
        body.append(line.strip())
    return " ".join(filter(None, body))


@pytest.mark.parametrize("path", PATHS)
def test_kubectl_explain_answers(cluster: Cluster, published: dict[str, Any], path: str, tmp_path: Path) -> None:
    out = cluster.kubectl("explain", f"{keys.SINGULAR}.{path}", f"--cache-dir={tmp_path}").stdout
    text = _description(out)
    assert text and text != "<empty>", out
    # and it is ours: the first words of the generated description
    expected = " ".join(str(_at(_crd_schema(), path)["description"]).split())
    assert text.startswith(expected[:40]), out


def test_kubectl_explain_recursive(cluster: Cluster, published: dict[str, Any], tmp_path: Path) -> None:
    out = cluster.kubectl("explain", f"{keys.SINGULAR}.spec.rollout.slo", "--recursive", f"--cache-dir={tmp_path}")
    assert "perRoute" in out.stdout and _description(out.stdout), out.stdout
