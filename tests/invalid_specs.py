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
        "spec.expose.gateway.sectionName",
        ("HTTPS listener",),
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
    # an analysis more often than one scrape finds no new sample (RollingUpdate has no analysis: AT_THE_EDGE)
    Invalid(
        "analysis-interval-shorter-than-one-scrape",
        {"spec.metrics": {"interval": "1m"}, "spec.rollout": {"interval": "10s"}},
        "spec.rollout.interval",
        ("rollout.interval 10s is shorter than one scrape (metrics.interval 1m)", "at least 1m"),
    ),
    Invalid(
        "analysis-interval-shorter-than-the-default-scrape",
        {"spec.rollout": {"interval": "5s"}},
        "spec.rollout.interval",
        ("rollout.interval 5s is shorter than one scrape (metrics.interval 10s)",),
    ),
    Invalid(
        "scrape-interval-longer-than-the-default-analysis-interval",
        {"spec.metrics": {"interval": "2m"}},
        "spec.rollout.interval",
        ("rollout.interval 1m is shorter than one scrape (metrics.interval 2m)", "metrics.interval to at most 1m"),
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
    # Prometheus auth
    Invalid(
        "prom-auth-two-methods",
        {
            "spec.rollout": {
                "prometheus": {
                    "address": "https://prom.example.com",
                    "auth": {
                        "bearerToken": {"secretRef": {"name": "prom", "key": "token"}},
                        "basicAuth": {
                            "username": {"value": "me"},
                            "password": {"secretRef": {"name": "prom", "key": "password"}},
                        },
                    },
                }
            }
        },
        "spec.rollout.prometheus.auth.basicAuth",
        ("set at most one of bearerToken and basicAuth",),
    ),
    Invalid(
        "prom-auth-secret-ref-without-key",
        {"spec.rollout": {"prometheus": {"auth": {"bearerToken": {"secretRef": {"name": "prom"}}}}}},
        "spec.rollout.prometheus.auth.bearerToken.secretRef.key",
        ("Required value",),
    ),
    Invalid(
        "prom-auth-authorization-header",
        {"spec.rollout": {"prometheus": {"auth": {"headers": [{"name": "authorization", "value": "Bearer x"}]}}}},
        "spec.rollout.prometheus.auth.headers[0].name",
        ("use auth.bearerToken or auth.basicAuth",),
    ),
    Invalid(
        "prom-auth-header-value-and-value-from",
        {
            "spec.rollout": {
                "prometheus": {
                    "auth": {
                        "headers": [
                            {
                                "name": "X-Scope-OrgID",
                                "value": "team-a",
                                "valueFrom": {"secretKeyRef": {"name": "tenant", "key": "id"}},
                            }
                        ]
                    }
                }
            }
        },
        "spec.rollout.prometheus.auth.headers[0]",
        ("set exactly one of value and valueFrom",),
    ),
    Invalid(
        "prom-auth-tls-over-http",
        {
            "spec.rollout": {
                "prometheus": {
                    "address": "http://prom.monitoring:9090",
                    "auth": {"tls": {"serverName": "prom.example.com"}},
                }
            }
        },
        "spec.rollout.prometheus.auth.tls",
        ("auth.tls needs an https:// address",),
    ),
    Invalid(
        "prom-auth-username-twice",
        {
            "spec.rollout": {
                "prometheus": {
                    "auth": {
                        "basicAuth": {
                            "username": {"value": "me", "secretRef": {"name": "prom", "key": "user"}},
                            "password": {"secretRef": {"name": "prom", "key": "password"}},
                        }
                    }
                }
            }
        },
        "spec.rollout.prometheus.auth.basicAuth.username",
        ("set exactly one of value and secretRef",),
    ),
    Invalid(
        "prom-auth-duplicate-header",
        {
            "spec.rollout": {
                "prometheus": {
                    "auth": {
                        "headers": [{"name": "X-Scope-OrgID", "value": "a"}, {"name": "x-scope-orgid", "value": "b"}]
                    }
                }
            }
        },
        "spec.rollout.prometheus.auth.headers",
        ("header names must be unique",),
    ),
    Invalid(
        "prom-auth-two-cas",
        {
            "spec.rollout": {
                "prometheus": {
                    "address": "https://prom.example.com",
                    "auth": {
                        "tls": {
                            "caSecretRef": {"name": "ca", "key": "ca.crt"},
                            "caConfigMapRef": {"name": "ca", "key": "ca.crt"},
                        }
                    },
                }
            }
        },
        "spec.rollout.prometheus.auth.tls.caSecretRef",
        ("set at most one of caSecretRef and caConfigMapRef",),
    ),
]

