"""The pod: environment, resources, probes, the shutdown chain, metrics and autoscaling."""

from __future__ import annotations

import re
from typing import ClassVar, Final, Literal

from pydantic import Field

from .base import Model, nested
from .durations import Duration, seconds
from .patterns import DNS_SUBDOMAIN_PATTERN, ENV_NAME_PATTERN, RESOURCE_NAME_PATTERN, Quantity
from .quantities import quantity
from .rollout import MIN_WINDOW_SCRAPES
from .rules import Rule

# Seconds added to preStop + graceful shutdown when deriving terminationGracePeriodSeconds: time for the
# kubelet to deliver SIGTERM and for the server to exit after its graceful timeout.
SHUTDOWN_MARGIN_SECONDS: Final = 5
# resources.requests when the spec sets none
DEFAULT_REQUESTS: Final[dict[str, int | str]] = {"cpu": "100m", "memory": "128Mi"}
# the shortest metrics.interval (PodMonitor scrape interval)
MIN_SCRAPE_INTERVAL: Final = "1s"


def _default_requests() -> dict[str, int | str]:
    return dict(DEFAULT_REQUESTS)


class KeyRef(Model):
    """One key of a ConfigMap or Secret in the AsgiService's namespace."""

    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="The ConfigMap or Secret, in the AsgiService's namespace.",
    )
    key: str = Field(
        min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$", description="The key whose value is used."
    )
    optional: bool | None = Field(
        None,
        description="true: the variable is left out when the ConfigMap, Secret or key is missing. Unset or false: "
        "the container does not start until it exists.",
    )


class FieldRef(Model):
    """A field of the pod (the downward API), as in a Pod."""

    field_path: str = Field(
        min_length=1,
        max_length=256,
        description="The pod's field, e.g. metadata.name, metadata.namespace, status.podIP or spec.nodeName.",
    )
    api_version: str | None = Field(None, max_length=64, description="The version fieldPath is in. Unset: v1.")


class ResourceFieldRef(Model):
    """A resource request or limit of a container, as in a Pod."""

    resource: str = Field(
        min_length=1, max_length=64, description="limits.cpu, limits.memory, requests.cpu, requests.memory, ..."
    )
    container_name: str | None = Field(
        None, max_length=63, description="The container whose resource is read. Unset: the variable's own container."
    )
    divisor: Quantity | None = Field(
        None, description="The unit of the value, e.g. 1m (millicores) or 1Mi (mebibytes). Unset: 1."
    )


class EnvVarSource(Model):
    """As in a Pod: exactly one source."""

    secret_key_ref: KeyRef | None = Field(None, description="A key of a Secret in the AsgiService's namespace.")
    config_map_key_ref: KeyRef | None = Field(None, description="A key of a ConfigMap in the AsgiService's namespace.")
    field_ref: FieldRef | None = Field(None, description="A field of the pod, e.g. metadata.name.")
    resource_field_ref: ResourceFieldRef | None = Field(
        None, description="A resource request or limit of the container, e.g. limits.memory."
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "[has(self.secretKeyRef), has(self.configMapKeyRef), has(self.fieldRef), has(self.resourceFieldRef)]"
            ".filter(x, x).size() == 1",
            "set exactly one of secretKeyRef, configMapKeyRef, fieldRef and resourceFieldRef",
            lambda v: (
                sum(x is not None for x in (v.secret_key_ref, v.config_map_key_ref, v.field_ref, v.resource_field_ref))
                == 1
            ),
        ),
    )


class EnvVar(Model):
    """An environment variable, as in a Pod."""

    name: str = Field(min_length=1, max_length=256, pattern=ENV_NAME_PATTERN, description="The variable's name.")
    value: str | None = Field(
        None,
        description="The value; $(VAR) refers to a variable defined earlier. Unset, without valueFrom: empty.",
    )
    value_from: EnvVarSource | None = Field(
        None, description="Take the value from a Secret, a ConfigMap or the pod instead: exactly one source."
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!(has(self.value) && has(self.valueFrom))",
            "set either value or valueFrom, not both",
            lambda e: not (e.value is not None and e.value_from is not None),
        ),
    )


class LocalObjectReference(Model):
    """A ConfigMap or Secret in the AsgiService's namespace, by name."""

    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="The ConfigMap or Secret, in the AsgiService's namespace.",
    )
    optional: bool | None = Field(
        None,
        description="envFrom: true starts the container even when it is missing; unset or false: the container "
        "does not start until it exists. Ignored in imagePullSecrets.",
    )


class EnvFromSource(Model):
    """As in a Pod: all keys of a ConfigMap or Secret as environment variables."""

    prefix: str | None = Field(
        None,
        max_length=64,
        pattern=r"^[^=]*$",
        description="Put in front of every variable's name. Must not contain '='.",
    )
    config_map_ref: LocalObjectReference | None = Field(
        None, description="A ConfigMap whose every key becomes a variable."
    )
    secret_ref: LocalObjectReference | None = Field(None, description="A Secret whose every key becomes a variable.")

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "has(self.configMapRef) != has(self.secretRef)",
            "set exactly one of configMapRef and secretRef",
            lambda e: (e.config_map_ref is None) != (e.secret_ref is None),
        ),
    )


