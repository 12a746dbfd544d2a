"""Read what the operator needs from live objects (plain dicts) into small, typed observations."""

from __future__ import annotations

from typing import Any

from ..api import keys
from ..rollout.machine import Workload


def workload(deployment: dict[str, Any] | None) -> Workload | None:
    if deployment is None:
        return None
    meta = deployment.get("metadata", {})
    spec = deployment.get("spec", {})
    status = deployment.get("status", {})
    labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
    return Workload(
        replicas=int(spec.get("replicas", 1)),
        ready=int(status.get("readyReplicas", 0)),
        available=int(status.get("availableReplicas", 0)),
        updated=int(status.get("updatedReplicas", 0)),
        total=int(status.get("replicas", 0)),
        current=int(status.get("observedGeneration", 0)) >= int(meta.get("generation", 0)),
        revision=labels.get(keys.LABEL_REVISION),
    )


def annotation(body: dict[str, Any], key: str) -> str | None:
    value = body.get("metadata", {}).get("annotations", {}).get(key)
    return str(value) if value is not None else None


def is_paused(body: dict[str, Any]) -> bool:
    return (annotation(body, keys.ANNOTATION_PAUSED) or "").strip().lower() == "true"
