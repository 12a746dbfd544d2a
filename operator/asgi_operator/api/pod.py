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
    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")
    optional: bool | None = None


class FieldRef(Model):
    field_path: str = Field(min_length=1, max_length=256)
    api_version: str | None = Field(None, max_length=64)


class ResourceFieldRef(Model):
    resource: str = Field(min_length=1, max_length=64)
    container_name: str | None = Field(None, max_length=63)
    divisor: Quantity | None = None


class EnvVarSource(Model):
    """As in a Pod: exactly one source."""

    secret_key_ref: KeyRef | None = None
    config_map_key_ref: KeyRef | None = None
    field_ref: FieldRef | None = None
    resource_field_ref: ResourceFieldRef | None = None

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

    name: str = Field(min_length=1, max_length=256, pattern=ENV_NAME_PATTERN)
    value: str | None = None
    value_from: EnvVarSource | None = None

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!(has(self.value) && has(self.valueFrom))",
            "set either value or valueFrom, not both",
            lambda e: not (e.value is not None and e.value_from is not None),
        ),
    )


class LocalObjectReference(Model):
    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)
    optional: bool | None = None


class EnvFromSource(Model):
    """As in a Pod: all keys of a ConfigMap or Secret as environment variables."""

    prefix: str | None = Field(None, max_length=64, pattern=r"^[^=]*$", description="Must not contain '='.")
    config_map_ref: LocalObjectReference | None = None
    secret_ref: LocalObjectReference | None = None

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
    limits: dict[str, Quantity] = Field(default_factory=dict, max_length=16)

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
    path: str | None = Field(None, max_length=256, pattern=r"^/", description="HTTP path to GET. Unset: probes.path.")
    period_seconds: int = Field(10, ge=1, le=300)
    timeout_seconds: int = Field(2, ge=1, le=60)
    failure_threshold: int = Field(3, ge=1, le=100)


class ReadinessProbeSpec(ProbeSpec):
    period_seconds: int = Field(5, ge=1, le=300)


class StartupProbeSpec(ProbeSpec):
    """Covers the app's lifespan startup: the socket is bound only after it finished."""

    period_seconds: int = Field(2, ge=1, le=300)
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

    path: str = Field("/metrics", max_length=256, pattern=r"^/")
    port: int | None = Field(None, ge=1024, le=65535, description="Unset: the app's port.")
    interval: Duration = Field(
        "10s",
        description=f"Scrape interval of the PodMonitor (at least {MIN_SCRAPE_INTERVAL}). The analysis window "
        f"(rollout.slo.window) must hold at least {MIN_WINDOW_SCRAPES} scrapes.",
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

    min_replicas: int = Field(2, ge=1, le=1000)
    max_replicas: int = Field(ge=1, le=1000)
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
