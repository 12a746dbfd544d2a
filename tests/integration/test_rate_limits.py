"""`spec.expose.rateLimit` with the operator as a real process: the policy object of the implementation named
is created (an owned child), removed when the rate limit is, and a policy whose CRD the cluster does not serve is
a condition naming the CRD, not a crash. The lab installs Envoy Gateway's BackendTrafficPolicy CRD and Traefik's
CRDs (Middleware) from their Go modules; NGINX Gateway Fabric's RateLimitPolicy CRD is absent (its module is not
served by the Go proxy)."""

from __future__ import annotations

from typing import Any

import pytest

from integration.helpers import apply, condition, example, get, must_get, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from lab.cluster import Cluster, crd_dir

pytestmark = pytest.mark.usefixtures("fake_nodes")

RATE_LIMIT = {"requests": 100, "per": "Minute", "scope": "Global", "implementation": "EnvoyGateway"}


def hello(rate_limit: dict[str, Any] | None) -> dict[str, Any]:
    doc = example("hello.yaml")
    doc["spec"]["rollout"]["strategy"] = "RollingUpdate"  # about the edge, not canaries
    if rate_limit is not None:
        doc["spec"]["expose"]["rateLimit"] = rate_limit
    return doc


def test_rate_limit_policy_is_created_removed_and_a_missing_crd_is_a_condition(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, hello(RATE_LIMIT))
    asvc = wait_ready(cluster, namespace, "hello")
    policy = wait_until(
        "the BackendTrafficPolicy", lambda: get(cluster, "backendtrafficpolicy", "hello-ratelimit", namespace)
    )
    assert policy["metadata"]["ownerReferences"][0]["uid"] == asvc["metadata"]["uid"]
    assert policy["spec"]["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "hello"}
    ]
    rules = policy["spec"]["rateLimit"]["global"]["rules"]
    assert [r["limit"] for r in rules] == [{"requests": 100, "unit": "Minute"}] * 2
    assert [r["clientSelectors"][0]["sourceCIDR"]["value"] for r in rules] == ["0.0.0.0/0", "::/0"]

    # a change of the limit is applied to the same object; removing rateLimit deletes it
    apply(cluster, namespace, hello({**RATE_LIMIT, "requests": 5, "per": "Second", "scope": "PerProxy"}))
    wait_until(
        "the policy's new limit",
        lambda: (
            (get(cluster, "backendtrafficpolicy", "hello-ratelimit", namespace) or {})
            .get("spec", {})
            .get("rateLimit", {})
            .get("local", {})
            .get("rules", [{}])[0]
            .get("limit")
            == {"requests": 5, "unit": "Second"}
        ),
    )
    apply(cluster, namespace, hello(None))
    wait_until("the policy deleted", lambda: get(cluster, "backendtrafficpolicy", "hello-ratelimit", namespace) is None)
    wait_ready(cluster, namespace, "hello")

    # NGINX Gateway Fabric's CRD is not installed: a Stalled condition that names it, and the operator lives on
    ngf_crd = "ratelimitpolicies.gateway.nginx.org"
    assert cluster.kubectl("get", "crd", ngf_crd, check=False).returncode != 0, f"{ngf_crd} is installed here"
    apply(cluster, namespace, hello({**RATE_LIMIT, "scope": "PerProxy", "implementation": "NginxGatewayFabric"}))

    def stalled() -> dict[str, Any] | None:
        obj = get(cluster, "asgiservice", "hello", namespace)
        c = condition(obj, "Stalled")
        current = obj is not None and obj["status"].get("observedGeneration") == obj["metadata"]["generation"]
        return c if current and c.get("status") == "True" else None

    c = wait_until("Stalled=True naming the missing CRD", stalled)
    assert c["reason"] == "RouterError"
    assert ngf_crd in c["message"] and "not served" in c["message"]
    assert condition(must_get(cluster, "asgiservice", "hello", namespace), "Ready")["status"] == "False"
    assert operator.proc is not None and operator.proc.poll() is None

    # back to a rate limit the cluster can take: converges again
    apply(cluster, namespace, hello(RATE_LIMIT))
    wait_ready(cluster, namespace, "hello")
    wait_until(
        "the BackendTrafficPolicy again", lambda: get(cluster, "backendtrafficpolicy", "hello-ratelimit", namespace)
    )


TRAEFIK = {"requests": 100, "per": "Minute", "scope": "PerProxy", "implementation": "Traefik"}
MIDDLEWARE = "middlewares.traefik.io"  # kubectl's name for the kind, and its CRD's name
LIMIT_FILTER = {
    "type": "ExtensionRef",
    "extensionRef": {"group": "traefik.io", "kind": "Middleware", "name": "hello-ratelimit"},
}