# pod features
_CONFIG_VOLUME: dict[str, Any] = {"name": "config", "configMap": {"name": "shop-config"}}
_SIDECAR: dict[str, Any] = {"name": "proxy", "image": "proxy:1", "restartPolicy": "Always"}
INVALID += [
    Invalid(
        "volume-mount-names-a-missing-volume",
        {"spec.volumes": [_CONFIG_VOLUME], "spec.volumeMounts": [{"name": "secrets", "mountPath": "/etc/secrets"}]},
        "spec.volumeMounts",
        ("no volume named secrets",),
    ),
    Invalid(
        "init-container-mount-names-a-missing-volume",
        {"spec.initContainers": [{"name": "wait", "volumeMounts": [{"name": "creds", "mountPath": "/creds"}]}]},
        "spec.initContainers",
        ("no volume named creds",),
    ),
    Invalid(
        "host-path-volume",
        {"spec.volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]},
        "spec.volumes[0].hostPath",
        ("hostPath volumes are not allowed", "restricted Pod Security Standard"),
    ),
    Invalid(
        "privileged-sidecar",
        {"spec.initContainers": [{**_SIDECAR, "securityContext": {"privileged": True}}]},
        "spec.initContainers[0].securityContext.privileged",
        ("privileged containers are not allowed", "restricted Pod Security Standard"),
    ),
    Invalid(
        "capability-sys-admin",
        {"spec.initContainers": [{**_SIDECAR, "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]},
        "spec.initContainers[0].securityContext.capabilities.add",
        ("not SYS_ADMIN", "restricted Pod Security Standard"),
    ),
    Invalid(
        "run-as-root",
        {"spec.initContainers": [{"name": "chown", "securityContext": {"runAsUser": 0}}]},
        "spec.initContainers[0].securityContext.runAsUser",
        ("runAsUser 0 (root) is not allowed",),
    ),
    Invalid(
        "privilege-escalation",
        {"spec.initContainers": [{"name": "setup", "securityContext": {"allowPrivilegeEscalation": True}}]},
        "spec.initContainers[0].securityContext.allowPrivilegeEscalation",
        ("must be false",),
    ),
    Invalid(
        "duplicate-volume-names",
        {"spec.volumes": [_CONFIG_VOLUME, {"name": "config", "emptyDir": {}}]},
        "spec.volumes",
        ("duplicate entries", 'name="config"'),
    ),
    Invalid(
        "duplicate-container-names",
        {"spec.initContainers": [{"name": "wait"}, {"name": "wait", "image": "busybox"}]},
        "spec.initContainers",
        ("duplicate entries", 'name="wait"'),
    ),
    Invalid(
        "init-container-named-app",
        {"spec.initContainers": [{"name": "app", "image": "busybox"}]},
        "spec.initContainers[0].name",
        ("the app's container",),
    ),
    Invalid(
        "volume-named-like-the-operators",
        {"spec.volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory"}}]},
        "spec.volumes[0].name",
        ("operator's own volumes",),
    ),
    Invalid(
        "mount-over-the-operators-tmp",
        {"spec.volumes": [_CONFIG_VOLUME], "spec.volumeMounts": [{"name": "config", "mountPath": "/tmp"}]},
        "spec.volumeMounts[0].mountPath",
        ("operator mounts its own volumes",),
    ),
    Invalid(
        "volume-with-two-sources",
        {"spec.volumes": [{"name": "config", "configMap": {"name": "a"}, "emptyDir": {}}]},
        "spec.volumes[0]",
        ("exactly one volume source",),
    ),
    Invalid(
        "toleration-operator",
        {"spec.tolerations": [{"key": "dedicated", "operator": "Matches", "value": "web"}]},
        "spec.tolerations[0].operator",
        ("Unsupported value", "Matches"),
    ),
    Invalid(
        "toleration-effect",
        {"spec.tolerations": [{"key": "dedicated", "value": "web", "effect": "NoRun"}]},
        "spec.tolerations[0].effect",
        ("Unsupported value", "NoRun"),
    ),
    Invalid(
        "toleration-exists-with-a-value",
        {"spec.tolerations": [{"key": "dedicated", "operator": "Exists", "value": "web"}]},
        "spec.tolerations[0].value",
        ("value must be empty when operator is Exists",),
    ),
    Invalid(
        "toleration-seconds-without-no-execute",
        {"spec.tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 30}]},
        "spec.tolerations[0].effect",
        ("tolerationSeconds needs effect NoExecute",),
    ),
    Invalid(
        "spread-max-skew-0",
        {
            "spec.topologySpreadConstraints": [
                {"maxSkew": 0, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}
            ]
        },
        "spec.topologySpreadConstraints[0].maxSkew",
        ("greater than or equal to 1",),
    ),
    Invalid(
        "spread-min-domains-when-schedule-anyway",
        {
            "spec.topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "minDomains": 3,
                }
            ]
        },
        "spec.topologySpreadConstraints[0].minDomains",
        ("minDomains needs whenUnsatisfiable DoNotSchedule",),
    ),
    Invalid(
        "probe-on-a-plain-init-container",
        {"spec.initContainers": [{"name": "wait", "readinessProbe": {"tcpSocket": {"port": 5432}}}]},
        "spec.initContainers[0].restartPolicy",
        ("probes need restartPolicy: Always",),
    ),
    Invalid(
        "init-container-restart-policy-on-failure",
        {"spec.initContainers": [{"name": "wait", "restartPolicy": "OnFailure"}]},
        "spec.initContainers[0].restartPolicy",
        ("Unsupported value", "OnFailure"),
    ),
    Invalid(
        "node-affinity-in-without-values",
        {
            "spec.affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In"}]}]
                    }
                }
            }
        },
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
        ".matchExpressions[0].values",
        ("In and NotIn need at least one value",),
    ),
    Invalid(
        "priority-class-name",
        {"spec.priorityClassName": "High_Priority"},
        "spec.priorityClassName",
        ("should match",),
    ),
]


