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
]
