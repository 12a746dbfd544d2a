"""Gateway API: weighted backendRefs (`<name>-stable`, `<name>-canary`) in an HTTPRoute, either the route
the operator generates or an existing route the user names, of which only the weights are touched."""

from __future__ import annotations

from typing import Any

from ..api.models import AsgiServiceSpec, Router
from ..render.meta import Manifest, Owner, canary_name, stable_name
from ..render.network import http_route, split, strips_prefix
from .base import RouterError


class GatewayAPI:
    kind = Router.GATEWAY_API
    approximate = False

    def manifests(self, owner: Owner, spec: AsgiServiceSpec, weight: int, canary: bool) -> list[Manifest]:
        expose = spec.expose
        if expose is None or expose.gateway is None:
            return []  # an existing route (expose.httpRoute) is patched, not owned
        return [
            http_route(owner, expose, expose.gateway, backends=split(owner, weight), strip_prefix=strips_prefix(spec))
        ]

    def patch_existing(
        self, owner: Owner, spec: AsgiServiceSpec, live: dict[str, Any] | None, weight: int
    ) -> list[dict[str, Any]] | None:
        if spec.expose is None or spec.expose.http_route is None:
            return None
        route = spec.expose.http_route.name
        if live is None:
            raise RouterError(f"HTTPRoute {route} (expose.httpRoute) does not exist in this namespace")
        wanted = dict(split(owner, weight))
        ops: list[dict[str, Any]] = []
        found: set[str] = set()
        for r, rule in enumerate(live.get("spec", {}).get("rules", [])):
            refs = rule.get("backendRefs", [])
            names = {ref.get("name") for ref in refs if ref.get("kind", "Service") == "Service"}
            if not names & set(wanted):
                continue
            for b, ref in enumerate(refs):
                name = ref.get("name")
                if name in wanted and ref.get("kind", "Service") == "Service":
                    found.add(name)
                    if ref.get("weight", 1) != wanted[name]:
                        path = f"/spec/rules/{r}/backendRefs/{b}/weight"
                        ops.append({"op": "add", "path": path, "value": wanted[name]})
        if found != set(wanted):
            missing = ", ".join(sorted(set(wanted) - found))
            raise RouterError(
                f"HTTPRoute {route} needs a rule with backendRefs to both {stable_name(owner)} and "
                f"{canary_name(owner)} (missing: {missing}); the operator sets only their weights"
            )
        if not ops:
            return None
        version = live["metadata"]["resourceVersion"]
        # fail (409-like) instead of overwriting a route someone changed since we read it
        return [{"op": "test", "path": "/metadata/resourceVersion", "value": version}, *ops]