def route_filters(cluster: Cluster, namespace: str) -> list[dict[str, Any]] | None:
    route = get(cluster, "httproute", "hello", namespace)
    return None if route is None else list(route["spec"]["rules"][0].get("filters", []))


def install_traefik_crds(cluster: Cluster) -> None:
    for path in sorted([*(crd_dir() / "traefik").glob("*.yaml"), *(crd_dir() / "traefik").glob("*.yml")]):
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", MIDDLEWARE)


def test_traefik_middleware_is_named_by_the_route_removed_with_it_and_a_missing_crd_is_a_condition(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    assert cluster.kubectl("get", "crd", MIDDLEWARE, check=False).returncode == 0, "the lab installs Traefik's CRDs"
    apply(cluster, namespace, hello(TRAEFIK))
    asvc = wait_ready(cluster, namespace, "hello")
    middleware = wait_until("the Middleware", lambda: get(cluster, MIDDLEWARE, "hello-ratelimit", namespace))
    assert middleware["metadata"]["ownerReferences"][0]["uid"] == asvc["metadata"]["uid"]
    assert middleware["spec"]["rateLimit"] == {
        "average": 100,
        "period": "1m",
        "burst": 1,
        "sourceCriterion": {"ipStrategy": {"depth": 0}},
    }
    # the generated route's weighted rule names it: stable and canary behind the one filter
    assert route_filters(cluster, namespace) == [LIMIT_FILTER]

    # a change of the limit is applied to the same object
    apply(cluster, namespace, hello({**TRAEFIK, "requests": 5, "per": "Second"}))
    wait_until(
        "the Middleware's new limit",
        lambda: (
            (get(cluster, MIDDLEWARE, "hello-ratelimit", namespace) or {}).get("spec", {}).get("rateLimit", {})
            == {"average": 5, "period": "1s", "burst": 5, "sourceCriterion": {"ipStrategy": {"depth": 0}}}
        ),
    )
    # another implementation: its policy instead, the route names no Middleware, the Middleware is deleted
    apply(cluster, namespace, hello(RATE_LIMIT))
    wait_until("the Middleware deleted", lambda: get(cluster, MIDDLEWARE, "hello-ratelimit", namespace) is None)
    assert route_filters(cluster, namespace) == []
    wait_until("the BackendTrafficPolicy", lambda: get(cluster, "backendtrafficpolicy", "hello-ratelimit", namespace))
    # back to Traefik, then no rate limit: the filter goes from the route, then the Middleware
    apply(cluster, namespace, hello(TRAEFIK))
    wait_until("the filter again", lambda: route_filters(cluster, namespace) == [LIMIT_FILTER])
    apply(cluster, namespace, hello(None))
    wait_until("the Middleware deleted", lambda: get(cluster, MIDDLEWARE, "hello-ratelimit", namespace) is None)
    assert route_filters(cluster, namespace) == []
    wait_ready(cluster, namespace, "hello")

    # Traefik's CRDs not installed: a Stalled condition that names the CRD, the route keeps no filter naming a
    # Middleware that cannot exist, and the operator lives on; installing them and a change converge
    cluster.kubectl("delete", "crd", MIDDLEWARE, "--timeout=60s")
    try:
        apply(cluster, namespace, hello(TRAEFIK))

        def stalled() -> dict[str, Any] | None:
            obj = get(cluster, "asgiservice", "hello", namespace)
            c = condition(obj, "Stalled")
            current = obj is not None and obj["status"].get("observedGeneration") == obj["metadata"]["generation"]
            return c if current and c.get("status") == "True" else None

        c = wait_until("Stalled=True naming the missing CRD", stalled)
        assert c["reason"] == "RouterError"
        assert MIDDLEWARE in c["message"] and "not served" in c["message"]
        assert route_filters(cluster, namespace) == []
        assert operator.proc is not None and operator.proc.poll() is None
    finally:
        install_traefik_crds(cluster)
    apply(cluster, namespace, hello({**TRAEFIK, "requests": 120}))
    wait_ready(cluster, namespace, "hello")
    middleware = wait_until("the Middleware", lambda: get(cluster, MIDDLEWARE, "hello-ratelimit", namespace))
    assert middleware["spec"]["rateLimit"]["burst"] == 2
    assert route_filters(cluster, namespace) == [LIMIT_FILTER]
