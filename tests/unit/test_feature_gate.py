"""A generated Gateway API object using a feature its Gateway's class does not list is never written (issue 22):
the live one keeps serving, the AsgiService says which feature, which class and controller, and what to use
instead (Ready False GatewayFeatureMissing, Stalled), once; everything else is still written. The class is read
only when such an object is about to be written, never at idle.

The pure part on rendered manifests; the reconciler on a stand-in API (the kube layer is the only thing replaced)
answering the Gateway and a GatewayClass with the status Traefik v3.7.13 writes."""

from __future__ import annotations

import copy
from typing import Any, cast

import yaml

from asgi_operator.api.kinds import ASGI_SERVICE, GATEWAY, GATEWAY_CLASS, HTTP_ROUTE, Kind
from asgi_operator.api.models import AsgiServiceSpec, RolloutStatus
from asgi_operator.api.vocabulary import RolloutPhase, Verdict
from asgi_operator.controller.gateway_status import FeatureGate, GatewayStatus
from asgi_operator.controller.reconciler import RECHECK_WITHHELD, Reconciler
from asgi_operator.controller.settings import Settings
from asgi_operator.controller.store import Reads, Store
from asgi_operator.kube.api import ApiError, KubeApi
from asgi_operator.reconcile.gateway import feature_gap, features_of, missing_features
from asgi_operator.render.meta import Owner
from asgi_operator.routers import owned_kinds, router_for
from integration.gateway_classes import TRAEFIK_CONTROLLER, traefik_status
from integration.helpers import EXAMPLES

OWNER = Owner("hello", "ns", "0123456789abcdef")
CORS = {"allowOrigins": ["https://shop.example.com"]}
TRAEFIK_CLASS = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "GatewayClass",
    "metadata": {"name": "traefik"},
    "spec": {"controllerName": TRAEFIK_CONTROLLER},
    "status": traefik_status(),
}


def spec(**expose: Any) -> AsgiServiceSpec:
    gateway = {"name": "public", "namespace": "gw", **expose.pop("gateway", {})}
    body = {"image": "i", "app": "m:a", "expose": {"host": "hello.example.com", "gateway": gateway, **expose}}
    return AsgiServiceSpec.model_validate(body)


def rendered(s: AsgiServiceSpec) -> dict[str, dict[str, Any]]:
    return {f"{m['kind']}/{m['metadata']['name']}": m for m in router_for(s).manifests(OWNER, s, 10, True)}


# ----------------------------------------------------------------------------------------- the pure decision
def test_each_extended_feature_the_rendered_objects_use_is_named_per_object() -> None:
    assert features_of(rendered(spec())["HTTPRoute/hello"]) == []  # weights, a PathPrefix match: Core
    edge = rendered(spec(cors={**CORS, "enforcement": "Edge"}))["HTTPRoute/hello"]
    assert features_of(edge) == ["HTTPRouteCORS"]
    assert features_of(rendered(spec(cors={**CORS, "enforcement": "App"}))["HTTPRoute/hello"]) == []
    tls = rendered(spec(tls={"secretName": "s"}, gateway={"sectionName": "https", "httpSectionName": "http"}))
    assert features_of(tls["HTTPRoute/hello"]) == ["HTTPRouteResponseHeaderModification"]  # HSTS
    assert features_of(tls["HTTPRoute/hello-redirect"]) == ["HTTPRouteSchemeRedirect"]  # a 301: Core
    listener = rendered(
        spec(tls={"secretName": "s", "hstsMaxAge": 0, "redirect": False}, gateway={"listenerSet": True})
    )
    assert features_of(listener["ListenerSet/hello"]) == ["ListenerSet"]
    assert features_of(listener["HTTPRoute/hello"]) == ["ListenerSet"]  # its parentRef is the ListenerSet
    rewrite = AsgiServiceSpec.model_validate(
        {**spec().model_dump(by_alias=True, exclude_none=True), "server": {"kind": "uvicorn", "rootPath": "/api"}}
    )
    rewrite.expose.path = "/api"  # type: ignore[union-attr]
    assert features_of(rendered(rewrite)["HTTPRoute/hello"]) == ["HTTPRoutePathRewrite"]
    # Traefik's rate limit: an ExtensionRef filter naming a Middleware, implementation-specific: nothing to look up
    limited = rendered(
        spec(rateLimit={"requests": 10, "per": "Second", "scope": "PerProxy", "implementation": "Traefik"})
    )
    assert [f["type"] for f in limited["HTTPRoute/hello"]["spec"]["rules"][0]["filters"]] == ["ExtensionRef"]
    assert features_of(limited["HTTPRoute/hello"]) == []


