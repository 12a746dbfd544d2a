"""The pod fields of an AsgiService are Kubernetes' own: every property our generated CRD defines for them exists
in the REAL API server's OpenAPI v3 schema of a Pod (`/openapi/v3/api/v1`) with the same type, so the shape users
copy from a Pod manifest works here and can never drift from Kubernetes'. We take a subset (the reference says
which); a subset is fine, a field Kubernetes does not have (or types differently) is not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from asgi_operator.api.crd import build_crd
from lab.cluster import Cluster

Schema = dict[str, Any]

POD_SPEC = "io.k8s.api.core.v1.PodSpec"
CONTAINER = "io.k8s.api.core.v1.Container"
# spec field of an AsgiService -> (Kubernetes schema, property) it is a copy of
MIRRORED: dict[str, tuple[str, str]] = {
    "volumes": (POD_SPEC, "volumes"),
    "volumeMounts": (CONTAINER, "volumeMounts"),
    "nodeSelector": (POD_SPEC, "nodeSelector"),
    "tolerations": (POD_SPEC, "tolerations"),
    "affinity": (POD_SPEC, "affinity"),
    "topologySpreadConstraints": (POD_SPEC, "topologySpreadConstraints"),
    "priorityClassName": (POD_SPEC, "priorityClassName"),
    "initContainers": (POD_SPEC, "initContainers"),
    "imagePullSecrets": (POD_SPEC, "imagePullSecrets"),
    "serviceAccountName": (POD_SPEC, "serviceAccountName"),
    "imagePullPolicy": (CONTAINER, "imagePullPolicy"),
    "env": (CONTAINER, "env"),
    "envFrom": (CONTAINER, "envFrom"),
}


def _spec_properties() -> dict[str, Schema]:
    version = build_crd()["spec"]["versions"][0]
    return dict(version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"])


class KubernetesSchema:
    def __init__(self, document: Schema) -> None:
        self.schemas: dict[str, Schema] = document["components"]["schemas"]

    def resolve(self, node: Schema) -> Schema:
        """Follow `$ref` and the `allOf: [{$ref}]` wrapper Kubernetes puts around references."""
        while True:
            ref = node.get("$ref") or next((b["$ref"] for b in node.get("allOf", []) if "$ref" in b), None)
            if ref is None:
                return node
            name = ref.rsplit("/", 1)[-1]
            if name.endswith("resource.Quantity"):
                return {"type": "quantity"}
            node = self.schemas[name]

    def kind(self, node: Schema) -> str:
        node = self.resolve(node)
        if node.get("format") == "int-or-string":
            return "int-or-string"
        return str(node.get("type", "?"))


def _our_kind(node: Schema) -> str:
    return "int-or-string" if node.get("x-kubernetes-int-or-string") else str(node.get("type", "?"))


# Kubernetes' JSON decoder takes a quantity as a number or a string: our int-or-string is the same thing.
_COMPATIBLE = {("int-or-string", "quantity")}


def differences(ours: Schema, theirs: Schema, k8s: KubernetesSchema, where: str) -> list[str]:
    """Every property of `ours` that `theirs` lacks or types differently (recursively)."""
    theirs = k8s.resolve(theirs)
    mine, their = _our_kind(ours), k8s.kind(theirs)
    if mine != their and (mine, their) not in _COMPATIBLE:
        return [f"{where}: ours is {mine}, Kubernetes' is {their}"]
    out: list[str] = []
    if mine == "object":
        for name, sub in ours.get("properties", {}).items():
            if name not in theirs.get("properties", {}):
                out.append(f"{where}.{name}: not a field of Kubernetes' {where.rsplit('.', 1)[-1]}")
            else:
                out += differences(sub, theirs["properties"][name], k8s, f"{where}.{name}")
        if "additionalProperties" in ours:
            if "additionalProperties" not in theirs:
                out.append(f"{where}: a map in ours, not in Kubernetes'")
            else:
                out += differences(ours["additionalProperties"], theirs["additionalProperties"], k8s, f"{where}{{}}")
    elif mine == "array":
        out += differences(ours["items"], theirs["items"], k8s, f"{where}[]")
    return out


@pytest.fixture(scope="module")
def kubernetes_schema(cluster: Cluster) -> KubernetesSchema:
    return KubernetesSchema(json.loads(cluster.kubectl("get", "--raw", "/openapi/v3/api/v1").stdout))


@pytest.mark.parametrize("field", MIRRORED, ids=list(MIRRORED))
def test_pod_fields_have_kubernetes_shape(kubernetes_schema: KubernetesSchema, field: str) -> None:
    owner, prop = MIRRORED[field]
    ours = _spec_properties()[field]
    theirs = kubernetes_schema.schemas[owner]["properties"][prop]
    assert differences(ours, theirs, kubernetes_schema, f"spec.{field}") == []


def test_the_comparison_catches_a_drift(kubernetes_schema: KubernetesSchema) -> None:
    """The check above is not vacuous: a field Kubernetes does not have, or types differently, is reported."""
    ours = json.loads(json.dumps(_spec_properties()["tolerations"]))
    ours["items"]["properties"]["tolerationSecond"] = {"type": "integer"}
    ours["items"]["properties"]["effect"] = {"type": "integer"}
    theirs = kubernetes_schema.schemas[POD_SPEC]["properties"]["tolerations"]
    found = differences(ours, theirs, kubernetes_schema, "spec.tolerations")
    assert any("tolerationSecond: not a field" in d for d in found), found
    assert any("effect: ours is integer, Kubernetes' is string" in d for d in found), found


def test_every_mirrored_field_is_checked() -> None:
    """A new pod field of the spec is added to MIRRORED (or to the allow-list of our own fields)."""
    ours_only = {
        "image", "app", "server", "port", "resources", "probes", "shutdown", "metrics", "replicas", "autoscaling",
        "expose", "rollout", "podLabels", "podAnnotations", "observability",
    }  # fmt: skip
    assert set(_spec_properties()) - ours_only - set(MIRRORED) == set()