# rollout.preDeploy
INVALID += [
    Invalid(
        "pre-deploy-without-a-command",
        {"spec.rollout": {"preDeploy": {"command": []}}},
        "spec.rollout.preDeploy.command",
        ("should have at least 1 item",),
    ),
    Invalid(
        "pre-deploy-empty-argument",
        {"spec.rollout": {"preDeploy": {"command": ["alembic", ""]}}},
        "spec.rollout.preDeploy.command",
        ("must not contain empty strings",),
    ),
    Invalid(
        "pre-deploy-ttl-too-short",
        {"spec.rollout": {"preDeploy": {"command": ["migrate"], "ttlAfterFinished": "30s"}}},
        "spec.rollout.preDeploy.ttlAfterFinished",
        ("at least 10m", "outcome"),
    ),
    Invalid(
        "pre-deploy-timeout-too-long",
        {"spec.rollout": {"preDeploy": {"command": ["migrate"], "timeout": "7h"}}},
        "spec.rollout.preDeploy.timeout",
        ("from 1s to 6h",),
    ),
    Invalid(
        "pre-deploy-backoff-limit",
        {"spec.rollout": {"preDeploy": {"command": ["migrate"], "backoffLimit": 11}}},
        "spec.rollout.preDeploy.backoffLimit",
        ("less than or equal to 10",),
    ),
]