def test_extended_features_of_gateway_api_not_rendered_yet_are_named_too() -> None:
    """So that a filter the operator renders one day is gated from that day (Gateway API v1.6 feature names)."""
    rule = {
        "name": "main",
        "matches": [{"method": "GET", "queryParams": [{"name": "a", "value": "b"}]}],
        "timeouts": {"request": "10s", "backendRequest": "5s"},
        "filters": [
            {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": []}},  # Core on a rule
            {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "m"}}},
            {"type": "RequestRedirect", "requestRedirect": {"port": 8443, "path": {}, "statusCode": 308}},
            {"type": "URLRewrite", "urlRewrite": {"hostname": "h"}},
        ],
        "backendRefs": [{"name": "b", "filters": [{"type": "RequestHeaderModifier"}]}],
    }
    route = {"kind": "HTTPRoute", "spec": {"parentRefs": [{"name": "g", "port": 80}], "rules": [rule]}}
    assert features_of(route) == [
        "HTTPRoute308RedirectStatusCode",
        "HTTPRouteBackendRequestHeaderModification",
        "HTTPRouteBackendTimeout",
        "HTTPRouteHostRewrite",
        "HTTPRouteMethodMatching",
        "HTTPRouteNamedRouteRule",
        "HTTPRouteParentRefPort",
        "HTTPRoutePathRedirect",
        "HTTPRoutePortRedirect",
        "HTTPRouteQueryParamMatching",
        "HTTPRouteRequestMirror",
        "HTTPRouteRequestTimeout",
    ]


def test_traefiks_class_lacks_cors_only_and_the_gap_says_what_to_use_instead() -> None:
    every = ["HTTPRouteCORS", "HTTPRouteResponseHeaderModification", "HTTPRouteSchemeRedirect"]
    assert missing_features(TRAEFIK_CLASS, [*every, "HTTPRoutePathRewrite", "ListenerSet"]) == [
        "HTTPRouteCORS",
        "ListenerSet",
    ]
    gap = feature_gap("gw/public", TRAEFIK_CLASS, every)
    assert gap is not None and gap.missing == ("HTTPRouteCORS",)
    said = gap.describe()
    assert "GatewayClass traefik (controller traefik.io/gateway-controller) of Gateway gw/public" in said
    assert "does not support HTTPRouteCORS" in said
    assert "expose.cors.enforcement: App" in said
    # a class that lists nothing (or none found) is not known to lack anything
    assert feature_gap("gw/public", {**TRAEFIK_CLASS, "status": {}}, every) is None
    assert feature_gap("gw/public", None, every) is None


# ----------------------------------------------------------------------------------------- the reconciler
def asgi_service(cors: str | None) -> dict[str, Any]:
    body = dict(yaml.safe_load((EXAMPLES / "hello.yaml").read_text()))
    body["metadata"].update(namespace="ns", uid=OWNER.uid, resourceVersion="7", generation=1)
    body["spec"]["rollout"] = {"strategy": "RollingUpdate"}
    if cors is not None:
        body["spec"]["expose"]["cors"] = {**CORS, "enforcement": cors}
    return body


