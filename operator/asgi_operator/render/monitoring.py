"""A PodMonitor (prometheus-operator) carrying the pod labels the canary analysis selects on."""

from __future__ import annotations

from typing import Final

from ..api import keys
from ..api.durations import canonical
from ..api.models import AsgiServiceSpec
from .meta import Manifest, Owner, metadata, selector

POD_TARGET_LABELS: Final = [keys.LABEL_NAME, keys.LABEL_TRACK, keys.LABEL_REVISION]


def wants_pod_monitor(spec: AsgiServiceSpec, crd_available: bool) -> bool:
    return spec.metrics.scrape == "podMonitor" or (spec.metrics.scrape == "auto" and crd_available)


def pod_monitor(owner: Owner, spec: AsgiServiceSpec) -> Manifest:
    port = "metrics" if spec.metrics.port not in (None, spec.port) else "http"
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(owner, owner.name),
        "spec": {
            "selector": {"matchLabels": selector(owner)},
            "podMetricsEndpoints": [
                {"port": port, "path": spec.metrics.path, "interval": canonical(spec.metrics.interval)}
            ],
            "podTargetLabels": POD_TARGET_LABELS,
        },
    }
