"""Handing a Deployment's replicas to the HPA without dropping pods.

A Deployment whose replicas the HPA owns is applied without `replicas`. Server-side apply would then reset a
field nobody else owns to its default (1 pod): so a second field manager sets it once, to the HPA's minimum on
creation, or to the current count when autoscaling is switched on."""

from __future__ import annotations

from typing import Any

from ..api import keys
from ..api.models import AsgiServiceSpec


def replicas_handover(
    spec: AsgiServiceSpec, manifest: dict[str, Any], live: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The one-off apply (by keys.REPLICAS_FIELD_MANAGER) that keeps the pods, or None when none is needed."""
    if manifest["kind"] != "Deployment" or "replicas" in manifest["spec"] or spec.autoscaling is None:
        return None
    if live is None:
        replicas = spec.autoscaling.min_replicas
    elif _manages_replicas(live, keys.FIELD_MANAGER):
        replicas = int(live["spec"].get("replicas", spec.autoscaling.min_replicas))
    else:
        return None
    meta = manifest["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": {"replicas": replicas},
    }


def _manages_replicas(live: dict[str, Any], manager: str) -> bool:
    return any(
        entry.get("manager") == manager
        and entry.get("operation") == "Apply"
        and "f:replicas" in entry.get("fieldsV1", {}).get("f:spec", {})
        for entry in live["metadata"].get("managedFields", [])
    )