class StandInApi:
    """The API operations a pass reaches, answering like the API server; the Gateway `gateway-system/public` is
    of the class `traefik`, whose status Traefik v3.7.13 wrote."""

    def __init__(self) -> None:
        self.applied: list[dict[str, Any]] = []
        self.reads: list[str] = []
        self.statuses: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.version = 7
        self.current: dict[str, Any] = {}  # the AsgiService as the API server has it

    def served(self, kind: Kind) -> bool:
        return True

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads.append(kind.kind)
        if kind == GATEWAY:
            return {"metadata": {"name": name, "namespace": namespace}, "spec": {"gatewayClassName": "traefik"}}
        if kind == GATEWAY_CLASS:
            return copy.deepcopy(TRAEFIK_CLASS)
        return None

    def apply(self, kind: Kind, manifest: dict[str, Any], *, field_manager: str = "") -> dict[str, Any]:
        self.version += 1
        self.applied.append(copy.deepcopy(manifest))
        out = copy.deepcopy(manifest)
        out["metadata"].update(uid=f"uid-{self.version}", resourceVersion=str(self.version), generation=1)
        return out

    def replace_status(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        self.statuses.append(copy.deepcopy(body["status"]))
        meta = {**self.current["metadata"], "resourceVersion": str(self.version)}
        self.current = {**self.current, "metadata": meta, "status": copy.deepcopy(body["status"])}
        return copy.deepcopy(self.current)

    def create(self, kind: Kind, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        self.events.append(body)
        return body


class Pass:
    def __init__(self) -> None:
        self.api = StandInApi()
        self.store = Store(owned_kinds())
        self.reconciler = Reconciler(cast(KubeApi, self.api), Settings(), self.store)

    def run(self, body: dict[str, Any]) -> tuple[list[str], float | None]:
        """One reconcile of `body` (its status as last written): the kinds/names applied, and the requeue."""
        live = self.store.get(ASGI_SERVICE, "ns", "hello")
        body = {**body, "status": (live or {}).get("status", {})}
        self.api.version += 1  # a newer version of the object: the store takes it
        body["metadata"] = {**body["metadata"], "resourceVersion": str(self.api.version)}
        self.store.put(body)
        self.api.current = copy.deepcopy(body)
        before = len(self.api.applied)
        outcome = self.reconciler.reconcile(("ns", "hello"))
        return [f"{m['kind']}/{m['metadata']['name']}" for m in self.api.applied[before:]], outcome.requeue_after

    def conditions(self) -> dict[str, dict[str, Any]]:
        return {c["type"]: c for c in self.api.statuses[-1]["conditions"]}

    def route(self) -> dict[str, Any] | None:
        return self.store.get(HTTP_ROUTE, "ns", "hello")


def test_cors_at_an_edge_that_lacks_it_keeps_the_live_route_and_says_so_once() -> None:
    p = Pass()
    written, _ = p.run(asgi_service(cors=None))
    assert "HTTPRoute/hello" in written and "Deployment/hello" in written
    assert "Gateway" not in p.api.reads  # no Extended feature to write: the class is never read
    good = p.route()
    assert good is not None

    # idle: nothing to write, nothing read
    p.api.reads.clear()
    assert p.run(asgi_service(cors=None))[0] == []
    assert p.api.reads == []

    # CORS at the edge: the route is not written, the live one (no CORS filter) keeps serving
    edge = asgi_service(cors="Edge")
    edge["metadata"]["generation"] = 2
    written, requeue = p.run(edge)
    assert "HTTPRoute/hello" not in written
    assert p.route() == good
    assert p.api.reads == ["Gateway", "GatewayClass"]  # once in the pass
    c = p.conditions()
    assert (c["Ready"]["status"], c["Ready"]["reason"]) == ("False", "GatewayFeatureMissing")
    assert (c["Stalled"]["status"], c["Stalled"]["reason"]) == ("True", "GatewayFeatureMissing")
    assert c["Reconciling"]["status"] == "False"
    message = c["Ready"]["message"]
    for said in (
        "HTTPRoute hello is not written (the live one keeps serving)",
        "GatewayClass traefik (controller traefik.io/gateway-controller) of Gateway gateway-system/public",
        "does not support HTTPRouteCORS",
        "expose.cors.enforcement: App",
    ):
        assert said in message, message
    [warning] = [e for e in p.api.events if e["type"] == "Warning"]
    assert (warning["reason"], warning["message"]) == ("GatewayFeatureMissing", message)
    assert requeue is not None and requeue <= RECHECK_WITHHELD  # a gateway upgrade is looked for again

    # the pass again (the recheck): still withheld, said already: no second event
    assert "HTTPRoute/hello" not in p.run(edge)[0]
    assert len([e for e in p.api.events if e["type"] == "Warning"]) == 1

    # enforcement App: the route it wants is the live one (no filter: the app enforces CORS, its Deployment is
    # updated), the condition clears
    app = asgi_service(cors="App")
    app["metadata"]["generation"] = 3
    written, requeue = p.run(app)
    assert "Deployment/hello" in written and "HTTPRoute/hello" not in written
    assert p.route() == good
    assert p.conditions()["Stalled"]["status"] == "False"
    assert p.conditions()["Ready"]["reason"] != "GatewayFeatureMissing"
    assert requeue is None


def test_a_first_deploy_with_cors_at_an_edge_that_lacks_it_writes_no_route_and_everything_else() -> None:
    p = Pass()
    written, _ = p.run(asgi_service(cors="Edge"))
    assert "HTTPRoute/hello" not in written and p.route() is None  # nothing half-enforced ever serves
    assert {"Deployment/hello", "Service/hello", "Service/hello-stable", "Service/hello-canary"} <= set(written)
    c = p.conditions()
    assert (c["Ready"]["reason"], c["Stalled"]["status"]) == ("GatewayFeatureMissing", "True")
    assert "HTTPRoute hello is not written (none serves until then)" in c["Ready"]["message"]


def test_a_class_that_lists_no_features_is_not_known_to_lack_one_the_route_is_written() -> None:
    p = Pass()
    TRAEFIK_CLASS["status"]["supportedFeatures"] = []
    try:
        written, requeue = p.run(asgi_service(cors="Edge"))
    finally:
        TRAEFIK_CLASS["status"] = traefik_status()
    assert "HTTPRoute/hello" in written and requeue is None
    assert p.conditions()["Stalled"]["status"] == "False"


def test_a_canarys_analysis_holds_on_the_same_gap_that_withholds_its_route_read_once() -> None:
    """Mid-canary the weights cannot move while the route cannot be written: the analysis holds with the same
    reason and gap, and the pass reads the Gateway and its class once for both."""
    api = StandInApi()
    s = spec(cors={**CORS, "enforcement": "Edge"})
    gate = FeatureGate(cast(KubeApi, api), OWNER, s)
    rollout = RolloutStatus(phase=RolloutPhase.PROGRESSING, canary_weight=10)
    status = GatewayStatus(cast(KubeApi, api), Reads(Store(owned_kinds()), cast(KubeApi, api)))
    held = status.hold(OWNER, s, rollout, router_for(s), gate, at="2026-01-01T00:00:00Z")
    assert held is not None and (held.verdict, held.reason) == (Verdict.ERROR, "GatewayFeatureMissing")
    route = rendered(s)["HTTPRoute/hello"]
    assert not gate.admits(route, {**route, "spec": {"rules": []}})
    problem = gate.problem()
    assert problem is not None and problem.stalled and problem.reason == "GatewayFeatureMissing"
    gap = "GatewayClass traefik (controller traefik.io/gateway-controller) of Gateway gw/public does not support"
    assert gap in held.message and gap in problem.message
    assert api.reads == ["Gateway", "GatewayClass"]
    # a class that cannot be read is not known to lack anything: written as before, and nothing held
    unknown = FeatureGate(cast(KubeApi, Forbidden()), OWNER, s)
    assert unknown.admits(route, None) and unknown.problem() is None


class Forbidden(StandInApi):
    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        raise ApiError(403, "Forbidden", "gatewayclasses is forbidden", "GET", "/apis")
