"""Invalid AsgiServices, each with the field the error must name and words the message must contain.

Shared by the unit tests (the pydantic models must reject each one) and the integration tests (the real API
server must reject each one at `kubectl apply`, through the CRD's OpenAPI schema and CEL rules).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

BASE: dict[str, Any] = {
    "apiVersion": "asgi.dev/v1alpha1",
    "kind": "AsgiService",
    "metadata": {"name": "shop"},
    "spec": {"image": "registry.example.com/shop:1.0", "app": "shop.main:app"},
}


@dataclass(frozen=True)
class Invalid:
    id: str
    changes: dict[str, Any]  # dotted path -> value; None deletes the key
    field: str  # the path the API server must name
    words: tuple[str, ...] = ()  # words the API server's message must contain
    extra: dict[str, Any] = field(default_factory=dict)

    def manifest(self, name: str = "shop") -> dict[str, Any]:
        body = copy.deepcopy(BASE)
        body["metadata"]["name"] = name
        for path, value in self.changes.items():
            *parents, leaf = path.split(".")
            node = body
            for part in parents:
                node = node.setdefault(part, {})
            if value is None:
                node.pop(leaf, None)
            else:
                node[leaf] = value
        return body


INVALID: list[Invalid] = [
    Invalid("missing-image", {"spec.image": None}, "spec.image", ("Required value",)),
    Invalid("app-not-module-attr", {"spec.app": "shop/main.py"}, "spec.app", ("module:attribute",)),
    Invalid("app-missing-attr", {"spec.app": "shop.main"}, "spec.app", ("module:attribute",)),
    Invalid(
        "unknown-server",
        {"spec.server": {"kind": "daphne"}},
        "spec.server.kind",
        ("Unsupported value", "daphne"),
    ),
    Invalid(
        "steps-not-increasing",
        {"spec.rollout": {"steps": [50, 10, 100]}},
        "spec.rollout.steps",
        ("strictly increasing",),
    ),
    Invalid(
        "steps-repeated",
        {"spec.rollout": {"steps": [10, 10, 100]}},
        "spec.rollout.steps",
        ("strictly increasing",),
    ),
    Invalid(
        "steps-not-ending-at-100",
        {"spec.rollout": {"steps": [10, 50]}},
        "spec.rollout.steps",
        ("last step must be 100",),
    ),
    Invalid(
        "step-over-100",
        {"spec.rollout": {"steps": [10, 150]}},
        "spec.rollout.steps[1]",
        ("less than or equal to 100",),
    ),
    Invalid(
        "error-rate-above-1",
        {"spec.rollout": {"slo": {"maxErrorRate": 1.5}}},
        "spec.rollout.slo.maxErrorRate",
        ("less than or equal to 1",),
    ),
    Invalid(
        "error-rate-negative",
        {"spec.rollout": {"slo": {"maxErrorRate": -0.1}}},
        "spec.rollout.slo.maxErrorRate",
        ("greater than or equal to 0",),
    ),
    Invalid(
        "min-above-max-replicas",
        {"spec.autoscaling": {"minReplicas": 5, "maxReplicas": 2}},
        "spec.autoscaling.minReplicas",
        ("must not be greater than maxReplicas",),
    ),
    Invalid("negative-replicas", {"spec.replicas": -1}, "spec.replicas", ("greater than or equal to 0",)),
    Invalid("non-numeric-replicas", {"spec.replicas": "three"}, "spec.replicas", ("expected numeric",)),
    Invalid(
        "replicas-and-autoscaling",
        {"spec.replicas": 3, "spec.autoscaling": {"maxReplicas": 5}},
        "spec.replicas",
        ("not both",),
    ),
    Invalid(
        "malformed-interval",
        {"spec.rollout": {"interval": "5 minutes"}},
        "spec.rollout.interval",
        ("must be a duration",),
    ),
    Invalid(
        "malformed-latency",
        {"spec.rollout": {"slo": {"maxLatencyP99": "fast"}}},
        "spec.rollout.slo.maxLatencyP99",
        ("must be a duration",),
    ),
    Invalid(
        "keep-alive-below-lb-idle-timeout",
        {"spec.server": {"keepAliveTimeout": "30s"}},
        "spec.server.keepAliveTimeout",
        ("longer than loadBalancerIdleTimeout",),
    ),
    Invalid(
        "graceful-shutdown-does-not-fit",
        {
            "spec.server": {"gracefulShutdownTimeout": "60s"},
            "spec.shutdown": {"terminationGracePeriod": "30s"},
        },
        "spec.shutdown.terminationGracePeriod",
        ("too short",),
    ),
    Invalid(
        "pre-stop-does-not-fit",
        {"spec.shutdown": {"preStopDelay": "30s", "terminationGracePeriod": "40s"}},
        "spec.shutdown.terminationGracePeriod",
        ("too short",),
    ),
    Invalid(
        "granian-keep-alive-beyond-its-limit",
        {"spec.server": {"kind": "granian", "keepAliveTimeout": "65s"}},
        "spec.server.keepAliveTimeout",
        ("granian keeps an idle connection at most 60s",),
    ),
    Invalid(
        "request-above-limit",
        {"spec.resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}},
        "spec.resources",
        ("request must not be greater than its limit",),
    ),
    Invalid("privileged-port", {"spec.port": 80}, "spec.port", ("greater than or equal to 1024",)),
    Invalid(
        "hypercorn-proxy-headers",
        {"spec.server": {"kind": "hypercorn", "proxyHeaders": True}},
        "spec.server.proxyHeaders",
        ("not supported by hypercorn",),
    ),
    Invalid(
        "gunicorn-concurrency-limit",
        {"spec.server": {"kind": "gunicorn", "concurrencyLimit": 100}},
        "spec.server.concurrencyLimit",
        ("not supported by gunicorn",),
    ),
    Invalid(
        "trusted-proxy-not-an-ip",
        {"spec.server": {"trustedProxies": ["gateway.local"]}},
        "spec.server.trustedProxies",
        ("IP addresses, CIDRs",),
    ),
    Invalid(
        "custom-profile-without-queries",
        {"spec.rollout": {"prometheus": {"profile": "custom"}}},
        "spec.rollout.prometheus.queries",
        ("required with profile custom",),
    ),
    Invalid(
        "gateway-and-ingress",
        {"spec.expose": {"gateway": {"name": "public"}, "ingress": {"className": "nginx"}}},
        "spec.expose",
        ("exactly one of gateway, ingress and httpRoute",),
    ),
    Invalid(
        "tls-with-gateway",
        {
            "spec.expose": {
                "host": "a.example.com",
                "gateway": {"name": "public"},
                "tls": {"secretName": "a-tls"},
            }
        },
        "spec.expose.tls",
        ("Gateway's listener",),
    ),
    Invalid(
        "uppercase-host",
        {"spec.expose": {"host": "Shop.Example.com", "ingress": {"className": "nginx"}}},
        "spec.expose.host",
        ("DNS name",),
    ),
    Invalid(
        "autoscaling-without-cpu-request",
        {"spec.autoscaling": {"maxReplicas": 4}, "spec.resources": {"requests": {"memory": "256Mi"}}},
        "spec.resources.requests",
        ("resources.requests.cpu",),
    ),
    Invalid(
        "bad-quantity",
        {"spec.resources": {"requests": {"cpu": "lots"}}},
        "spec.resources.requests[cpu]",
        ("quantity",),
    ),
    Invalid(
        "deadline-not-after-interval",
        {"spec.rollout": {"interval": "5m", "progressDeadline": "2m"}},
        "spec.rollout.progressDeadline",
        ("longer than interval",),
    ),
    Invalid("name-too-long", {"metadata.name": "a" * 57}, "metadata.name", ("at most 56 characters",)),
    Invalid(
        "hypercorn-several-workers",
        {"spec.server": {"kind": "hypercorn", "workers": 2}},
        "spec.server.workers",
        ("drops in-flight requests on SIGTERM", "workers: 1"),
    ),
    Invalid(
        "window-shorter-than-two-scrapes",
        {"spec.metrics": {"interval": "10s"}, "spec.rollout": {"slo": {"window": "5s"}}},
        "spec.rollout.slo.window",
        ("at least 2 scrapes", "rate() needs two samples"),
    ),
    Invalid(
        "window-of-half-a-second",
        {"spec.rollout": {"slo": {"window": "500ms"}}},
        "spec.rollout.slo.window",
        ("at least 2 scrapes",),
    ),
    Invalid(
        "scrape-interval-below-a-second",
        {"spec.metrics": {"interval": "500ms"}},
        "spec.metrics.interval",
        ("at least 1s",),
    ),
    Invalid(
        "per-route-without-error-rate",
        {"spec.rollout": {"slo": {"perRoute": {"minRequests": 5}}}},
        "spec.rollout.slo.perRoute.maxErrorRate",
        ("Required",),
    ),
    Invalid(
        "per-route-error-rate-above-one",
        {"spec.rollout": {"slo": {"perRoute": {"maxErrorRate": 2}}}},
        "spec.rollout.slo.perRoute.maxErrorRate",
        ("less than or equal to 1",),
    ),
    Invalid(
        "per-route-with-custom-profile-without-route-queries",
        {
            "spec.rollout": {
                "slo": {"perRoute": {"maxErrorRate": 0.1}},
                "prometheus": {"profile": "custom", "queries": {"requests": "r", "errorRate": "e", "latencyP99": "p"}},
            }
        },
        "spec.rollout.slo.perRoute",
        ("routeLabel, routeRequests and routeErrorRate",),
    ),
    Invalid(
        "route-label-not-a-label-name",
        {
            "spec.rollout": {
                "prometheus": {
                    "profile": "custom",
                    "queries": {"requests": "r", "errorRate": "e", "latencyP99": "p", "routeLabel": "my-route"},
                }
            }
        },
        "spec.rollout.prometheus.queries.routeLabel",
        ("should match",),
    ),
    Invalid(
        "gateway-router-on-an-ingress",
        {"spec.expose": {"ingress": {"className": "traefik"}}, "spec.rollout": {"router": "gatewayAPI"}},
        "spec.rollout.router",
        ("needs expose.gateway or expose.httpRoute",),
    ),
    Invalid(
        "nginx-router-without-an-ingress",
        {"spec.rollout": {"router": "ingressNginx"}},
        "spec.rollout.router",
        ("ingressNginx needs expose.ingress",),
    ),
]


# Valid specs at the very edge of a rule: the models AND the API server must accept each (parity both ways).
AT_THE_EDGE: list[tuple[str, dict[str, Any]]] = [
    (
        "grace-period-exactly-fits",  # 10s preStop + 30s graceful + 5s margin
        {"spec.shutdown": {"preStopDelay": "10s", "terminationGracePeriod": "45s"}},
    ),
    (
        "grace-period-fits-fractional",  # 1.5s -> 2s, 30s, 5s: 37s
        {"spec.shutdown": {"preStopDelay": "1.5s", "terminationGracePeriod": "37s"}},
    ),
    ("window-exactly-two-scrapes", {"spec.metrics": {"interval": "15s"}, "spec.rollout": {"slo": {"window": "30s"}}}),
    ("scrape-interval-one-second", {"spec.metrics": {"interval": "1s"}}),
]


def at_the_edge(changes: dict[str, Any]) -> dict[str, Any]:
    return Invalid("edge", changes, "").manifest()