class ResourceRequirements(Model):
    """CPU and memory for each pod's container, as in a Pod."""

    requests: dict[str, Quantity] = Field(
        default_factory=_default_requests,
        max_length=16,
        description=f"Defaults to {', '.join(f'{k} {v}' for k, v in DEFAULT_REQUESTS.items())}. CPU autoscaling "
        "needs a CPU request.",
    )
    limits: dict[str, Quantity] = Field(
        default_factory=dict,
        max_length=16,
        description="The most the container may use, e.g. memory: 512Mi. Unset: no limits.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            f"(!has(self.requests) || self.requests.all(k, k.matches(r'{RESOURCE_NAME_PATTERN}'))) && "
            f"(!has(self.limits) || self.limits.all(k, k.matches(r'{RESOURCE_NAME_PATTERN}')))",
            "resource names are cpu, memory, ephemeral-storage, hugepages-<size> or a domain-prefixed name such as "
            "nvidia.com/gpu",
            lambda r: all(re.fullmatch(RESOURCE_NAME_PATTERN, k) for k in [*r.requests, *r.limits]),
        ),
        Rule(
            "!has(self.limits) || !has(self.requests) || self.limits.all(k, !(k in self.requests) || "
            "quantity(string(self.requests[k])).compareTo(quantity(string(self.limits[k]))) <= 0)",
            "a request must not be greater than its limit",
            lambda r: all(
                (quantity(r.requests[k]) or 0) <= (quantity(v) or 0) for k, v in r.limits.items() if k in r.requests
            ),
        ),
    )


class ProbeSpec(Model):
    """An HTTP GET on the app's port."""

    path: str | None = Field(None, max_length=256, pattern=r"^/", description="HTTP path to GET. Unset: probes.path.")
    period_seconds: int = Field(10, ge=1, le=300, description="Seconds between probes (liveness: 10 by default).")
    timeout_seconds: int = Field(2, ge=1, le=60, description="Seconds a probe may take before it counts as failed.")
    failure_threshold: int = Field(
        3,
        ge=1,
        le=100,
        description="Failed probes in a row that count: readiness takes the pod out of the Service, liveness "
        "restarts the container.",
    )


class ReadinessProbeSpec(ProbeSpec):
    period_seconds: int = Field(5, ge=1, le=300, description="Seconds between probes (5 by default).")


class StartupProbeSpec(ProbeSpec):
    """Covers the app's lifespan startup: the socket is bound only after it finished."""

    period_seconds: int = Field(2, ge=1, le=300, description="Seconds between probes (2 by default).")
    failure_threshold: int = Field(
        30, ge=1, le=1000, description="periodSeconds x failureThreshold is the time startup may take."
    )


class ProbesSpec(Model):
    """HTTP probes on the app's port. Readiness gates traffic; liveness restarts a wedged process;
    the startup probe holds both off while lifespan startup runs."""

    path: str = Field("/healthz", max_length=256, pattern=r"^/", description="Default path for every probe.")
    readiness: ReadinessProbeSpec = nested(ReadinessProbeSpec, "Readiness probe.")
    liveness: ProbeSpec = nested(ProbeSpec, "Liveness probe.")
    startup: StartupProbeSpec = nested(StartupProbeSpec, "Startup probe.")


class ShutdownSpec(Model):
    """The shutdown chain: preStop sleep (proxies stop sending), then the server's graceful shutdown, all
    inside terminationGracePeriodSeconds, whose countdown starts before preStop."""

    pre_stop_delay: Duration = Field(
        "10s",
        description="How long the pod keeps serving after it is removed from endpoints, while proxies learn.",
    )
    termination_grace_period: Duration | None = Field(
        None,
        description=f"Unset: preStopDelay + server.gracefulShutdownTimeout + {SHUTDOWN_MARGIN_SECONDS}s. If set, "
        "that sum must fit.",
    )


class MetricsSpec(Model):
    """Where the app exposes Prometheus metrics."""

    path: str = Field("/metrics", max_length=256, pattern=r"^/", description="HTTP path Prometheus scrapes.")
    port: int | None = Field(None, ge=1024, le=65535, description="Unset: the app's port.")
    interval: Duration = Field(
        "10s",
        description=f"Scrape interval of the PodMonitor (at least {MIN_SCRAPE_INTERVAL}). The analysis window "
        f"(rollout.slo.window) must hold at least {MIN_WINDOW_SCRAPES} scrapes, and the time between analyses "
        "(rollout.interval) at least one.",
    )
    scrape: Literal["auto", "annotations", "podMonitor", "none"] = Field(
        "auto",
        description="auto: a PodMonitor when the prometheus-operator CRD exists, else prometheus.io/* pod annotations.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            f"duration(self.interval) >= duration('{MIN_SCRAPE_INTERVAL}')",
            f"interval must be at least {MIN_SCRAPE_INTERVAL}",
            lambda m: seconds(m.interval) >= seconds(MIN_SCRAPE_INTERVAL),
            ".interval",
        ),
    )


class AutoscalingSpec(Model):
    """A HorizontalPodAutoscaler (autoscaling/v2) on CPU. The operator never sets replicas it owns."""

    min_replicas: int = Field(2, ge=1, le=1000, description="Fewest pods of the stable revision.")
    max_replicas: int = Field(ge=1, le=1000, description="Most pods of the stable revision.")
    target_cpu_utilization_percentage: int = Field(
        70, ge=1, le=1000, alias="targetCPUUtilizationPercentage", description="Of the CPU request."
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "self.minReplicas <= self.maxReplicas",
            "minReplicas must not be greater than maxReplicas",
            lambda a: a.min_replicas <= a.max_replicas,
            ".minReplicas",
        ),
    )
