"""HTTPS by default (spec.expose.tls) for each exposure, and what the gateway says of the generated route."""

from __future__ import annotations

from typing import Any

from asgi_operator.api.models import AsgiServiceSpec
from asgi_operator.reconcile.desired import desired_children
from asgi_operator.reconcile.gateway import features_needed, missing_features, route_verdict
from asgi_operator.reconcile.observe import relevant, trimmed
from asgi_operator.render.meta import Owner
from asgi_operator.routers import owned_children, router_for

OWNER = Owner("web", "shop", "uid")
HOST = "web.example.com"
ISSUER = {"name": "letsencrypt", "kind": "ClusterIssuer"}
GATEWAY = {"name": "public", "namespace": "gw", "sectionName": "https", "httpSectionName": "http"}


def spec(rollout: dict[str, Any] | None = None, **expose: Any) -> AsgiServiceSpec:
    body: dict[str, Any] = {"image": "i", "app": "m:a", "expose": {"host": HOST, **expose}}
    if rollout:
        body["rollout"] = rollout
    return AsgiServiceSpec.model_validate(body)


def by_name(s: AsgiServiceSpec, *, cert_manager: bool = True, weight: int = 10) -> dict[str, dict[str, Any]]:
    children = desired_children(OWNER, s, weight=weight, cert_manager_crd=cert_manager)
    return {f"{m['kind']}/{m['metadata']['name']}": m for m in children.apply}


def test_an_issuer_gives_a_certificate_for_the_host_with_a_fresh_key_at_each_renewal() -> None:
    out = by_name(spec(gateway=GATEWAY, tls={"issuerRef": ISSUER}))
    cert = out["Certificate/web-tls"]
    assert cert["apiVersion"] == "cert-manager.io/v1"
    assert cert["spec"] == {
        "secretName": "web-tls",
        "dnsNames": [HOST],
        "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"},
        "privateKey": {"rotationPolicy": "Always"},
    }
    assert cert["metadata"]["ownerReferences"][0]["uid"] == "uid"


def test_without_cert_manager_there_is_no_certificate_and_none_is_deleted() -> None:
    children = desired_children(OWNER, spec(gateway=GATEWAY, tls={"issuerRef": ISSUER}), cert_manager_crd=False)
    assert not [m for m in children.apply if m["kind"] == "Certificate"]
    assert not [d for d in children.delete if d[1] == "Certificate"]  # without the CRD there can be none


def test_a_certificate_no_longer_wanted_is_deleted() -> None:
    children = desired_children(OWNER, spec(gateway=GATEWAY, tls={"secretName": "mine"}), cert_manager_crd=True)
    assert ("cert-manager.io/v1", "Certificate", "web-tls") in children.delete


def test_gateway_api_attaches_to_the_https_listener_sends_hsts_and_redirects_on_the_http_listener() -> None:
    out = by_name(spec(gateway=GATEWAY, tls={"issuerRef": ISSUER}))
    route, redirect = out["HTTPRoute/web"], out["HTTPRoute/web-redirect"]
    assert route["spec"]["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "public",
            "namespace": "gw",
            "sectionName": "https",
        }
    ]
    [rule] = route["spec"]["rules"]
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [("web-stable", 90), ("web-canary", 10)]
    # one filter on the weighted rule: stable and canary answer alike
    assert rule["filters"] == [
        {
            "type": "ResponseHeaderModifier",
            "responseHeaderModifier": {"set": [{"name": "Strict-Transport-Security", "value": "max-age=31536000"}]},
        }
    ]
    assert redirect["spec"]["parentRefs"][0]["sectionName"] == "http"
    assert redirect["spec"]["hostnames"] == [HOST]
    [redirect_rule] = redirect["spec"]["rules"]
    assert redirect_rule["filters"] == [
        {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}
    ]
    assert "backendRefs" not in redirect_rule


def test_hsts_and_redirect_can_be_turned_off_and_hsts_tuned() -> None:
    gw = {"name": "public", "sectionName": "https"}
    out = by_name(spec(gateway=gw, tls={"secretName": "s", "redirect": False, "hstsMaxAge": 0}))
    assert "HTTPRoute/web-redirect" not in out
    assert "filters" not in out["HTTPRoute/web"]["spec"]["rules"][0]
    out = by_name(spec(gateway=GATEWAY, tls={"secretName": "s", "hstsMaxAge": 600}))
    header = out["HTTPRoute/web"]["spec"]["rules"][0]["filters"][0]["responseHeaderModifier"]["set"][0]
    assert header["value"] == "max-age=600"
    assert "Certificate/web-tls" not in out  # an existing Secret: nothing to issue


