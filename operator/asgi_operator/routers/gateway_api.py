"""Gateway API, generated route: an HTTPRoute on the user's Gateway with weighted backendRefs
(`<name>-stable`, `<name>-canary`)."""

from __future__ import annotations

from ..api.kinds import HTTP_ROUTE
from ..api.models import AsgiServiceSpec, Router
from ..render.meta import Child, Manifest, Owner, owner_name
from ..render.network import http_route, split, strips_prefix
from .base import OwnedObjectsOnly


class GatewayAPI(OwnedObjectsOnly):
    name = Router.GATEWAY_API
    owns = (Child(HTTP_ROUTE, owner_name),)

    def applies(self, spec: AsgiServiceSpec, *, chosen: bool) -> bool:
        return spec.expose is not None and spec.expose.gateway is not None

    def manifests(self, owner: Owner, spec: AsgiServiceSpec, weight: int, canary: bool) -> list[Manifest]:
        expose = spec.expose
        if expose is None or expose.gateway is None:
            return []
        return [
            http_route(owner, expose, expose.gateway, backends=split(owner, weight), strip_prefix=strips_prefix(spec))
        ]
