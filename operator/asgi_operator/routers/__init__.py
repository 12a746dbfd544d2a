"""Traffic routers: how the canary's share of traffic is put into effect (one Protocol, one file each).

The registry is the ONE list of routers. Everything that depends on which objects the operator may own is
derived from it and from the workload's own declaration (`render.children.WORKLOAD`): the objects deleted
when no longer wanted, the kinds watched, and the RBAC rules (a generated file, see `asgi_operator.rbac`).

Adding a router: a new file with a class implementing `TrafficRouter`, one entry in REGISTRY (the first one
that applies to a spec wins), `make crds`.
"""

from __future__ import annotations

from typing import Final

from ..api.kinds import Kind
from ..api.models import AsgiServiceSpec
from ..render.children import WORKLOAD
from ..render.meta import Child, Manifest
from .base import RouterError, TrafficRouter
from .existing_route import ExistingRoute
from .gateway_api import GatewayAPI
from .ingress_nginx import IngressNginx
from .replicas import ReplicaRatio

REGISTRY: Final[tuple[TrafficRouter, ...]] = (GatewayAPI(), ExistingRoute(), IngressNginx(), ReplicaRatio())


def router_for(spec: AsgiServiceSpec) -> TrafficRouter:
    """spec.rollout.router if set, else the first router that can split traffic for the spec's exposure."""
    chosen = spec.rollout.router
    for router in REGISTRY:
        if (chosen is None or router.name == chosen) and router.applies(spec, chosen=chosen is not None):
            return router
    raise RouterError(f"rollout.router {chosen} cannot split traffic for this exposure (spec.expose)")


def owned_children() -> tuple[Child, ...]:
    """Every object an AsgiService may own, once each."""
    return tuple(dict.fromkeys((*WORKLOAD, *(c for r in REGISTRY for c in r.owns))))


def owned_kinds() -> tuple[Kind, ...]:
    return tuple(dict.fromkeys(c.kind for c in owned_children()))


def patched_kinds() -> tuple[Kind, ...]:
    """Kinds of objects the user owns that a router patches (and the operator only reads and patches)."""
    owned = set(owned_kinds())
    return tuple(dict.fromkeys(k for r in REGISTRY for k in r.patches if k not in owned))


def kind_of(manifest: Manifest) -> Kind:
    for kind in owned_kinds():
        if (kind.api_version, kind.kind) == (manifest["apiVersion"], manifest["kind"]):
            return kind
    raise KeyError(f"{manifest['apiVersion']} {manifest['kind']} is not a kind the operator owns")


__all__ = [
    "REGISTRY",
    "RouterError",
    "TrafficRouter",
    "kind_of",
    "owned_children",
    "owned_kinds",
    "patched_kinds",
    "router_for",
]