def test_hsts_comes_after_the_prefix_rewrite_in_the_same_rule() -> None:
    s = AsgiServiceSpec.model_validate(
        {
            "image": "i",
            "app": "m:a",
            "server": {"kind": "uvicorn", "rootPath": "/api"},
            "expose": {"host": HOST, "path": "/api", "gateway": GATEWAY, "tls": {"issuerRef": ISSUER}},
        }
    )
    filters = by_name(s)["HTTPRoute/web"]["spec"]["rules"][0]["filters"]
    assert [f["type"] for f in filters] == ["URLRewrite", "ResponseHeaderModifier"]


def test_the_redirect_route_is_declared_owned_so_it_is_deleted_when_tls_goes() -> None:
    assert ("gateway.networking.k8s.io/v1", "HTTPRoute", "web-redirect") in [c.ref(OWNER) for c in owned_children()]
    children = desired_children(OWNER, spec(gateway={"name": "public"}))
    assert ("gateway.networking.k8s.io/v1", "HTTPRoute", "web-redirect") in children.delete


def test_ingress_nginx_serves_the_certificate_secret_and_redirects_by_default() -> None:
    ingress = {"className": "nginx", "annotations": {"cert-manager.io/cluster-issuer": "le", "a.example.com/x": "1"}}
    out = by_name(spec(ingress=ingress, tls={"issuerRef": ISSUER}))
    main = out["Ingress/web"]
    assert main["spec"]["tls"] == [{"hosts": [HOST], "secretName": "web-tls"}]
    assert "nginx.ingress.kubernetes.io/ssl-redirect" not in main["metadata"]["annotations"]  # nginx's default: on
    assert main["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "le"


def test_the_canary_ingress_never_carries_cert_manager_annotations() -> None:
    ingress = {"className": "nginx", "annotations": {"cert-manager.io/cluster-issuer": "le", "a.example.com/x": "1"}}
    s = spec(ingress=ingress, tls={"secretName": "web-example-com"})
    [_, canary] = router_for(s).manifests(OWNER, s, 10, True)
    annotations = canary["metadata"]["annotations"]
    assert not [k for k in annotations if k.startswith("cert-manager.io/")]
    assert annotations["a.example.com/x"] == "1"
    assert annotations["nginx.ingress.kubernetes.io/canary-weight"] == "10"


def test_ingress_nginx_redirect_off_is_its_annotation_and_a_secret_name_renders_as_before() -> None:
    s = spec(ingress={"className": "nginx"}, tls={"secretName": "web-example-com", "redirect": False})
    [main] = router_for(s).manifests(OWNER, s, 0, False)
    assert main["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/ssl-redirect": "false"}
    assert main["spec"]["tls"] == [{"hosts": [HOST], "secretName": "web-example-com"}]
    s = spec(ingress={"className": "nginx"}, tls={"secretName": "web-example-com"})
    [main] = router_for(s).manifests(OWNER, s, 0, False)
    assert "annotations" not in main["metadata"]  # exactly today's Ingress


# what the gateway says of the route

# the parentRef the operator set: a Gateway in another namespace, its HTTPS listener
OUR_PARENT = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "namespace": "gw"}


def live_route(*parents: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"parentRefs": [{**OUR_PARENT, "sectionName": "https"}]},
        "status": {"parents": list(parents)},
    }


def parent(accepted: str, resolved: str = "True", section: str | None = "https", **extra: str) -> dict[str, Any]:
    ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "namespace": "gw"}
    if section:
        ref["sectionName"] = section
    return {
        "parentRef": ref,
        "controllerName": "example.com/gateway",
        "conditions": [
            {"type": "Accepted", "status": accepted, "reason": extra.get("reason", "Accepted"), "message": "m"},
            {"type": "ResolvedRefs", "status": resolved, "reason": extra.get("refs", "ResolvedRefs"), "message": "r"},
        ],
    }


