"""`spec.expose.rateLimit` with the operator as a real process: the policy object of the implementation named
is created (an owned child), removed when the rate limit is, and a policy whose CRD the cluster does not serve is
a condition naming the CRD, not a crash. The lab installs Envoy Gateway's BackendTrafficPolicy CRD from its Go
module; NGINX Gateway Fabric's RateLimitPolicy CRD is absent (its module is not served by the Go proxy)."""

from __future__ import annotations

from typing import Any

import pytest

from integration.helpers import apply, condition, example, get, must_get, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from lab.cluster import Cluster

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