# rate limits
_RL: dict[str, Any] = {"requests": 100, "per": "Minute", "scope": "PerProxy"}
_RL_GATEWAY: dict[str, Any] = {"host": "shop.example.com", "gateway": {"name": "public"}}
_RL_INGRESS: dict[str, Any] = {"host": "shop.example.com", "ingress": {"className": "nginx"}}
_RL_NGINX: dict[str, Any] = {**_RL, "implementation": "IngressNginx"}
_RL_TRAEFIK: dict[str, Any] = {**_RL, "implementation": "Traefik"}
INVALID += [
    Invalid(
        "rate-limit-gateway-without-implementation",
        {"spec.expose": {**_RL_GATEWAY, "rateLimit": _RL}},
        "spec.expose.rateLimit.implementation",
        ("required with Gateway API", "EnvoyGateway"),
    ),
    Invalid(
        "rate-limit-global-with-nginx-gateway-fabric",
        {
            "spec.expose": {
                **_RL_GATEWAY,
                "rateLimit": {**_RL, "scope": "Global", "implementation": "NginxGatewayFabric"},
            }
        },
        "spec.expose.rateLimit.scope",
        ("Global", "local only", "PerProxy"),
    ),
    Invalid(
        "rate-limit-global-with-ingress-nginx",
        {"spec.expose": {**_RL_INGRESS, "rateLimit": {**_RL_NGINX, "scope": "Global"}}},
        "spec.expose.rateLimit.scope",
        ("ingress-nginx", "each controller replica", "PerProxy"),
    ),
    Invalid(
        "rate-limit-per-hour-with-ingress-nginx",
        {"spec.expose": {**_RL_INGRESS, "rateLimit": {**_RL_NGINX, "per": "Hour"}}},
        "spec.expose.rateLimit.per",
        ("limit-rps", "limit-rpm"),
    ),
    Invalid(
        "rate-limit-with-the-replicas-router",
        {
            "spec.expose": {**_RL_GATEWAY, "rateLimit": {**_RL, "implementation": "EnvoyGateway"}},
            "spec.rollout": {"router": "replicas"},
        },
        "spec.expose.rateLimit",
        ("not possible with rollout.router replicas",),
    ),
    # no implementation: nothing is guessed from the class name, the message says what to add
    Invalid(
        "rate-limit-ingress-without-implementation",
        {"spec.expose": {**_RL_INGRESS, "rateLimit": _RL}},
        "spec.expose.rateLimit.implementation",
        ("needs implementation: IngressNginx", "add implementation: IngressNginx to expose.rateLimit"),
    ),
    Invalid(  # F5's NGINX Ingress Controller ignores ingress-nginx's annotations
        "rate-limit-nginx-plus-ingress-without-implementation",
        {"spec.expose": {"host": "shop.example.com", "ingress": {"className": "nginx-plus"}, "rateLimit": _RL}},
        "spec.expose.rateLimit.implementation",
        ("served by the ingress-nginx controller", "F5's NGINX Ingress Controller"),
    ),
    Invalid(
        "rate-limit-ingress-nginx-on-a-gateway",
        {"spec.expose": {**_RL_GATEWAY, "rateLimit": _RL_NGINX}},
        "spec.expose.rateLimit.implementation",
        ("required with Gateway API", "IngressNginx is for expose.ingress"),
    ),
    Invalid(
        "rate-limit-exempt-not-a-cidr",
        {"spec.expose": {**_RL_INGRESS, "rateLimit": {**_RL_NGINX, "exempt": ["10.0.0.0/33"]}}},
        "spec.expose.rateLimit.exempt",
        ("IP addresses or CIDRs",),
    ),
    Invalid(
        "rate-limit-exempt-with-envoy-gateway",
        {
            "spec.expose": {
                **_RL_GATEWAY,
                "rateLimit": {**_RL, "implementation": "EnvoyGateway", "exempt": ["10.0.0.0/8"]},
            }
        },
        "spec.expose.rateLimit.exempt",
        ("only possible with ingress-nginx",),
    ),
    Invalid(
        "rate-limit-burst-with-envoy-gateway",
        {"spec.expose": {**_RL_GATEWAY, "rateLimit": {**_RL, "implementation": "EnvoyGateway", "burst": 20}}},
        "spec.expose.rateLimit.burst",
        ("not possible with Envoy Gateway",),
    ),
    Invalid(
        "rate-limit-burst-not-a-multiple-with-ingress-nginx",
        {"spec.expose": {**_RL_INGRESS, "rateLimit": {**_RL_NGINX, "burst": 150}}},
        "spec.expose.rateLimit.burst",
        ("multiple of requests",),
    ),
    Invalid(
        "rate-limit-implementation-with-an-ingress",
        {"spec.expose": {**_RL_INGRESS, "rateLimit": {**_RL, "implementation": "EnvoyGateway"}}},
        "spec.expose.rateLimit.implementation",
        ("needs implementation: IngressNginx", "EnvoyGateway, NginxGatewayFabric and Traefik are for expose.gateway"),
    ),
    Invalid(
        "rate-limit-per-hour-with-nginx-gateway-fabric",
        {
            "spec.expose": {
                "httpRoute": {"name": "shop"},
                "rateLimit": {**_RL, "per": "Hour", "implementation": "NginxGatewayFabric"},
            }
        },
        "spec.expose.rateLimit.per",
        ("r/s, r/m",),
    ),
    # Traefik: a Middleware named by the generated route; PerProxy, no allow-list, a bucket of a second at most
    Invalid(
        "rate-limit-global-with-traefik",
        {"spec.expose": {**_RL_GATEWAY, "rateLimit": {**_RL_TRAEFIK, "scope": "Global"}}},
        "spec.expose.rateLimit.scope",
        ("not possible with Traefik", "each Traefik instance's memory", "use scope: PerProxy"),
    ),
    Invalid(
        "rate-limit-exempt-with-traefik",
        {"spec.expose": {**_RL_GATEWAY, "rateLimit": {**_RL_TRAEFIK, "exempt": ["10.0.0.0/8"]}}},
        "spec.expose.rateLimit.exempt",
        ("only possible with ingress-nginx", "Traefik (its RateLimit middleware) have no allow-list"),
    ),
    Invalid(  # 100 per minute refills less than 2 a second: Traefik would give a resting client 20 again
        "rate-limit-burst-per-minute-with-traefik",
        {"spec.expose": {**_RL_GATEWAY, "rateLimit": {**_RL_TRAEFIK, "burst": 20}}},
        "spec.expose.rateLimit.burst",
        ("burst is more than Traefik keeps: at most the requests per second", "forgets a client"),
    ),
    Invalid(
        "rate-limit-burst-above-the-rate-per-second-with-traefik",
        {"spec.expose": {**_RL_GATEWAY, "rateLimit": {**_RL_TRAEFIK, "per": "Second", "requests": 10, "burst": 11}}},
        "spec.expose.rateLimit.burst",
        ("burst is more than Traefik keeps", "requests with per Second"),
    ),
    Invalid(
        "rate-limit-traefik-on-your-route",
        {"spec.expose": {"httpRoute": {"name": "shop"}, "rateLimit": _RL_TRAEFIK}},
        "spec.expose.rateLimit.implementation",
        ("Traefik is not possible with expose.httpRoute", "ExtensionRef filter", "Use expose.gateway"),
    ),
    Invalid(
        "rate-limit-traefik-with-an-ingress",
        {"spec.expose": {**_RL_INGRESS, "rateLimit": _RL_TRAEFIK}},
        "spec.expose.rateLimit.implementation",
        ("needs implementation: IngressNginx", "Traefik: expose.gateway only"),
    ),
    Invalid(  # Traefik's Gateway API provider answers 500 to every request of a rule with a CORS filter
        "rate-limit-traefik-with-cors-at-the-edge",
        {
            "spec.expose": {
                **_RL_GATEWAY,
                "rateLimit": _RL_TRAEFIK,
                "cors": {"allowOrigins": ["https://shop.example.com"]},
            }
        },
        "spec.expose.cors.enforcement",
        ("does not implement the HTTPRoute CORS filter", "use cors.enforcement: App"),
    ),
    Invalid(
        "rate-limit-zero-requests",
        {"spec.expose": {**_RL_INGRESS, "rateLimit": {**_RL_NGINX, "requests": 0}}},
        "spec.expose.rateLimit.requests",
        ("greater than or equal to 1",),
    ),
]