def test_no_status_yet_is_unknown_not_an_error() -> None:
    assert route_verdict(None, "shop").accepted is None
    assert route_verdict(live_route(), "shop").accepted is None
    assert route_verdict(live_route(parent("True", section="other")), "shop").accepted is None  # not our ref


def test_accepted_and_refused_routes_in_the_gateways_own_words() -> None:
    assert route_verdict(live_route(parent("True")), "shop").accepted is True
    refused = route_verdict(live_route(parent("False", reason="NotAllowedByListeners")), "shop")
    assert (refused.accepted, refused.condition, refused.reason) == (False, "Accepted", "NotAllowedByListeners")
    assert "NotAllowedByListeners: m" in refused.describe()
    broken = route_verdict(live_route(parent("True", "False", refs="BackendNotFound")), "shop")
    assert (broken.accepted, broken.condition, broken.reason) == (False, "ResolvedRefs", "BackendNotFound")


def test_the_store_keeps_the_routes_verdicts_and_a_new_verdict_is_a_status_change() -> None:
    body = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7"},
        "spec": {"parentRefs": [{**OUR_PARENT, "sectionName": "https"}], "rules": []},
        "status": {"parents": [parent("False", reason="NoMatchingParent")]},
    }
    body["status"]["parents"][0]["conditions"][0]["lastTransitionTime"] = "2026-01-01T00:00:00Z"
    kept = trimmed("HTTPRoute", body)
    assert route_verdict(kept, "shop").reason == "NoMatchingParent"
    assert "lastTransitionTime" not in str(kept)
    accepted = {**body, "status": {"parents": [parent("True")]}}
    assert relevant("HTTPRoute", body)["status"] != relevant("HTTPRoute", accepted)["status"]


def test_features_the_rendered_routes_need_and_what_a_class_lacks() -> None:
    s = spec(gateway=GATEWAY, tls={"issuerRef": ISSUER})
    needed = features_needed(router_for(s).manifests(OWNER, s, 10, True))
    assert needed == ["HTTPRouteResponseHeaderModification", "HTTPRouteSchemeRedirect"]
    plain = spec(gateway={"name": "public"})
    assert features_needed(router_for(plain).manifests(OWNER, plain, 10, True)) == []
    gc = {"status": {"supportedFeatures": [{"name": "HTTPRoute"}, {"name": "HTTPRouteSchemeRedirect"}]}}
    assert missing_features(gc, needed) == ["HTTPRouteResponseHeaderModification"]
    assert missing_features({"status": {}}, needed) == []  # a class that lists nothing: not known to lack anything
    assert missing_features(None, needed) == []


def test_a_listener_set_gives_the_app_its_own_https_listener_and_the_route_attaches_to_it() -> None:
    gw = {"name": "public", "namespace": "gw", "listenerSet": True, "httpSectionName": "http"}
    s = spec(gateway=gw, tls={"issuerRef": ISSUER})
    out = by_name(s)
    listener_set = out["ListenerSet/web"]
    assert listener_set["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert listener_set["spec"] == {
        "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "namespace": "gw"},
        "listeners": [
            {
                "name": "https",
                "hostname": HOST,
                "port": 443,
                "protocol": "HTTPS",
                "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": "web-tls"}]},
            }
        ],
    }
    assert out["HTTPRoute/web"]["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "ListenerSet", "name": "web", "sectionName": "https"}
    ]
    assert out["HTTPRoute/web-redirect"]["spec"]["parentRefs"][0]["kind"] == "Gateway"  # the Gateway's HTTP listener
    assert "ListenerSet" in features_needed(router_for(s).manifests(OWNER, s, 10, True))
    # what the gateway says of the route on the ListenerSet is found under that parentRef
    live = {**out["HTTPRoute/web"], "status": {"parents": [parent("False", reason="NotAllowedByListeners")]}}
    live["status"]["parents"][0]["parentRef"] = out["HTTPRoute/web"]["spec"]["parentRefs"][0]
    assert route_verdict(live, "shop").reason == "NotAllowedByListeners"
    # without the ListenerSet any more, it is deleted
    plain = desired_children(OWNER, spec(gateway=GATEWAY, tls={"issuerRef": ISSUER}))
    assert ("gateway.networking.k8s.io/v1", "ListenerSet", "web") in plain.delete
