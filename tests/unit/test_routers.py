"""Traffic routers: the objects and patches that put a weight into effect."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_operator.api.models import AsgiServiceSpec
from asgi_operator.render.meta import Owner
from asgi_operator.routers import router_for
from asgi_operator.routers.base import RouterError

OWNER = Owner("web", "shop", "uid")


def spec(**expose: Any) -> AsgiServiceSpec:
    return AsgiServiceSpec.model_validate({"image": "i", "app": "m:a", "expose": {"host": "web.example.com", **expose}})


def test_gateway_api_generated_route_carries_the_weights() -> None:
    s = spec(gateway={"name": "public"})
    router = router_for(s)
    [route] = router.manifests(OWNER, s, 30, True)
    refs = route["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["weight"]) for r in refs] == [("web-stable", 70), ("web-canary", 30)]
    assert not router.approximate


def route(weights: tuple[int, int] | None, other: bool = True) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    if other:
        rules.append({"backendRefs": [{"name": "cart", "port": 80}]})
    if weights is not None:
        rules.append(
            {
                "backendRefs": [
                    {"name": "web-stable", "port": 80, "weight": weights[0]},
                    {"name": "web-canary", "port": 80, "weight": weights[1]},
                ]
            }
        )
    return {"metadata": {"resourceVersion": "42"}, "spec": {"rules": rules}}


def test_existing_route_gets_only_its_weights_patched() -> None:
    s = spec(httpRoute={"name": "storefront"})
    ops = router_for(s).patch_existing(OWNER, s, route((100, 0)), 10)
    assert ops == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
        {"op": "add", "path": "/spec/rules/1/backendRefs/0/weight", "value": 90},
        {"op": "add", "path": "/spec/rules/1/backendRefs/1/weight", "value": 10},
    ]
    assert router_for(s).patch_existing(OWNER, s, route((90, 10)), 10) is None  # nothing to change: no write


def test_existing_route_without_our_backends_is_an_error_that_says_what_to_do() -> None:
    s = spec(httpRoute={"name": "storefront"})
    with pytest.raises(RouterError, match="needs a rule with backendRefs to both web-stable and web-canary"):
        router_for(s).patch_existing(OWNER, s, route(None), 10)
    with pytest.raises(RouterError, match="does not exist"):
        router_for(s).patch_existing(OWNER, s, None, 10)


def test_ingress_nginx_canary_ingress() -> None:
    s = spec(ingress={"className": "nginx"})
    router = router_for(s)
    # the router owns the whole exposure: the main Ingress (to stable) and, with a canary, the canary Ingress
    main, canary = router.manifests(OWNER, s, 25, True)
    assert main["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "web-stable"
    assert canary["metadata"]["name"] == "web-canary"
    assert canary["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": "25",
    }
    assert canary["spec"]["rules"][0]["host"] == "web.example.com"
    assert canary["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "web-canary"
    assert [m["metadata"]["name"] for m in router.manifests(OWNER, s, 0, False)] == ["web"]  # no canary Ingress yet


def test_replica_ratio_is_approximate() -> None:
    s = AsgiServiceSpec.model_validate({"image": "i", "app": "m:a"})
    router = router_for(s)
    assert router.approximate
    assert router.manifests(OWNER, s, 50, True) == []


def test_uvicorn_root_path_is_stripped_by_the_generated_route() -> None:
    s = AsgiServiceSpec.model_validate(
        {
            "image": "i",
            "app": "m:a",
            "server": {"rootPath": "/api"},
            "expose": {"host": "web.example.com", "path": "/api", "gateway": {"name": "public"}},
        }
    )
    [route] = router_for(s).manifests(OWNER, s, 0, False)
    assert route["spec"]["rules"][0]["filters"] == [
        {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}
    ]
    hyper = s.model_copy(update={"server": s.server.model_copy(update={"kind": "hypercorn"})})
    [route] = router_for(hyper).manifests(OWNER, hyper, 0, False)
    assert "filters" not in route["spec"]["rules"][0]  # hypercorn takes the prefixed path


def test_the_registry_derives_what_the_operator_may_own_delete_watch_and_patch() -> None:
    from asgi_operator.api.kinds import DEPLOYMENT, HTTP_ROUTE, INGRESS
    from asgi_operator.routers import REGISTRY, owned_children, owned_kinds

    refs = {c.ref(OWNER) for c in owned_children()}
    # every object any router may create is known, so one left behind by a change of exposure is deleted
    for router in REGISTRY:
        assert {c.ref(OWNER) for c in router.owns} <= refs
    assert ("networking.k8s.io/v1", "Ingress", "web-canary") in refs
    assert {DEPLOYMENT, HTTP_ROUTE, INGRESS} <= set(owned_kinds())
    # the user's own route is patched, never owned: its kind comes from the routers' `patches`
    existing = router_for(spec(httpRoute={"name": "storefront"}))
    assert HTTP_ROUTE not in {c.kind for c in existing.owns} and existing.patches == (HTTP_ROUTE,)
    assert existing.existing(spec(httpRoute={"name": "storefront"})) == (HTTP_ROUTE, "storefront")


def test_an_explicit_router_that_cannot_serve_the_exposure_is_an_error_not_a_silent_fallback() -> None:
    base = {"image": "i", "app": "m:a", "expose": {"ingress": {"className": "traefik"}}}
    with pytest.raises(ValueError, match=r"needs expose\.gateway or expose\.httpRoute"):  # refused at apply time
        AsgiServiceSpec.model_validate({**base, "rollout": {"router": "gatewayAPI"}})
    # and if such a spec slips through (an older CRD), the router choice says so instead of guessing
    s = AsgiServiceSpec.model_validate(base)
    slipped = s.model_copy(update={"rollout": s.rollout.model_copy(update={"router": "gatewayAPI"})})
    with pytest.raises(RouterError, match=r"rollout\.router gatewayAPI cannot split traffic"):
        router_for(slipped)
    # ingressNginx chosen explicitly for an Ingress class not named nginx: taken at its word
    chosen = AsgiServiceSpec.model_validate({**base, "rollout": {"router": "ingressNginx"}})
    assert router_for(chosen).name == "ingressNginx"


# ------------------------------------------------------------------------------------------------ rate limits
def limited(rate_limit: dict[str, Any], **expose: Any) -> AsgiServiceSpec:
    return spec(rateLimit={"requests": 100, "per": "Minute", "scope": "PerProxy", **rate_limit}, **expose)


def test_envoy_gateway_rate_limit_is_a_backend_traffic_policy_on_the_generated_route() -> None:
    s = limited({"scope": "Global", "implementation": "EnvoyGateway"}, gateway={"name": "public"})
    route, policy = router_for(s).manifests(OWNER, s, 10, True)
    assert (policy["apiVersion"], policy["kind"]) == ("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy")
    assert policy["metadata"]["name"] == "web-ratelimit"
    assert policy["metadata"]["ownerReferences"][0]["uid"] == "uid"
    assert policy["spec"]["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": route["metadata"]["name"]}
    ]
    # Global: one count per client address shared by every Envoy replica; one rule per address family
    assert policy["spec"]["rateLimit"] == {
        "global": {
            "rules": [
                {
                    "clientSelectors": [{"sourceCIDR": {"type": "Distinct", "value": cidr}}],
                    "limit": {"requests": 100, "unit": "Minute"},
                }
                for cidr in ("0.0.0.0/0", "::/0")
            ]
        }
    }
    per_proxy = limited({"implementation": "EnvoyGateway", "per": "Hour"}, gateway={"name": "public"})
    [_, local] = router_for(per_proxy).manifests(OWNER, per_proxy, 0, False)
    assert list(local["spec"]["rateLimit"]) == ["local"]
    assert local["spec"]["rateLimit"]["local"]["rules"][0]["limit"] == {"requests": 100, "unit": "Hour"}


def test_nginx_gateway_fabric_rate_limit_targets_the_users_own_route() -> None:
    s = limited({"implementation": "NginxGatewayFabric", "per": "Second"}, httpRoute={"name": "storefront"})
    [policy] = router_for(s).manifests(OWNER, s, 0, False)
    assert (policy["apiVersion"], policy["kind"]) == ("gateway.nginx.org/v1alpha1", "RateLimitPolicy")
    assert policy["spec"]["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "storefront"}
    ]
    # a strict N per window: a bucket of `requests`, served without delay, the rest answered 429
    assert policy["spec"]["rateLimit"] == {
        "local": {
            "rules": [
                {"key": "$binary_remote_addr", "rate": "100r/s", "burst": 100, "noDelay": True, "rejectCode": 429}
            ]
        }
    }
    bursty = limited({"implementation": "NginxGatewayFabric", "burst": 20}, httpRoute={"name": "storefront"})
    [policy] = router_for(bursty).manifests(OWNER, bursty, 0, False)
    assert policy["spec"]["rateLimit"]["local"]["rules"][0] == {
        "key": "$binary_remote_addr",
        "rate": "100r/m",
        "burst": 20,
        "noDelay": True,
        "rejectCode": 429,
    }
    # without a rate limit the user's route gets nothing of ours
    plain = spec(httpRoute={"name": "storefront"})
    assert router_for(plain).manifests(OWNER, plain, 0, False) == []


def test_traefik_rate_limit_is_a_middleware_the_generated_routes_weighted_rule_names() -> None:
    s = limited({"implementation": "Traefik"}, gateway={"name": "public"})
    middleware, route = router_for(s).manifests(OWNER, s, 10, True)  # the Middleware first: the route names it
    assert (middleware["apiVersion"], middleware["kind"]) == ("traefik.io/v1alpha1", "Middleware")
    assert middleware["metadata"]["name"] == "web-ratelimit"
    assert middleware["metadata"]["namespace"] == "shop"
    assert middleware["metadata"]["ownerReferences"][0]["uid"] == "uid"
    # 100 per minute: a bucket of 1 refilled every 0.6 s, per client address (not X-Forwarded-For)
    assert middleware["spec"] == {
        "rateLimit": {"average": 100, "period": "1m", "burst": 1, "sourceCriterion": {"ipStrategy": {"depth": 0}}}
    }
    (rule,) = route["spec"]["rules"]
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [("web-stable", 90), ("web-canary", 10)]
    assert rule["filters"] == [
        {"type": "ExtensionRef", "extensionRef": {"group": "traefik.io", "kind": "Middleware", "name": "web-ratelimit"}}
    ]
    # what refills in a second is the default bucket; a burst given is kept; per Hour is a period of 1h
    for limit, rate_limit in (
        ({"requests": 20, "per": "Second"}, {"average": 20, "period": "1s", "burst": 20}),
        ({"requests": 6000}, {"average": 6000, "period": "1m", "burst": 100}),
        ({"requests": 6000, "burst": 40}, {"average": 6000, "period": "1m", "burst": 40}),
        ({"requests": 7200, "per": "Hour"}, {"average": 7200, "period": "1h", "burst": 2}),
    ):
        other = limited({"implementation": "Traefik", **limit}, gateway={"name": "public"})
        [middleware, _] = router_for(other).manifests(OWNER, other, 0, False)
        assert middleware["spec"]["rateLimit"] == {**rate_limit, "sourceCriterion": {"ipStrategy": {"depth": 0}}}


def test_traefiks_filter_comes_after_the_routes_own_filters_and_only_with_traefik() -> None:
    s = AsgiServiceSpec.model_validate(
        {
            "image": "i",
            "app": "m:a",
            "server": {"kind": "uvicorn", "rootPath": "/api"},
            "expose": {
                "host": "web.example.com",
                "path": "/api",
                "gateway": {"name": "public", "sectionName": "https", "httpSectionName": "http"},
                "tls": {"secretName": "web-tls"},
                "rateLimit": {"requests": 5, "per": "Second", "scope": "PerProxy", "implementation": "Traefik"},
            },
        }
    )
    manifests = router_for(s).manifests(OWNER, s, 50, True)
    route, redirect = (m for m in manifests if m["kind"] == "HTTPRoute")
    (rule,) = route["spec"]["rules"]
    assert [f["type"] for f in rule["filters"]] == ["URLRewrite", "ResponseHeaderModifier", "ExtensionRef"]
    # the HTTP -> HTTPS redirect answers by itself: nothing to limit there
    assert all(f["type"] != "ExtensionRef" for r in redirect["spec"]["rules"] for f in r.get("filters", []))
    for implementation in ("EnvoyGateway", "NginxGatewayFabric"):
        other = limited({"implementation": implementation}, gateway={"name": "public"})
        kinds = [m["kind"] for m in router_for(other).manifests(OWNER, other, 0, False)]
        assert "Middleware" not in kinds
        [route] = [m for m in router_for(other).manifests(OWNER, other, 0, False) if m["kind"] == "HTTPRoute"]
        assert "filters" not in route["spec"]["rules"][0]


def test_ingress_nginx_rate_limit_annotations_are_on_the_main_ingress_only() -> None:
    s = limited(
        {"implementation": "IngressNginx", "exempt": ["10.0.0.0/8", "2001:db8::/32"]}, ingress={"className": "nginx"}
    )
    main, canary = router_for(s).manifests(OWNER, s, 10, True)
    prefix = "nginx.ingress.kubernetes.io/"
    annotations = main["metadata"]["annotations"]
    assert annotations[prefix + "limit-rpm"] == "100"
    assert annotations[prefix + "limit-burst-multiplier"] == "1"  # not the default 5: a strict N per window
    assert annotations[prefix + "limit-allowlist"] == "10.0.0.0/8,2001:db8::/32"
    assert not any(k.startswith(prefix + "limit-") for k in canary["metadata"]["annotations"])
    per_second = limited(
        {"implementation": "IngressNginx", "per": "Second", "burst": 300}, ingress={"className": "nginx"}
    )
    [main] = router_for(per_second).manifests(OWNER, per_second, 0, False)
    annotations = main["metadata"]["annotations"]
    assert (annotations[prefix + "limit-rps"], annotations[prefix + "limit-burst-multiplier"]) == ("100", "3")
    assert prefix + "limit-rpm" not in annotations and prefix + "limit-allowlist" not in annotations


def test_ingress_nginx_named_as_the_implementation_limits_an_ingress_of_any_class_and_router() -> None:
    """The user said the class is served by ingress-nginx: its annotations go on the Ingress whether the router
    is ingressNginx (a class named nginx), chosen by default for another class name (replicas), or chosen."""
    prefix = "nginx.ingress.kubernetes.io/"
    for ingress, router in (("nginx", None), ("public", None), ("nginx", "replicas")):
        body = {
            "image": "i",
            "app": "m:a",
            "expose": {
                "host": "web.example.com",
                "ingress": {"className": ingress},
                "rateLimit": {"requests": 100, "per": "Minute", "scope": "PerProxy", "implementation": "IngressNginx"},
            },
            "rollout": {"router": router} if router else {},
        }
        s = AsgiServiceSpec.model_validate(body)
        main = router_for(s).manifests(OWNER, s, 10, True)[0]
        assert main["metadata"]["name"] == "web"
        assert main["metadata"]["annotations"][prefix + "limit-rpm"] == "100", (ingress, router)


def test_a_rate_limit_renders_only_what_its_implementation_takes() -> None:
    from asgi_operator.api.exposure import ExposeSpec
    from asgi_operator.render.ratelimit import nginx_rate_limit, rate_limit_policy

    def expose(implementation: str, **where: Any) -> ExposeSpec:
        limit = {"requests": 100, "per": "Minute", "scope": "PerProxy", "implementation": implementation}
        return ExposeSpec.model_validate({**where, "rateLimit": limit})

    # (the spec's rules refuse these pairs; the rendering does not guess either)
    assert nginx_rate_limit(expose("EnvoyGateway", ingress={"className": "nginx"})) == {}
    assert rate_limit_policy(OWNER, expose("IngressNginx", gateway={"name": "public"}), route="web") is None
    assert nginx_rate_limit(expose("IngressNginx", ingress={"className": "nginx"}))


def test_removing_the_rate_limit_deletes_the_policy_and_a_changed_implementation_swaps_it() -> None:
    from asgi_operator.reconcile.desired import desired_children

    envoy = limited({"implementation": "EnvoyGateway"}, gateway={"name": "public"})
    btp = ("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy", "web-ratelimit")
    ngf = ("gateway.nginx.org/v1alpha1", "RateLimitPolicy", "web-ratelimit")
    wanted = desired_children(OWNER, envoy)
    assert btp in {(m["apiVersion"], m["kind"], m["metadata"]["name"]) for m in wanted.apply}
    assert btp not in wanted.delete and ngf in wanted.delete
    assert {btp, ngf} <= set(desired_children(OWNER, spec(gateway={"name": "public"})).delete)
    nginx = limited({"implementation": "NginxGatewayFabric"}, gateway={"name": "public"})
    assert btp in desired_children(OWNER, nginx).delete
    # Traefik's Middleware: deleted with the rate limit, or when another implementation takes over; the route then
    # names it no more
    middleware = ("traefik.io/v1alpha1", "Middleware", "web-ratelimit")
    assert middleware in wanted.delete and middleware in desired_children(OWNER, nginx).delete
    assert middleware in desired_children(OWNER, spec(gateway={"name": "public"})).delete
    traefik = desired_children(OWNER, limited({"implementation": "Traefik"}, gateway={"name": "public"}))
    assert middleware in {(m["apiVersion"], m["kind"], m["metadata"]["name"]) for m in traefik.apply}
    assert middleware not in traefik.delete and {btp, ngf} <= set(traefik.delete)
    for children in (wanted, desired_children(OWNER, spec(gateway={"name": "public"}))):
        [route] = [m for m in children.apply if m["kind"] == "HTTPRoute"]
        assert "filters" not in route["spec"]["rules"][0]
