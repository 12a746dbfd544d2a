"""HorizontalPodAutoscaler (when autoscaling is set) and PodDisruptionBudget (when there can be more than
one replica)."""

from __future__ import annotations

from ..api import keys
from ..api.models import AsgiServiceSpec
from .meta import Manifest, Owner, metadata, selector


def fixed_replicas(spec: AsgiServiceSpec) -> int | None:
    """The replica count the operator sets, or None when the HPA owns it."""
    if spec.autoscaling is not None:
        return None
    return 1 if spec.replicas is None else spec.replicas


def hpa(owner: Owner, spec: AsgiServiceSpec) -> Manifest | None:
    scaling = spec.autoscaling
    if scaling is None:
        return None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(owner, owner.name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": owner.name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": scaling.target_cpu_utilization_percentage,
                        },
                    },
                }
            ],
        },
    }


def pdb(owner: Owner, spec: AsgiServiceSpec) -> Manifest | None:
    """At most one pod disrupted at a time; unhealthy pods may always be evicted, so a broken pod never
    blocks a node drain."""
    most = spec.autoscaling.max_replicas if spec.autoscaling is not None else (spec.replicas or 1)
    if most <= 1:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(owner, owner.name),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector(owner, keys.TRACK_STABLE)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }
