"""No router: the Service `<name>` selects stable and canary pods alike, so the canary's share of traffic is
roughly its share of the ready pods (status says that the split is approximate). An exposure, if any, sends
to `<name>`: an HTTPRoute on the Gateway, or an Ingress of any class."""

from __future__ import annotations

from ..api.kinds import HTTP_ROUTE, INGRESS
from ..api.models import AsgiServiceSpec, Router
from ..render.meta import Child, Manifest, Owner, owner_name
from ..render.network import http_route, ingress, strips_prefix
from .base import OwnedObjectsOnly


class ReplicaRatio(OwnedObjectsOnly):
    name = Router.REPLICAS
    approximate = True
    owns = (Child(HTTP_ROUTE, owner_name), Child(INGRESS, owner_name))

    def applies(self, spec: AsgiServiceSpec, *, chosen: bool) -> bool:
        return True  # the fallback: works with any exposure, or none

    def manifests(self, owner: Owner, spec: AsgiServiceSpec, weight: int, canary: bool) -> list[Manifest]:
        expose = spec.expose
        if expose is None:
            return []
        if expose.gateway is not None:
            backends = [(owner.name, 100)]
            return [http_route(owner, expose, expose.gateway, backends=backends, strip_prefix=strips_prefix(spec))]
        if expose.ingress is not None:
            return [ingress(owner, expose, expose.ingress, backend=owner.name)]
        return []
