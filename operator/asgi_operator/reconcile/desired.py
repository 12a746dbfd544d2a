"""Everything one AsgiService should own, as one list of manifests: the desired state of the world.

The workload (render.children) plus the traffic router's exposure and split objects, and the list of objects
the operator may have created before and no longer wants, derived from what the workload and the routers
declare they may own. Deterministic: applying it twice changes nothing, and comparing it with the live
objects tells exactly what to write.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..api.kinds import CERTIFICATE, POD_MONITOR
from ..api.models import AsgiServiceSpec
from ..render.children import CanaryPlan, certificates, monitoring, workload
from ..render.meta import Manifest, Owner, with_config_hash
from ..routers import TrafficRouter, owned_children, router_for


@dataclass(frozen=True)
class Children:
    apply: list[Manifest]
    # (apiVersion, kind, name) of objects the operator may have created before and no longer wants
    delete: list[tuple[str, str, str]] = field(default_factory=list)


def desired_children(
    owner: Owner,
    spec: AsgiServiceSpec,
    *,
    stable_spec: AsgiServiceSpec | None = None,
    canary: CanaryPlan | None = None,
    weight: int = 0,
    router: TrafficRouter | None = None,
    pod_monitor_crd: bool = False,
    cert_manager_crd: bool = False,
) -> Children:
    router = router or router_for(spec)
    out = [
        *workload(owner, spec, stable_spec=stable_spec, canary=canary),
        *router.manifests(owner, spec, weight, canary is not None),
        *monitoring(owner, spec, pod_monitor_crd=pod_monitor_crd),
        *certificates(owner, spec, cert_manager_crd=cert_manager_crd),
    ]
    present = {(m["apiVersion"], m["kind"], m["metadata"]["name"]) for m in out}
    delete = [
        child.ref(owner)
        for child in owned_children()
        if child.optional
        and child.ref(owner) not in present
        and (pod_monitor_crd or child.kind != POD_MONITOR)  # without the CRD there can be none
        and (cert_manager_crd or child.kind != CERTIFICATE)
    ]
    return Children(apply=[with_config_hash(m) for m in out], delete=delete)
