"""Everything one AsgiService should own, as one list of manifests: the desired state of the world.

Inputs are the current spec, the spec whose pod template the stable track runs (the same spec, except while
a canary is in flight), and the canary's size and weight. The output is deterministic, so applying it twice
changes nothing, and comparing it with the live objects tells exactly what to write.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..api import keys
from ..api.models import AsgiServiceSpec, Router
from .meta import Manifest, Owner, canary_name, stable_name, with_config_hash
from .monitoring import pod_monitor, wants_pod_monitor
from .network import http_route, ingress, services, strips_prefix
from .scaling import fixed_replicas, hpa, pdb
from .workload import deployment, pod_template


@dataclass(frozen=True)
class CanaryPlan:
    """The canary Deployment: which spec it runs and how many pods (zero between rollouts)."""

    spec: AsgiServiceSpec
    replicas: int


@dataclass(frozen=True)
class Children:
    apply: list[Manifest]
    # (apiVersion, kind, name) of objects the operator may have created before and no longer wants
    delete: list[tuple[str, str, str]] = field(default_factory=list)


def effective_router(spec: AsgiServiceSpec) -> Router:
    if spec.rollout.router is not None:
        return spec.rollout.router
    expose = spec.expose
    if expose is not None and (expose.gateway is not None or expose.http_route is not None):
        return Router.GATEWAY_API
    if expose is not None and expose.ingress is not None and "nginx" in expose.ingress.class_name:
        return Router.INGRESS_NGINX
    return Router.REPLICAS


def revision_of(owner: Owner, spec: AsgiServiceSpec) -> str:
    return pod_template(owner, spec)[1]


def desired_children(
    owner: Owner,
    spec: AsgiServiceSpec,
    *,
    stable_spec: AsgiServiceSpec | None = None,
    canary: CanaryPlan | None = None,
    traffic: list[Manifest] | None = None,
    pod_monitor_crd: bool = False,
) -> Children:
    """Everything but the traffic split, plus the router's objects (`traffic`)."""
    stable_template, _ = pod_template(owner, stable_spec or spec)
    router = effective_router(spec)
    out: list[Manifest] = [
        deployment(owner, spec, stable_template, track=keys.TRACK_STABLE, replicas=fixed_replicas(spec)),
        *services(owner, spec),
    ]
    if canary is not None:
        canary_template, _ = pod_template(owner, canary.spec)
        out.append(deployment(owner, spec, canary_template, track=keys.TRACK_CANARY, replicas=canary.replicas))
    out += [m for m in (hpa(owner, spec), pdb(owner, spec)) if m is not None]

    expose = spec.expose
    traffic = list(traffic or [])
    routed = {(m["kind"], m["metadata"]["name"]) for m in traffic}
    if expose is not None and expose.gateway is not None and ("HTTPRoute", owner.name) not in routed:
        # exposed through a Gateway while another router splits traffic: the route sends to every track
        out.append(
            http_route(owner, expose, expose.gateway, backends=[(owner.name, 100)], strip_prefix=strips_prefix(spec))
        )
    if expose is not None and expose.ingress is not None:
        nginx = router == Router.INGRESS_NGINX
        out.append(ingress(owner, expose, expose.ingress, backend=stable_name(owner) if nginx else owner.name))
    out += traffic
    if wants_pod_monitor(spec, pod_monitor_crd):
        out.append(pod_monitor(owner, spec))

    present = {(m["kind"], m["metadata"]["name"]) for m in out}
    optional = [
        ("autoscaling/v2", "HorizontalPodAutoscaler", owner.name),
        ("policy/v1", "PodDisruptionBudget", owner.name),
        ("gateway.networking.k8s.io/v1", "HTTPRoute", owner.name),
        ("networking.k8s.io/v1", "Ingress", owner.name),
        ("networking.k8s.io/v1", "Ingress", canary_name(owner)),
    ]
    if pod_monitor_crd:
        optional.append(("monitoring.coreos.com/v1", "PodMonitor", owner.name))
    delete = [ref for ref in optional if (ref[1], ref[2]) not in present]
    return Children(apply=[with_config_hash(m) for m in out], delete=delete)
