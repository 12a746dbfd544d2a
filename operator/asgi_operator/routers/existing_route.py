"""Gateway API, the user's own route (`expose.httpRoute`): only the weights of its backendRefs to
`<name>-stable` and `<name>-canary` are set, with a JSON patch guarded by the route's resourceVersion."""

from __future__ import annotations

from typing import Any

from ..api.kinds import HTTP_ROUTE, Kind
from ..api.models import AsgiServiceSpec, Router
from ..render.meta import Child, Manifest, Owner, canary_name, stable_name
from ..render.network import split
from ..render.ratelimit import RATE_LIMIT_CHILDREN, rate_limit_policy
from .base import JsonPatch, RouterError


class ExistingRoute:
    name = Router.GATEWAY_API
    approximate = False
    owns: tuple[Child, ...] = RATE_LIMIT_CHILDREN  # expose.rateLimit's policy, attached to the user's route
    patches = (HTTP_ROUTE,)

    def applies(self, spec: AsgiServiceSpec, *, chosen: bool) -> bool:
        return spec.expose is not None and spec.expose.http_route is not None

    def manifests(self, owner: Owner, spec: AsgiServiceSpec, weight: int, canary: bool) -> list[Manifest]:
        # the route is the user's: patched, never owned; a rate limit policy targeting it is ours
        if spec.expose is None or spec.expose.http_route is None:
            return []
        policy = rate_limit_policy(owner, spec.expose, route=spec.expose.http_route.name)
        return [] if policy is None else [policy]

    def existing(self, spec: AsgiServiceSpec) -> tuple[Kind, str] | None:
        if spec.expose is None or spec.expose.http_route is None:
            return None
        return HTTP_ROUTE, spec.expose.http_route.name

    def patch_existing(
        self, owner: Owner, spec: AsgiServiceSpec, live: dict[str, Any] | None, weight: int
    ) -> JsonPatch | None:
        if spec.expose is None or spec.expose.http_route is None:
            return None
        route = spec.expose.http_route.name
        if live is None:
            raise RouterError(f"HTTPRoute {route} (expose.httpRoute) does not exist in this namespace")
        wanted = dict(split(owner, weight))
        ops: JsonPatch = []
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
