"""Traffic routers: how the canary's share of traffic is put into effect (one Protocol, one file each)."""

from __future__ import annotations

from typing import Final

from ..api.models import AsgiServiceSpec, Router
from ..render.children import effective_router
from .base import TrafficRouter
from .gateway_api import GatewayAPI
from .ingress_nginx import IngressNginx
from .replicas import ReplicaRatio

ROUTERS: Final[dict[Router, TrafficRouter]] = {
    Router.GATEWAY_API: GatewayAPI(),
    Router.INGRESS_NGINX: IngressNginx(),
    Router.REPLICAS: ReplicaRatio(),
}


def router_for(spec: AsgiServiceSpec) -> TrafficRouter:
    return ROUTERS[effective_router(spec)]


__all__ = ["ROUTERS", "TrafficRouter", "router_for"]
