"""What the gateway says of a generated HTTPRoute (its `status.parents[]`), and whether the Gateway's class
supports the Extended features the route uses (GatewayClass `status.supportedFeatures`). Pure.

A route the gateway did not accept serves nothing: a canary on it would only ever see no data, so the analysis
holds with the gateway's own reason and the AsgiService says so (controller.reconciler). A route no gateway has
written status for yet (first deploy, or a lab without a gateway controller) is not an error: nothing is known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from ..render.meta import Manifest

GATEWAY_GROUP: Final = "gateway.networking.k8s.io"
# filter -> the conformance feature a GatewayClass lists when it implements it (Extended support)
_FILTER_FEATURES: Final = {
    "ResponseHeaderModifier": "HTTPRouteResponseHeaderModification",
    "CORS": "HTTPRouteCORS",
}
_KIND_FEATURES: Final = {"ListenerSet": "ListenerSet"}


@dataclass(frozen=True)
class RouteVerdict:
    """The gateway's verdict on one route for the parentRef the operator set. `accepted` None: not written yet."""

    route: str
    accepted: bool | None
    condition: str = ""  # Accepted or ResolvedRefs: the one that is False
    reason: str = ""
    message: str = ""

    def describe(self) -> str:
        said = f"{self.condition} False, {self.reason}" + (f": {self.message}" if self.message else "")
        return f"the gateway did not accept HTTPRoute {self.route} ({said})"


def _filled(ref: dict[str, Any], namespace: str) -> dict[str, Any]:
    """A parentRef with its defaults filled in, to compare what the route says with what its gateway reports."""
    return {
        "group": ref.get("group", GATEWAY_GROUP),
        "kind": ref.get("kind", "Gateway"),
        "name": ref.get("name"),
        "namespace": ref.get("namespace") or namespace,
        "sectionName": ref.get("sectionName") or None,
    }


def route_verdict(route: dict[str, Any] | None, namespace: str) -> RouteVerdict:
    """Accepted or ResolvedRefs False for a parentRef the route has (the operator sets one; from any controller):
    not accepted, with the gateway's reason and message. Accepted True: accepted. Nothing for it: unknown."""
    name = str((route or {}).get("metadata", {}).get("name", ""))
    if route is None:
        return RouteVerdict(name, None)
    wanted = [_filled(p, namespace) for p in route.get("spec", {}).get("parentRefs", [])]
    accepted: bool | None = None
    for parent in route.get("status", {}).get("parents", []):
        if _filled(parent.get("parentRef", {}), namespace) not in wanted:
            continue
        for c in parent.get("conditions", []):
            if c.get("type") in ("Accepted", "ResolvedRefs") and c.get("status") == "False":
                return RouteVerdict(name, False, str(c["type"]), str(c.get("reason", "")), str(c.get("message", "")))
            if c.get("type") == "Accepted" and c.get("status") == "True":
                accepted = True
    return RouteVerdict(name, accepted)


def features_needed(routes: Iterable[Manifest]) -> list[str]:
    """The Extended conformance features the rendered HTTPRoutes use (Core ones every gateway has)."""
    needed: set[str] = set()
    for route in routes:
        if route.get("kind") in _KIND_FEATURES:
            needed.add(_KIND_FEATURES[route["kind"]])
        if route.get("kind") != "HTTPRoute":
            continue
        for rule in route.get("spec", {}).get("rules", []):
            for f in rule.get("filters", []):
                kind = f.get("type")
                if kind in _FILTER_FEATURES:
                    needed.add(_FILTER_FEATURES[kind])
                elif kind == "RequestRedirect" and "scheme" in f.get("requestRedirect", {}):
                    needed.add("HTTPRouteSchemeRedirect")
                elif kind == "URLRewrite" and "path" in f.get("urlRewrite", {}):
                    needed.add("HTTPRoutePathRewrite")
    return sorted(needed)


def missing_features(gateway_class: dict[str, Any] | None, needed: Iterable[str]) -> list[str]:
    """Needed features the class does not list. A class that lists none (an implementation that does not publish
    them, or no class found) is given the benefit of the doubt: nothing is known to be missing."""
    listed = (gateway_class or {}).get("status", {}).get("supportedFeatures") or []
    if not listed:
        return []
    names = {f.get("name") if isinstance(f, dict) else f for f in listed}  # objects since v1.2, strings before
    return [n for n in needed if n not in names]
