"""What the gateway says of a generated HTTPRoute (its `status.parents[]`), and whether the Gateway's class
supports the Extended features a generated object uses (GatewayClass `status.supportedFeatures`). Pure.

A route the gateway did not accept serves nothing: a canary on it would only ever see no data, so the analysis
holds with the gateway's own reason and the AsgiService says so (controller.reconciler). A route no gateway has
written status for yet (first deploy, or a lab without a gateway controller) is not an error: nothing is known.

A feature the class does not list is worse than a refusal: a conformant gateway may accept the route and fail
every request of the rule (Traefik v3.7 marks a route with a CORS filter Accepted, and answers 500). Such an
object is never written (controller.gateway_status.FeatureGate): the live one keeps serving, and the AsgiService
says which feature, which class and controller, and what to use instead (INSTEAD).
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
    "RequestMirror": "HTTPRouteRequestMirror",
}
_REDIRECT_FEATURES: Final = {
    "scheme": "HTTPRouteSchemeRedirect",
    "port": "HTTPRoutePortRedirect",
    "path": "HTTPRoutePathRedirect",
}
_REWRITE_FEATURES: Final = {"path": "HTTPRoutePathRewrite", "hostname": "HTTPRouteHostRewrite"}
_TIMEOUT_FEATURES: Final = {"request": "HTTPRouteRequestTimeout", "backendRequest": "HTTPRouteBackendTimeout"}
_MATCH_FEATURES: Final = {"method": "HTTPRouteMethodMatching", "queryParams": "HTTPRouteQueryParamMatching"}
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


def _filter_features(f: dict[str, Any], *, on_backend: bool) -> set[str]:
    kind = f.get("type")
    if kind == "RequestHeaderModifier":  # Core on a rule; on one backendRef, its own feature
        return {"HTTPRouteBackendRequestHeaderModification"} if on_backend else set()
    if kind in _FILTER_FEATURES:
        return {_FILTER_FEATURES[kind]}
    if kind == "RequestRedirect":
        redirect = f.get("requestRedirect", {})
        out = {feature for field, feature in _REDIRECT_FEATURES.items() if field in redirect}
        if redirect.get("statusCode") in (303, 307, 308):
            out.add(f"HTTPRoute{redirect['statusCode']}RedirectStatusCode")
        return out
    if kind == "URLRewrite":
        return {feature for field, feature in _REWRITE_FEATURES.items() if field in f.get("urlRewrite", {})}
    return set()  # Core, or an ExtensionRef (implementation-specific: no conformance feature to look up)


def features_of(manifest: Manifest) -> list[str]:
    """The Extended conformance features one rendered object uses (Gateway API v1.6 names, pkg/features). Core
    ones every gateway has (weighted backendRefs, a 301 redirect, a parentRef's sectionName, path matches) are
    not listed, nor an ExtensionRef filter (a Traefik Middleware: implementation-specific)."""
    needed: set[str] = set()
    kind = manifest.get("kind")
    if kind in _KIND_FEATURES:
        needed.add(_KIND_FEATURES[kind])
    if kind != "HTTPRoute":
        return sorted(needed)
    spec = manifest.get("spec", {})
    for parent in spec.get("parentRefs", []):
        if parent.get("kind") in _KIND_FEATURES:  # a route on a ListenerSet's listener
            needed.add(_KIND_FEATURES[parent["kind"]])
        if "port" in parent:
            needed.add("HTTPRouteParentRefPort")
    for rule in spec.get("rules", []):
        if rule.get("name"):
            needed.add("HTTPRouteNamedRouteRule")
        needed.update(_TIMEOUT_FEATURES[t] for t in rule.get("timeouts", {}) if t in _TIMEOUT_FEATURES)
        if "retry" in rule:
            needed.add("HTTPRouteRetry")
        for match in rule.get("matches", []):
            needed.update(_MATCH_FEATURES[m] for m in match if m in _MATCH_FEATURES)
        for f in rule.get("filters", []):
            needed |= _filter_features(f, on_backend=False)
        for backend in rule.get("backendRefs", []):
            for f in backend.get("filters", []):
                needed |= _filter_features(f, on_backend=True)
    return sorted(needed)


def features_needed(routes: Iterable[Manifest]) -> list[str]:
    """The Extended conformance features the rendered objects use, all together."""
    return sorted({f for route in routes for f in features_of(route)})


def missing_features(gateway_class: dict[str, Any] | None, needed: Iterable[str]) -> list[str]:
    """Needed features the class does not list. A class that lists none (an implementation that does not publish
    them, or no class found) is given the benefit of the doubt: nothing is known to be missing."""
    listed = (gateway_class or {}).get("status", {}).get("supportedFeatures") or []
    if not listed:
        return []
    names = {f.get("name") if isinstance(f, dict) else f for f in listed}  # objects since v1.2, strings before
    return [n for n in needed if n not in names]


# what a person can use instead of a feature the class lacks
INSTEAD: Final = {
    "HTTPRouteCORS": "expose.cors.enforcement: App (the operator's edge wrapper enforces CORS in the app)",
    "HTTPRouteResponseHeaderModification": "expose.tls.hstsMaxAge: 0 (no HSTS header), or terminate TLS elsewhere",
    "HTTPRouteSchemeRedirect": "expose.tls.redirect: false",
    "HTTPRoutePathRewrite": "no server.rootPath (the app itself serves under expose.path), or expose.path: /",
    "ListenerSet": "gateway.sectionName (the Gateway's own HTTPS listener) instead of gateway.listenerSet",
}


@dataclass(frozen=True)
class FeatureGap:
    """Features a Gateway's class does not list, in words: which class, whose controller, what to use instead."""

    gateway: str  # namespace/name
    gateway_class: str
    controller: str
    missing: tuple[str, ...]

    def describe(self) -> str:
        said = (
            f"GatewayClass {self.gateway_class} (controller {self.controller or 'unknown'}) of Gateway "
            f"{self.gateway} does not support {', '.join(self.missing)}"
        )
        known = [f for f in self.missing if f in INSTEAD]
        if len(known) == 1 and len(self.missing) == 1:
            return f"{said}; use instead {INSTEAD[known[0]]}"
        return f"{said}; use instead: {'; '.join(f'for {f}, {INSTEAD[f]}' for f in known)}" if known else said


def feature_gap(gateway: str, gateway_class: dict[str, Any] | None, needed: Iterable[str]) -> FeatureGap | None:
    """The features of `needed` the class does not list (None: none missing, or nothing known)."""
    missing = missing_features(gateway_class, needed)
    if not missing or gateway_class is None:
        return None
    name = str(gateway_class.get("metadata", {}).get("name", ""))
    controller = str(gateway_class.get("spec", {}).get("controllerName", ""))
    return FeatureGap(gateway, name, controller, tuple(missing))


@dataclass(frozen=True)
class Withheld:
    """A generated object not written because its Gateway's class lacks a feature it uses. `serving`: the live
    one (the last one written) keeps serving; False: none exists, none is written (nothing half-enforced)."""

    kind: str
    name: str
    serving: bool

    def describe(self) -> str:
        kept = "the live one keeps serving" if self.serving else "none serves until then"
        return f"{self.kind} {self.name} is not written ({kept})"


def withheld_message(gap: FeatureGap, withheld: Iterable[Withheld]) -> str:
    """The condition's message: what was not written and why, naming the features, the class and its controller,
    and what to use instead. Stable from pass to pass (one event, not one per reconcile)."""
    return f"{'; '.join(w.describe() for w in withheld)}: {gap.describe()}"
