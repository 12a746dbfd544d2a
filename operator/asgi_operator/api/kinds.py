"""The Kubernetes kinds the operator reads and writes, as plain data (API version, kind, plural).

Which of them an AsgiService may own is declared where the objects are rendered (`render.children.WORKLOAD`
and each traffic router's `owns`); the watch list, the deletions and the RBAC rules are derived from those
declarations (`routers.registry`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from . import keys


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        parts = [base]
        if self.namespaced and namespace is not None:
            parts += ["namespaces", namespace]
        parts.append(self.plural)
        if name is not None:
            parts.append(name)
        if subresource is not None:
            parts.append(subresource)
        return "/".join(parts)


ASGI_SERVICE: Final = Kind(keys.API_VERSION, keys.KIND, keys.PLURAL)
DEPLOYMENT: Final = Kind("apps/v1", "Deployment", "deployments")
SERVICE: Final = Kind("v1", "Service", "services")
HPA: Final = Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers")
PDB: Final = Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets")
INGRESS: Final = Kind("networking.k8s.io/v1", "Ingress", "ingresses")
HTTP_ROUTE: Final = Kind("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes")
POD_MONITOR: Final = Kind("monitoring.coreos.com/v1", "PodMonitor", "podmonitors")
CERTIFICATE: Final = Kind("cert-manager.io/v1", "Certificate", "certificates")
LISTENER_SET: Final = Kind("gateway.networking.k8s.io/v1", "ListenerSet", "listenersets")
# expose.rateLimit: the policy of the Gateway API implementation named (render.ratelimit)
BACKEND_TRAFFIC_POLICY: Final = Kind("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy", "backendtrafficpolicies")
NGF_RATE_LIMIT_POLICY: Final = Kind("gateway.nginx.org/v1alpha1", "RateLimitPolicy", "ratelimitpolicies")
# Traefik's rate limit: a Middleware the generated HTTPRoute's weighted rule runs (an ExtensionRef filter)
TRAEFIK_MIDDLEWARE: Final = Kind("traefik.io/v1alpha1", "Middleware", "middlewares")
# read only, one by one, at a canary's analysis (routers.gateway_status): the Gateway a generated route attaches
# to and its GatewayClass (cluster-scoped), for the features the class says it supports
GATEWAY: Final = Kind("gateway.networking.k8s.io/v1", "Gateway", "gateways")
GATEWAY_CLASS: Final = Kind("gateway.networking.k8s.io/v1", "GatewayClass", "gatewayclasses", namespaced=False)
EVENT: Final = Kind("v1", "Event", "events")
JOB: Final = Kind("batch/v1", "Job", "jobs")
POD: Final = Kind("v1", "Pod", "pods")
# read only, one by one (never listed): what spec.rollout.prometheus.auth names
SECRET: Final = Kind("v1", "Secret", "secrets")
CONFIG_MAP: Final = Kind("v1", "ConfigMap", "configmaps")