# TLS
_TLS_INGRESS: dict[str, Any] = {"host": "shop.example.com", "ingress": {"className": "nginx"}}
_TLS_GATEWAY: dict[str, Any] = {
    "host": "shop.example.com",
    "gateway": {"name": "public", "sectionName": "https", "httpSectionName": "http"},
}
_ISSUER: dict[str, Any] = {"name": "letsencrypt", "kind": "ClusterIssuer"}
INVALID += [
    Invalid(
        "tls-without-host",
        {"spec.expose": {"ingress": {"className": "nginx"}, "tls": {"issuerRef": _ISSUER}}},
        "spec.expose.tls",
        ("tls needs a host",),
    ),
    Invalid(
        "tls-secret-and-issuer",
        {"spec.expose": {**_TLS_INGRESS, "tls": {"secretName": "shop-tls", "issuerRef": _ISSUER}}},
        "spec.expose.tls",
        ("exactly one of secretName", "issuerRef"),
    ),
    Invalid(
        "tls-neither-secret-nor-issuer",
        {"spec.expose": {**_TLS_INGRESS, "tls": {"redirect": False}}},
        "spec.expose.tls",
        ("exactly one of secretName", "issuerRef"),
    ),
    Invalid(
        "tls-issuer-kind-invalid",
        {"spec.expose": {**_TLS_INGRESS, "tls": {"issuerRef": {"name": "letsencrypt", "kind": "Vault"}}}},
        "spec.expose.tls.issuerRef.kind",
        ("Issuer or ClusterIssuer",),
    ),
    Invalid(
        "tls-hsts-max-age-over-two-years",
        {"spec.expose": {**_TLS_GATEWAY, "tls": {"issuerRef": _ISSUER, "hstsMaxAge": 63072001}}},
        "spec.expose.tls.hstsMaxAge",
        ("less than or equal to 63072000",),
    ),
    Invalid(
        "tls-hsts-max-age-with-ingress-nginx",
        {"spec.expose": {**_TLS_INGRESS, "tls": {"secretName": "shop-tls", "hstsMaxAge": 600}}},
        "spec.expose.tls.hstsMaxAge",
        ("ConfigMap",),
    ),
    Invalid(
        "tls-with-the-replicas-router",
        {"spec.expose": {**_TLS_INGRESS, "tls": {"secretName": "shop-tls"}}, "spec.rollout": {"router": "replicas"}},
        "spec.expose.tls",
        ("rollout.router replicas",),
    ),
    Invalid(
        "tls-with-your-own-route",
        {"spec.expose": {"host": "shop.example.com", "httpRoute": {"name": "shop"}, "tls": {"secretName": "s"}}},
        "spec.expose.tls",
        ("expose.gateway or expose.ingress",),
    ),
    Invalid(
        "tls-redirect-without-http-listener",
        {
            "spec.expose": {
                "host": "shop.example.com",
                "gateway": {"name": "public", "sectionName": "https"},
                "tls": {"issuerRef": _ISSUER},
            }
        },
        "spec.expose.gateway.httpSectionName",
        ("HTTP listener", "redirect false"),
    ),
    Invalid(
        "tls-redirect-on-the-https-listener",
        {
            "spec.expose": {
                "host": "shop.example.com",
                "gateway": {"name": "public", "sectionName": "https", "httpSectionName": "https"},
                "tls": {"issuerRef": _ISSUER},
            }
        },
        "spec.expose.gateway.httpSectionName",
        ("must differ",),
    ),
    Invalid(
        "tls-listener-set-without-tls",
        {"spec.expose": {"host": "shop.example.com", "gateway": {"name": "public", "listenerSet": True}}},
        "spec.expose.gateway.listenerSet",
        ("needs tls",),
    ),
    Invalid(
        "tls-listener-set-and-a-section-name",
        {
            "spec.expose": {
                "host": "shop.example.com",
                "gateway": {"name": "public", "listenerSet": True, "sectionName": "https", "httpSectionName": "http"},
                "tls": {"issuerRef": _ISSUER},
            }
        },
        "spec.expose.gateway.listenerSet",
        ("no sectionName",),
    ),
]

