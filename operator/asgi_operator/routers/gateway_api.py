"""Gateway API, generated route: an HTTPRoute on the user's Gateway with weighted backendRefs
(`<name>-stable`, `<name>-canary`)."""

from __future__ import annotations

from ..api.kinds import HTTP_ROUTE, LISTENER_SET
from ..api.models import AsgiServiceSpec, Router
from ..render.meta import Child, Manifest, Owner, owner_name
from ..render.network import http_route, split, strips_prefix
from ..render.ratelimit import RATE_LIMIT_CHILDREN, rate_limit_policy, traefik_middleware, with_traefik_filter
from ..render.tls import listener_set, redirect_name, redirect_route
from .base import OwnedObjectsOnly


class GatewayAPI(OwnedObjectsOnly):
    name = Router.GATEWAY_API
    owns = (
        Child(HTTP_ROUTE, owner_name),
        Child(HTTP_ROUTE, redirect_name),
        Child(LISTENER_SET, owner_name),
        *RATE_LIMIT_CHILDREN,
    )

    def applies(self, spec: AsgiServiceSpec, *, chosen: bool) -> bool:
        return spec.expose is not None and spec.expose.gateway is not None

    def manifests(self, owner: Owner, spec: AsgiServiceSpec, weight: int, canary: bool) -> list[Manifest]:
        expose = spec.expose
        if expose is None or expose.gateway is None:
            return []
        backends = split(owner, weight)
        route = http_route(owner, expose, expose.gateway, backends=backends, strip_prefix=strips_prefix(spec))
        # expose.rateLimit with Traefik: a Middleware the route's weighted rule names (ExtensionRef), applied
        # before the route so the route never names a Middleware that is not there
        middleware = traefik_middleware(owner, expose)
        route = with_traefik_filter(owner, expose, route)
        redirect = redirect_route(owner, expose, expose.gateway)  # expose.tls: HTTP -> HTTPS, on the HTTP listener
        policy = rate_limit_policy(owner, expose, route=owner.name)  # expose.rateLimit: the implementation's policy
        listener = listener_set(owner, expose, expose.gateway)  # gateway.listenerSet: the app's HTTPS listener
        return [m for m in (listener, middleware, route, redirect, policy) if m is not None]