# CORS and observability (the asgi_edge wrapper)
_GW = {"host": "shop.example.com", "gateway": {"name": "public"}}
INVALID += [
    Invalid(
        "cors-any-origin",
        {"spec.expose": {**_GW, "cors": {"allowOrigins": ["*"]}}},
        "spec.expose.cors.allowOrigins[0]",
        ("should match",),
    ),
    Invalid(
        "cors-origin-with-a-path",
        {"spec.expose": {**_GW, "cors": {"allowOrigins": ["https://shop.example.com/app"]}}},
        "spec.expose.cors.allowOrigins[0]",
        ("should match",),
    ),
    Invalid(
        "cors-wildcard-subdomain",
        {"spec.expose": {**_GW, "cors": {"allowOrigins": ["https://*.example.com"]}}},
        "spec.expose.cors.allowOrigins[0]",
        ("should match",),
    ),
    Invalid(
        "cors-no-origin",
        {"spec.expose": {**_GW, "cors": {"allowOrigins": []}}},
        "spec.expose.cors.allowOrigins",
        ("should have at least 1 item",),
    ),
    Invalid(
        "cors-any-header-with-credentials",
        {
            "spec.expose": {
                **_GW,
                "cors": {"allowOrigins": ["https://a.example.com"], "allowCredentials": True, "allowHeaders": ["*"]},
            }
        },
        "spec.expose.cors.allowHeaders",
        ("cannot be used with allowCredentials",),
    ),
    Invalid(
        "cors-unknown-method",
        {"spec.expose": {**_GW, "cors": {"allowOrigins": ["https://a.example.com"], "allowMethods": ["FETCH"]}}},
        "spec.expose.cors.allowMethods[0]",
        ("Unsupported value",),
    ),
    Invalid(
        "cors-max-age-too-long",
        {"spec.expose": {**_GW, "cors": {"allowOrigins": ["https://a.example.com"], "maxAge": "48h"}}},
        "spec.expose.cors.maxAge",
        ("from 1s to 24h",),
    ),
    Invalid(
        "cors-repeated-origin",
        {"spec.expose": {**_GW, "cors": {"allowOrigins": ["https://a.example.com", "https://a.example.com"]}}},
        "spec.expose.cors.allowOrigins",
        ("must not repeat",),
    ),
    Invalid(
        "cors-at-the-edge-of-a-route-you-own",
        {
            "spec.expose": {
                "host": "shop.example.com",
                "httpRoute": {"name": "platform"},
                "cors": {"allowOrigins": ["https://a.example.com"]},
            }
        },
        "spec.expose.cors.enforcement",
        ("use enforcement App",),
    ),
    Invalid(
        "cors-in-the-app-without-the-wrapper",
        {
            "spec.expose": {**_GW, "cors": {"allowOrigins": ["https://a.example.com"], "enforcement": "App"}},
            "spec.observability": {"wrapper": False},
        },
        "spec.expose.cors.enforcement",
        ("needs observability.wrapper",),
    ),
    Invalid(
        "wrapper-with-app-dir",
        {"spec.server": {"kind": "uvicorn", "extraArgs": ["--app-dir", "/srv"]}},
        "spec.server.extraArgs",
        ("conflict with the asgi_edge wrapper",),
    ),
    Invalid(
        "request-id-header-invalid",
        {"spec.observability": {"requestIdHeader": "X Request Id"}},
        "spec.observability.requestIdHeader",
        ("should match",),
    ),
    Invalid(
        "unknown-log-shipper",
        {"spec.observability": {"logShippers": ["Logstash"]}},
        "spec.observability.logShippers[0]",
        ("Unsupported value",),
    ),
    Invalid(
        "volume-named-like-the-wrapper",
        {"spec.volumes": [{"name": "asgi-edge", "emptyDir": {}}]},
        "spec.volumes[0].name",
        ("asgi_edge wrapper",),
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
    ("analysis-interval-exactly-one-scrape", {"spec.metrics": {"interval": "60s"}, "spec.rollout": {"interval": "1m"}}),
    (
        "rolling-update-has-no-analysis-interval",
        {"spec.metrics": {"interval": "1m"}, "spec.rollout": {"strategy": "RollingUpdate", "interval": "10s"}},
    ),
    # Prometheus auth: a method, headers and TLS together; credentials over http:// (a mesh); tls with no address
    (
        "prom-auth-everything-at-once",
        {
            "spec.rollout": {
                "prometheus": {
                    "address": "https://mimir.example.com/prometheus",
                    "auth": {
                        "basicAuth": {
                            "username": {"secretRef": {"name": "mimir", "key": "user"}},
                            "password": {"secretRef": {"name": "mimir", "key": "password"}},
                        },
                        "headers": [
                            {"name": "X-Scope-OrgID", "valueFrom": {"secretKeyRef": {"name": "tenant", "key": "org"}}},
                            {"name": "X-Team", "value": "checkout"},
                        ],
                        "tls": {"caConfigMapRef": {"name": "ca", "key": "ca.crt"}, "serverName": "mimir.internal"},
                    },
                }
            }
        },
    ),
    (
        "prom-auth-bearer-over-http",
        {
            "spec.rollout": {
                "prometheus": {
                    "address": "http://prometheus.monitoring:9090",
                    "auth": {"bearerToken": {"secretRef": {"name": "prom", "key": "token"}}},
                }
            }
        },
    ),
    (
        "prom-auth-tls-for-the-operator-wide-address",
        {"spec.rollout": {"prometheus": {"auth": {"tls": {"caSecretRef": {"name": "ca", "key": "ca.crt"}}}}}},
    ),
    (
        "cors-at-its-limits",
        {
            "spec.expose": {
                "host": "shop.example.com",
                "gateway": {"name": "public"},
                "cors": {"allowOrigins": ["http://localhost:3000"], "allowHeaders": ["*"], "maxAge": "24h"},
            }
        },
    ),
    (
        "wrapper-off-with-app-dir",
        {
            "spec.server": {"kind": "uvicorn", "extraArgs": ["--app-dir", "/srv"]},
            "spec.observability": {"wrapper": False},
        },
    ),
    (
        "pre-deploy-at-its-limits",
        {
            "spec.rollout": {
                "preDeploy": {"command": ["m"], "timeout": "6h", "ttlAfterFinished": "10m", "backoffLimit": 10}
            }
        },
    ),
    # pod features
    ("spread-off", {"spec.topologySpreadConstraints": []}),
    (
        "capability-net-bind-service",
        {
            "spec.initContainers": [
                {
                    **_SIDECAR,
                    "securityContext": {
                        "capabilities": {"add": ["NET_BIND_SERVICE"]},
                        "runAsUser": 1,
                        "runAsNonRoot": True,
                        "privileged": False,
                    },
                }
            ]
        },
    ),
    ("toleration-of-every-taint", {"spec.tolerations": [{"operator": "Exists"}]}),
    (
        "sidecar-with-probes",
        {
            "spec.initContainers": [
                {
                    **_SIDECAR,
                    "startupProbe": {"httpGet": {"path": "/ready", "port": 9801}},
                    "livenessProbe": {"tcpSocket": {"port": "proxy"}},
                }
            ]
        },
    ),
    (
        "mounts-next-to-the-operators",
        {
            "spec.volumes": [{"name": "tmp-cache", "emptyDir": {}}],
            "spec.volumeMounts": [{"name": "tmp-cache", "mountPath": "/tmp/cache"}],
        },
    ),
]


def at_the_edge(changes: dict[str, Any]) -> dict[str, Any]:
    return Invalid("edge", changes, "").manifest()


# rate limits at the edge of their rules: everything each implementation can do
AT_THE_EDGE += [
    (
        "rate-limit-envoy-gateway-global-per-hour",
        {
            "spec.expose": {
                **_RL_GATEWAY,
                "rateLimit": {"requests": 1000000, "per": "Hour", "scope": "Global", "implementation": "EnvoyGateway"},
            }
        },
    ),
    (
        "rate-limit-nginx-gateway-fabric-on-your-route-with-burst",
        {
            "spec.expose": {
                "httpRoute": {"name": "shop"},
                "rateLimit": {**_RL, "per": "Second", "burst": 1, "implementation": "NginxGatewayFabric"},
            }
        },
    ),
    (
        "rate-limit-ingress-nginx-burst-multiple-and-exemptions",
        {
            "spec.expose": {
                **_RL_INGRESS,
                "rateLimit": {**_RL_NGINX, "burst": 300, "exempt": ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"]},
            },
            "spec.rollout": {"router": "ingressNginx"},
        },
    ),
    # the implementation is stated, so any class name will do, and any router that renders the Ingress
    (
        "rate-limit-ingress-nginx-with-its-own-class-name",
        {"spec.expose": {"host": "shop.example.com", "ingress": {"className": "public"}, "rateLimit": _RL_NGINX}},
    ),
    (
        "rate-limit-ingress-nginx-with-the-replicas-router",
        {"spec.expose": {**_RL_INGRESS, "rateLimit": _RL_NGINX}, "spec.rollout": {"router": "replicas"}},
    ),
    # Traefik: per Hour, and a burst of exactly what refills in a second (or 1)
    (
        "rate-limit-traefik-per-hour-burst-of-what-a-second-refills",
        {"spec.expose": {**_RL_GATEWAY, "rateLimit": {**_RL_TRAEFIK, "requests": 7200, "per": "Hour", "burst": 2}}},
    ),
    (
        "rate-limit-traefik-per-minute-burst-one",
        {"spec.expose": {**_RL_GATEWAY, "rateLimit": {**_RL_TRAEFIK, "requests": 59, "burst": 1}}},
    ),
    (
        "rate-limit-traefik-per-second-burst-of-requests-cors-in-the-app",
        {
            "spec.expose": {
                **_RL_GATEWAY,
                "rateLimit": {**_RL_TRAEFIK, "per": "Second", "requests": 10, "burst": 10},
                "cors": {"allowOrigins": ["https://shop.example.com"], "enforcement": "App"},
            }
        },
    ),
]

# TLS at the edge of its rules
AT_THE_EDGE += [
    ("tls-gateway-issuer-with-redirect", {"spec.expose": {**_TLS_GATEWAY, "tls": {"issuerRef": _ISSUER}}}),
    (
        "tls-gateway-listener-set-no-redirect",
        {
            "spec.expose": {
                "host": "shop.example.com",
                "gateway": {"name": "public", "listenerSet": True},
                "tls": {"secretName": "shop-tls", "redirect": False},
            }
        },
    ),
    (
        "tls-gateway-no-redirect-no-http-listener-no-hsts",
        {
            "spec.expose": {
                "host": "shop.example.com",
                "gateway": {"name": "public", "sectionName": "https"},
                "tls": {"secretName": "shop-tls", "redirect": False, "hstsMaxAge": 0},
            }
        },
    ),
    (
        "tls-gateway-hsts-two-years-external-issuer",
        {
            "spec.expose": {
                **_TLS_GATEWAY,
                "tls": {
                    "issuerRef": {"name": "pca", "kind": "AWSPCAClusterIssuer", "group": "awspca.cert-manager.io"},
                    "hstsMaxAge": 63072000,
                },
            }
        },
    ),
    (
        "tls-ingress-secret-no-redirect",
        {"spec.expose": {**_TLS_INGRESS, "tls": {"secretName": "s", "redirect": False}}},
    ),
]
