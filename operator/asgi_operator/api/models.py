"""The AsgiService contract: spec and status as pydantic v2 models.

These models are the single source of truth. `crds/asgiservice.yaml` is generated from them
(`make crds`), the reference docs are generated from them, and the operator parses every object through
them. Field names are what Kubernetes users expect (camelCase in YAML, durations as `30s`, quantities as
`250m`); Python code uses the snake_case attribute names.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from .durations import Duration, seconds
from .quantities import quantity
from .rules import Rule, cel_string
from .servers import UNSUPPORTED, ServerKind

# Seconds added to preStop + graceful shutdown when deriving terminationGracePeriodSeconds: time for the
# kubelet to deliver SIGTERM and for the server to exit after its graceful timeout.
SHUTDOWN_MARGIN_SECONDS: Final = 5
DEFAULT_KEEP_ALIVE: Final = "65s"
DEFAULT_LB_IDLE: Final = "60s"
GRANIAN_KEEP_ALIVE: Final = "60s"
GRANIAN_LB_IDLE: Final = "55s"

_DOTTED_NAME: Final = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
APP_PATTERN: Final = f"^{_DOTTED_NAME}:{_DOTTED_NAME}$"
DNS_LABEL_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
HOSTNAME_PATTERN: Final = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
QUANTITY_PATTERN: Final = r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
_SUBDOMAIN: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
DNS_SUBDOMAIN_PATTERN: Final = f"^{_SUBDOMAIN}$"
# a label key or annotation key: an optional DNS-subdomain prefix and a name of at most 63 characters
QUALIFIED_NAME_PATTERN: Final = f"^({_SUBDOMAIN}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{{0,61}}[A-Za-z0-9])?$"
LABEL_VALUE_PATTERN: Final = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
RESOURCE_NAME_PATTERN: Final = (
    r"^(cpu|memory|ephemeral-storage|hugepages-[A-Za-z0-9]+|"
    r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$"
)
NAME_PATTERN: Final = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
MAX_NAME_LENGTH: Final = 56
NAME_MESSAGE: Final = (
    "metadata.name must be a DNS label (lowercase letters, digits, '-') of at most "
    f"{MAX_NAME_LENGTH} characters: "
    "the operator names Services <name>-stable and <name>-canary"
)
ENV_NAME_PATTERN: Final = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
PROM_LABEL_PATTERN: Final = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
# The analysis window, when not set, holds at least this many scrapes (rate() needs 2; 4 is the usual rule).
WINDOW_SCRAPES: Final = 4


def _rules_to_schema(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    rules: tuple[Rule, ...] = getattr(cls, "RULES", ())
    if rules:
        schema.setdefault("x-kubernetes-validations", []).extend(r.as_validation() for r in rules)


class Model(BaseModel):
    """Base of every spec model: camelCase in YAML, unknown fields rejected, `RULES` checked."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        json_schema_extra=_rules_to_schema,
        use_enum_values=False,
        validate_default=True,
    )
    RULES: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> Any:
        for rule in self.RULES:
            if not rule.check(self):
                where = f"{rule.field_path.lstrip('.')}: " if rule.field_path else ""
                raise ValueError(f"{where}{rule.message}")
        return self


def nested(model: type[BaseModel], description: str) -> Any:
    """An optional sub-object whose defaults the CRD spells out in full (the API server validates a
    default as written, so `{}` would fail the sub-object's own rules)."""
    return Field(default_factory=model, description=description)


def _cel_ceil(duration_field: str) -> str:
    """CEL for a duration in whole seconds, rounded up (how the servers' flags and Kubernetes take it)."""
    d = f"duration({duration_field})"
    # cel-go's getMilliseconds() on a duration is the TOTAL in milliseconds (Go's Duration.Milliseconds()),
    # not the part below a second: the fraction is the remainder
    return f"({d}.getSeconds() + ({d}.getMilliseconds() % 1000 > 0 ? 1 : 0))"


def ceil_seconds(duration: str) -> int:
    return math.ceil(seconds(duration))


def _cel_regex(pattern: str, target: str = "self") -> str:
    return f"{target}.matches(r'{pattern}')"


def _matches(pattern: str) -> Any:
    compiled = re.compile(pattern)
    return lambda value: compiled.fullmatch(value) is not None


def _check_quantity(value: int | str) -> int | str:
    bad = value < 0 if isinstance(value, int) else not re.fullmatch(QUANTITY_PATTERN, value)
    if bad:
        raise ValueError(f"{value!r} must be a non-negative quantity such as 250m, 0.5, 512Mi or 2Gi")
    return value


Quantity = Annotated[
    int | str,
    AfterValidator(_check_quantity),
    Field(
        json_schema_extra={
            "x-kubernetes-int-or-string": True,
            "maxLength": 64,
            "x-kubernetes-validations": [
                {
                    "rule": "type(self) == int ? self >= 0 : (isQuantity(self) && !string(self).startsWith('-'))",
                    "message": "must be a non-negative quantity such as 250m, 0.5, 512Mi or 2Gi",
                }
            ],
        }
    ),
]


def _unsupported(option: str, kind: ServerKind, why: str) -> Rule:
    attribute = _snake(option)

    def check(server: ServerSpec) -> bool:
        return server.kind != kind or getattr(server, attribute) is None

    return Rule(
        f"!has(self.{option}) || self.kind != {cel_string(kind.value)}",
        f"{option} is not supported by {kind.value}: {why}",
        check,
        f".{option}",
    )


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


# --------------------------------------------------------------------------------------------- server
class ServerSpec(Model):
    """How the ASGI server runs the app. Defaults suit a container behind a load balancer."""

    kind: ServerKind = Field(ServerKind.UVICORN, description="The ASGI server the image runs the app with.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Worker processes per pod. Scale with replicas (and the HPA) first; the operator never "
        "derives this from the node's CPU count. Above 1, prometheus_client runs in multiprocess mode.",
    )
    keep_alive_timeout: Duration | None = Field(
        None,
        description="How long an idle keep-alive connection stays open. Must be longer than "
        "loadBalancerIdleTimeout, or the load balancer reuses connections the server is closing (502s). "
        "Unset: 65s; granian: 60s, the most it can do (its HTTP/1 header-read timeout).",
    )
    load_balancer_idle_timeout: Duration | None = Field(
        None,
        description="The idle timeout of the proxy or load balancer in front of the pods. Unset: 60s (AWS ALB's "
        "default); granian: 55s, so set your load balancer's idle timeout below 60s.",
    )
    graceful_shutdown_timeout: Duration = Field(
        "30s",
        description="After SIGTERM, how long in-flight requests may take before the server stops.",
    )
    proxy_headers: bool | None = Field(
        None,
        description="Trust X-Forwarded-* headers from trustedProxies (uvicorn, gunicorn). Unset: on for "
        "uvicorn and gunicorn.",
    )
    trusted_proxies: list[Annotated[str, Field(max_length=64)]] | None = Field(
        None,
        max_length=32,
        description="IPs or CIDRs whose X-Forwarded-* headers are trusted (uvicorn's --forwarded-allow-ips). "
        "Unset: only 127.0.0.1. Set it to your gateway's pod CIDR; '*' trusts every client.",
    )
    concurrency_limit: int | None = Field(
        None,
        ge=1,
        le=100000,
        description="Most concurrent connections (uvicorn) or requests per worker (granian's backpressure) "
        "before the server sheds load.",
    )
    backlog: int | None = Field(None, ge=1, le=65535, description="The listen() queue length.")
    max_requests: int | None = Field(
        None, ge=1, description="Recycle a worker after this many requests (a guard against leaks)."
    )
    root_path: str | None = Field(
        None,
        max_length=256,
        description="The ASGI root_path, for an app served under a path prefix (e.g. /api). uvicorn adds it to "
        "every request path, so the proxy must strip it: the generated HTTPRoute does (set expose.path to the "
        "same prefix); with an Ingress, configure the rewrite yourself. hypercorn and granian take requests with "
        "the prefix.",
    )
    lifespan: Literal["on", "auto", "off"] | None = Field(
        None,
        description="uvicorn only: the lifespan mode. Unset: on, so a failing startup stops the pod instead "
        "of being logged as 'lifespan unsupported'.",
    )
    extra_args: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list,
        max_length=64,
        description="Extra command-line arguments appended to the server's command.",
    )

    @property
    def keep_alive(self) -> str:
        """keepAliveTimeout, or this server's default."""
        if self.keep_alive_timeout is not None:
            return self.keep_alive_timeout
        return GRANIAN_KEEP_ALIVE if self.kind == ServerKind.GRANIAN else DEFAULT_KEEP_ALIVE

    @property
    def load_balancer_idle(self) -> str:
        if self.load_balancer_idle_timeout is not None:
            return self.load_balancer_idle_timeout
        return GRANIAN_LB_IDLE if self.kind == ServerKind.GRANIAN else DEFAULT_LB_IDLE

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "duration(has(self.keepAliveTimeout) ? self.keepAliveTimeout : "
            f"(self.kind == 'granian' ? '{GRANIAN_KEEP_ALIVE}' : '{DEFAULT_KEEP_ALIVE}')) > "
            "duration(has(self.loadBalancerIdleTimeout) ? self.loadBalancerIdleTimeout : "
            f"(self.kind == 'granian' ? '{GRANIAN_LB_IDLE}' : '{DEFAULT_LB_IDLE}'))",
            "keepAliveTimeout must be longer than loadBalancerIdleTimeout: otherwise the load balancer sends "
            "requests on connections the server is closing, and clients see 502s",
            lambda s: seconds(s.keep_alive) > seconds(s.load_balancer_idle),
            ".keepAliveTimeout",
        ),
        Rule(
            f"self.kind != 'granian' || !has(self.keepAliveTimeout) || "
            f"duration(self.keepAliveTimeout) <= duration('{GRANIAN_KEEP_ALIVE}')",
            f"granian keeps an idle connection at most {GRANIAN_KEEP_ALIVE} (its HTTP/1 header-read timeout): set "
            "keepAliveTimeout to 60s or less, and your load balancer's idle timeout (loadBalancerIdleTimeout) "
            "below it",
            lambda s: (
                s.kind != ServerKind.GRANIAN
                or s.keep_alive_timeout is None
                or seconds(s.keep_alive_timeout) <= seconds(GRANIAN_KEEP_ALIVE)
            ),
            ".keepAliveTimeout",
        ),
        Rule(
            "self.kind != 'granian' || (duration(self.gracefulShutdownTimeout) >= duration('1s') && "
            "duration(self.gracefulShutdownTimeout) <= duration('1800s'))",
            "granian takes a gracefulShutdownTimeout from 1s to 30m (its --workers-kill-timeout)",
            lambda s: s.kind != ServerKind.GRANIAN or 1 <= seconds(s.graceful_shutdown_timeout) <= 1800,
            ".gracefulShutdownTimeout",
        ),
        Rule(
            "self.kind != 'granian' || !has(self.backlog) || self.backlog >= 128",
            "granian takes a backlog of at least 128",
            lambda s: s.kind != ServerKind.GRANIAN or s.backlog is None or s.backlog >= 128,
            ".backlog",
        ),
        Rule(
            "!has(self.trustedProxies) || self.trustedProxies.all(p, p == '*' || isIP(p) || isCIDR(p))",
            "trustedProxies entries must be IP addresses, CIDRs (10.0.0.0/8) or '*'",
            lambda s: all(_is_ip_or_cidr(p) for p in s.trusted_proxies or ()),
            ".trustedProxies",
        ),
        Rule(
            "!has(self.rootPath) || self.rootPath.matches('^/[^ ]*[^/ ]$')",
            "rootPath must start with '/' and not end with '/', e.g. /api",
            lambda s: s.root_path is None or re.fullmatch(r"/[^ ]*[^/ ]", s.root_path) is not None,
            ".rootPath",
        ),
        # hypercorn (0.18, hypercorn/run.py run()): on SIGTERM the main process waits for the FIRST worker to
        # exit, then terminate()s the others; an idle worker exits at once, and a busy one dies with its requests.
        Rule(
            f"self.kind != {cel_string(ServerKind.HYPERCORN.value)} || self.workers == 1",
            "hypercorn with workers > 1 drops in-flight requests on SIGTERM (its main process kills the busy "
            "workers as soon as an idle one has exited): use workers: 1 and scale with replicas, or use uvicorn, "
            "gunicorn or granian for several workers per pod",
            lambda s: s.kind != ServerKind.HYPERCORN or s.workers == 1,
            ".workers",
        ),
        *(_unsupported(option, kind, why) for option, kinds in UNSUPPORTED.items() for kind, why in kinds.items()),
    )


def _is_ip_or_cidr(value: str) -> bool:
    import ipaddress

    if value == "*":
        return True
    try:
        address = ipaddress.ip_interface(value).ip if "/" in value else ipaddress.ip_address(value)
    except ValueError:
        return False
    # Kubernetes' isIP/isCIDR (like Go's netip) refuse IPv4-mapped IPv6 addresses
    return not (isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None)


# --------------------------------------------------------------------------------------------- pods
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


def _default_requests() -> dict[str, int | str]:
    return {"cpu": "100m", "memory": "128Mi"}


class ResourceRequirements(Model):
    """CPU and memory for each pod's container, as in a Pod."""

    requests: dict[str, Quantity] = Field(
        default_factory=_default_requests,
        max_length=16,
        description="Defaults to cpu 100m, memory 128Mi. CPU autoscaling needs a CPU request.",
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
        description="Unset: preStopDelay + server.gracefulShutdownTimeout + 5s. If set, that sum must fit.",
    )


class MetricsSpec(Model):
    """Where the app exposes Prometheus metrics."""

    path: str = Field("/metrics", max_length=256, pattern=r"^/")
    port: int | None = Field(None, ge=1024, le=65535, description="Unset: the app's port.")
    interval: Duration = Field(
        "10s",
        description="Scrape interval of the PodMonitor (at least 1s). The analysis window (rollout.slo.window) "
        "must hold at least 2 scrapes.",
    )
    scrape: Literal["auto", "annotations", "podMonitor", "none"] = Field(
        "auto",
        description="auto: a PodMonitor when the prometheus-operator CRD exists, else prometheus.io/* pod annotations.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "duration(self.interval) >= duration('1s')",
            "interval must be at least 1s",
            lambda m: seconds(m.interval) >= 1,
            ".interval",
        ),
    )


# --------------------------------------------------------------------------------------------- scaling
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


# --------------------------------------------------------------------------------------------- exposure
class GatewayRef(Model):
    """The Gateway (Gateway API) the generated HTTPRoute attaches to."""

    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = Field(None, max_length=63, pattern=DNS_LABEL_PATTERN)
    section_name: str | None = Field(
        None, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="A listener of the Gateway."
    )


class IngressSpec(Model):
    class_name: str = Field(
        min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="The IngressClass, e.g. nginx."
    )
    annotations: dict[str, Annotated[str, Field(max_length=4096)]] = Field(default_factory=dict, max_length=64)

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            f"!has(self.annotations) || self.annotations.all(k, k.matches(r'{QUALIFIED_NAME_PATTERN}'))",
            "annotation keys must be qualified names such as nginx.ingress.kubernetes.io/proxy-body-size",
            lambda i: all(re.fullmatch(QUALIFIED_NAME_PATTERN, k) for k in i.annotations),
            ".annotations",
        ),
    )


class RouteRef(Model):
    """An HTTPRoute you manage yourself; the operator only sets the weights of its own backendRefs."""

    name: str = Field(min_length=1, max_length=253)


class TLSSpec(Model):
    secret_name: str = Field(min_length=1, max_length=253, pattern=DNS_LABEL_PATTERN.replace("$", "") + "$")


class ExposeSpec(Model):
    """How the app is reached from outside the cluster: a generated HTTPRoute on a Gateway, a generated
    Ingress, or an existing HTTPRoute."""

    host: str | None = Field(None, max_length=253, description="The hostname, e.g. api.example.com.")
    path: str = Field(
        "/", max_length=256, pattern=r"^/[-A-Za-z0-9._~!$&'()*+,;=:@%/]*$", description="Path prefix routed to the app."
    )
    gateway: GatewayRef | None = None
    ingress: IngressSpec | None = None
    http_route: RouteRef | None = Field(None, alias="httpRoute")
    tls: TLSSpec | None = Field(None, description="Ingress only: the TLS secret for host.")

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "[has(self.gateway), has(self.ingress), has(self.httpRoute)].filter(x, x).size() == 1",
            "set exactly one of gateway, ingress and httpRoute",
            lambda e: sum(x is not None for x in (e.gateway, e.ingress, e.http_route)) == 1,
        ),
        Rule(
            f"!has(self.host) || {_cel_regex(HOSTNAME_PATTERN, 'self.host')}",
            "host must be a DNS name such as api.example.com (lowercase, optionally *.example.com)",
            lambda e: e.host is None or re.fullmatch(HOSTNAME_PATTERN, e.host) is not None,
            ".host",
        ),
        Rule(
            "!has(self.host) || !isIP(self.host)",
            "host must be a DNS name, not an IP address",
            lambda e: e.host is None or not _is_ip_or_cidr(e.host) or e.host == "*",
            ".host",
        ),
        Rule(
            "!self.path.contains('//') && !self.path.contains('/./') && !self.path.contains('/../')",
            "path must not contain '//', '/./' or '/../'",
            lambda e: not any(x in e.path for x in ("//", "/./", "/../")),
            ".path",
        ),
        Rule(
            "!has(self.tls) || has(self.ingress)",
            "tls applies to an Ingress; with Gateway API the certificate belongs to the Gateway's listener "
            "(set gateway.sectionName to its HTTPS listener)",
            lambda e: e.tls is None or e.ingress is not None,
            ".tls",
        ),
        Rule(
            "!has(self.tls) || has(self.host)",
            "tls needs a host",
            lambda e: e.tls is None or e.host is not None,
            ".tls",
        ),
    )


# --------------------------------------------------------------------------------------------- rollout
class Router(StrEnum):
    GATEWAY_API = "gatewayAPI"
    INGRESS_NGINX = "ingressNginx"
    REPLICAS = "replicas"


class MetricsProfile(StrEnum):
    FASTAPI_INSTRUMENTATOR = "fastapiInstrumentator"
    STARLETTE_EXPORTER = "starletteExporter"
    CUSTOM = "custom"


class RelativeSLOSpec(Model):
    """Thresholds relative to the stable revision. Stable is measured in the same window while it serves
    traffic; when it serves none (the 100 % step), the canary is compared with stable's baseline: its last
    conclusive measurement in this rollout, else the window that ended when the rollout started. A relative
    check that has neither never passes: the step holds (NoData) until the progress deadline."""

    max_error_rate_increase: float | None = Field(
        None,
        ge=0,
        le=1,
        description="The canary's error rate may exceed stable's by at most this (0.01 = 1 pt).",
    )
    max_latency_p99_increase_percent: int | None = Field(
        None,
        ge=0,
        le=10000,
        alias="maxLatencyP99IncreasePercent",
        description="p99 may be this % above stable.",
    )


class RouteSLOSpec(Model):
    """The worst single route (fastapiInstrumentator: the `handler` label, starletteExporter: `path`, custom:
    queries.routeLabel) must hold these. Routes with fewer than minRequests requests in the window are not
    judged; when no route has that many, the check cannot be evaluated and the step holds (NoData)."""

    max_error_rate: float = Field(ge=0, le=1, description="Highest share of 5xx responses of any one route.")
    max_latency_p99: Duration | None = Field(
        None,
        alias="maxLatencyP99",
        description="Highest p99 latency of any one route. fastapiInstrumentator's per-handler histogram has "
        "only the buckets 0.1, 0.5 and 1s unless the app configures more: use a bucket boundary.",
    )
    min_requests: int = Field(10, ge=1, le=1000000, description="Requests a route needs in the window to be judged.")


class SLOSpec(Model):
    """What the canary must hold at every step."""

    max_error_rate: float = Field(0.005, ge=0, le=1, description="Highest share of 5xx responses (0.005 = 0.5 %).")
    max_latency_p99: Duration = Field("200ms", alias="maxLatencyP99", description="Highest p99 latency.")
    min_requests: int = Field(
        20,
        ge=0,
        description="Fewer requests than this in the window is 'no data': the step holds, it neither passes nor fails.",
    )
    window: Duration | None = Field(
        None,
        description="The range the rates are computed over. At least 2 scrapes (2 x metrics.interval: rate() "
        f"needs two samples); {WINDOW_SCRAPES} or more are safer. Unset: rollout.interval, but at least "
        f"{WINDOW_SCRAPES} x metrics.interval.",
    )
    relative: RelativeSLOSpec | None = Field(None, description="Thresholds relative to the stable revision.")
    per_route: RouteSLOSpec | None = Field(
        None,
        description="Checks on the worst route, so errors or slowness concentrated on one rarely used route "
        "are not averaged away by the others.",
    )


class CustomQueries(Model):
    """PromQL templates for the `custom` profile. Variables: {{ namespace }}, {{ name }}, {{ track }},
    {{ revision }}, {{ window }}, and {{ selector }} (the label matchers for the track)."""

    error_rate: str = Field(min_length=1, max_length=4096, description="Returns the share of failed requests.")
    latency_p99: str = Field(min_length=1, max_length=4096, alias="latencyP99", description="Returns p99 seconds.")
    requests: str = Field(min_length=1, max_length=4096, description="Returns the request count in the window.")
    route_label: str | None = Field(
        None,
        max_length=128,
        pattern=PROM_LABEL_PATTERN,
        description="The label naming the route in the route queries (slo.perRoute).",
    )
    route_requests: str | None = Field(
        None, max_length=4096, description="slo.perRoute: the request count in the window, one series per route."
    )
    route_error_rate: str | None = Field(
        None, max_length=4096, description="slo.perRoute: the share of failed requests, one series per route."
    )
    route_latency_p99: str | None = Field(
        None, max_length=4096, alias="routeLatencyP99", description="slo.perRoute: p99 seconds, one series per route."
    )


class PrometheusSpec(Model):
    address: str | None = Field(
        None,
        max_length=512,
        pattern=r"^https?://",
        description="Prometheus' base URL. Unset: the operator's --prometheus-url.",
    )
    profile: MetricsProfile = Field(
        MetricsProfile.FASTAPI_INSTRUMENTATOR, description="Which metric names and labels the app exposes."
    )
    queries: CustomQueries | None = None
    timeout: Duration = Field("5s", description="Timeout of each query.")

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "(self.profile == 'custom') == has(self.queries)",
            "queries are required with profile custom, and only used with it",
            lambda p: (p.profile == MetricsProfile.CUSTOM) == (p.queries is not None),
            ".queries",
        ),
    )


def _route_queries_complete(r: RolloutSpec) -> bool:
    per_route, q = r.slo.per_route, r.prometheus.queries
    if per_route is None or r.prometheus.profile != MetricsProfile.CUSTOM:
        return True
    if q is None or not (q.route_label and q.route_requests and q.route_error_rate):
        return False
    return per_route.max_latency_p99 is None or bool(q.route_latency_p99)


class RolloutSpec(Model):
    """How a new revision (any change to the pod template) is rolled out."""

    strategy: Literal["Canary", "RollingUpdate"] = Field(
        "Canary",
        description="Canary: traffic moves in steps while Prometheus checks the SLOs. RollingUpdate: a plain "
        "rolling update of the Deployment (maxUnavailable 0), no analysis.",
    )
    steps: list[int] = Field(
        default_factory=lambda: [10, 50, 100],
        min_length=1,
        max_length=20,
        description="Canary traffic percentages, strictly increasing, ending at 100.",
        json_schema_extra={"items": {"type": "integer", "minimum": 1, "maximum": 100}},
    )
    interval: Duration = Field("1m", description="Time between analyses of a step.")
    failure_threshold: int = Field(
        2, ge=1, le=100, description="Consecutive failed analyses that roll the canary back."
    )
    progress_deadline: Duration = Field(
        "10m",
        description="Longest a step may wait for ready canary pods or for conclusive metrics before it fails.",
    )
    router: Router | None = Field(
        None,
        description="How traffic is split. Unset: gatewayAPI with expose.gateway or expose.httpRoute, "
        "ingressNginx with an nginx ingress, else replicas (an approximate split by pod count).",
    )
    slo: SLOSpec = nested(SLOSpec, "The service level objectives the canary must hold.")
    prometheus: PrometheusSpec = nested(PrometheusSpec, "Where and how to query the canary's metrics.")

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "self.steps.all(s, s >= 1 && s <= 100)",
            "every step must be a percentage from 1 to 100",
            lambda r: all(1 <= s <= 100 for s in r.steps),
            ".steps",
        ),
        Rule(
            "self.steps.size() == 0 || self.steps[self.steps.size() - 1] == 100",
            "the last step must be 100",
            lambda r: not r.steps or r.steps[-1] == 100,
            ".steps",
        ),
        Rule(
            "self.steps.isSorted() && self.steps.all(s, self.steps.exists_one(t, t == s))",
            "steps must be strictly increasing",
            lambda r: all(a < b for a, b in zip(r.steps, r.steps[1:], strict=False)),
            ".steps",
        ),
        Rule(
            "duration(self.interval) >= duration('1s')",
            "interval must be at least 1s",
            lambda r: seconds(r.interval) >= 1,
            ".interval",
        ),
        Rule(
            "duration(self.progressDeadline) > duration(self.interval)",
            "progressDeadline must be longer than interval",
            lambda r: seconds(r.progress_deadline) > seconds(r.interval),
            ".progressDeadline",
        ),
        Rule(
            "!has(self.slo.perRoute) || self.prometheus.profile != 'custom' || (has(self.prometheus.queries) && "
            "has(self.prometheus.queries.routeLabel) && has(self.prometheus.queries.routeRequests) && "
            "has(self.prometheus.queries.routeErrorRate) && (!has(self.slo.perRoute.maxLatencyP99) || "
            "has(self.prometheus.queries.routeLatencyP99)))",
            "slo.perRoute with the custom profile needs prometheus.queries.routeLabel, routeRequests and "
            "routeErrorRate (and routeLatencyP99 with perRoute.maxLatencyP99)",
            _route_queries_complete,
            ".slo.perRoute",
        ),
    )


# --------------------------------------------------------------------------------------------- spec
class AsgiServiceSpec(Model):
    """An ASGI web app (FastAPI, Starlette, ...) and how to run, scale, expose and roll it out."""

    image: str = Field(min_length=1, max_length=512, description="The container image holding the app.")
    app: str = Field(
        max_length=256,
        description="The ASGI application's import path, module:attribute (e.g. main:app).",
    )
    server: ServerSpec = nested(ServerSpec, "The ASGI server and its options.")
    port: int = Field(8000, ge=1024, le=65535, description="The port the server listens on (non-root: 1024 and above).")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    image_pull_secrets: list[LocalObjectReference] = Field(default_factory=list, max_length=16)
    service_account_name: str | None = Field(None, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)
    env: list[EnvVar] = Field(
        default_factory=list,
        max_length=256,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    env_from: list[EnvFromSource] = Field(default_factory=list, max_length=64)
    resources: ResourceRequirements = nested(ResourceRequirements, "CPU and memory per pod.")
    probes: ProbesSpec = nested(ProbesSpec, "Readiness, liveness and startup probes.")
    shutdown: ShutdownSpec = nested(ShutdownSpec, "The graceful shutdown chain.")
    metrics: MetricsSpec = nested(MetricsSpec, "The app's Prometheus metrics endpoint.")
    replicas: int | None = Field(None, ge=0, le=1000, description="Fixed number of pods. Unset and no autoscaling: 1.")
    autoscaling: AutoscalingSpec | None = None
    expose: ExposeSpec | None = None
    rollout: RolloutSpec = nested(RolloutSpec, "How new revisions are rolled out.")
    pod_labels: dict[str, Annotated[str, Field(max_length=63, pattern=LABEL_VALUE_PATTERN)]] = Field(
        default_factory=dict, max_length=32, description="Extra pod labels (the operator's own keys win)."
    )
    pod_annotations: dict[str, Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=dict, max_length=32, description="Extra pod annotations."
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            _cel_regex(APP_PATTERN, "self.app"),
            "app must be an ASGI import path 'module:attribute', e.g. main:app or myproject.api:create_app",
            lambda s: re.fullmatch(APP_PATTERN, s.app) is not None,
            ".app",
        ),
        Rule(
            f"(!has(self.podLabels) || self.podLabels.all(k, k.matches(r'{QUALIFIED_NAME_PATTERN}'))) && "
            f"(!has(self.podAnnotations) || self.podAnnotations.all(k, k.matches(r'{QUALIFIED_NAME_PATTERN}')))",
            "podLabels and podAnnotations keys must be label keys such as team or example.com/team",
            lambda s: all(re.fullmatch(QUALIFIED_NAME_PATTERN, k) for k in [*s.pod_labels, *s.pod_annotations]),
            ".podLabels",
        ),
        Rule(
            "!has(self.env) || self.env.all(e, self.env.exists_one(f, f.name == e.name))",
            "env names must be unique",
            lambda s: len({e.name for e in s.env}) == len(s.env),
            ".env",
        ),
        Rule(
            "!(has(self.replicas) && has(self.autoscaling))",
            "set replicas or autoscaling, not both: the HPA owns the replica count",
            lambda s: not (s.replicas is not None and s.autoscaling is not None),
            ".replicas",
        ),
        Rule(
            "!has(self.autoscaling) || 'cpu' in self.resources.requests",
            "autoscaling on CPU needs resources.requests.cpu",
            lambda s: s.autoscaling is None or "cpu" in s.resources.requests,
            ".resources.requests",
        ),
        Rule(
            "!has(self.shutdown.terminationGracePeriod) || "
            f"{_cel_ceil('self.shutdown.preStopDelay')} + {_cel_ceil('self.server.gracefulShutdownTimeout')} + "
            f"{SHUTDOWN_MARGIN_SECONDS} <= {_cel_ceil('self.shutdown.terminationGracePeriod')}",
            f"shutdown.terminationGracePeriod is too short: it must cover shutdown.preStopDelay + "
            f"server.gracefulShutdownTimeout + {SHUTDOWN_MARGIN_SECONDS}s, or Kubernetes kills in-flight "
            "requests",
            lambda s: (
                s.shutdown.termination_grace_period is None
                or ceil_seconds(s.shutdown.pre_stop_delay)
                + ceil_seconds(s.server.graceful_shutdown_timeout)
                + SHUTDOWN_MARGIN_SECONDS
                <= ceil_seconds(s.shutdown.termination_grace_period)
            ),
            ".shutdown.terminationGracePeriod",
        ),
        Rule(
            "!has(self.rollout.slo.window) || "
            "duration(self.rollout.slo.window) >= duration(self.metrics.interval) + duration(self.metrics.interval)",
            "rollout.slo.window must hold at least 2 scrapes (2 x metrics.interval): rate() needs two samples in "
            f"the window, so a shorter one can never see a rate ({WINDOW_SCRAPES} scrapes or more are safer)",
            lambda s: s.rollout.slo.window is None or seconds(s.rollout.slo.window) >= 2 * seconds(s.metrics.interval),
            ".rollout.slo.window",
        ),
    )


# --------------------------------------------------------------------------------------------- status
class StatusModel(BaseModel):
    """Status is written by the operator only; unknown fields are ignored so older operators can read it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Condition(StatusModel):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


class StableBaseline(StatusModel):
    """Stable's numbers that a relative check compared the canary with, and where they come from."""

    revision: str
    source: Literal["SameWindow", "EarlierAnalysis", "BeforeRollout"] = Field(
        description="SameWindow: measured with the canary; EarlierAnalysis: kept from an earlier analysis of "
        "this rollout while stable still served traffic; BeforeRollout: the window ending when the rollout started."
    )
    at: str = Field(description="The end of the window stable was measured in.")
    window: str
    requests: float
    error_rate: float
    latency_p99_seconds: float = Field(alias="latencyP99Seconds")


class RouteResult(StatusModel):
    """The per-route check: the worst route by error rate and by p99, among routes with enough requests."""

    judged: int = Field(0, description="Routes with at least minRequests requests in the window.")
    min_requests: int
    max_error_rate: float
    max_latency_p99_seconds: float | None = Field(None, alias="maxLatencyP99Seconds")
    worst_route: str | None = None
    worst_route_error_rate: float | None = None
    slowest_route: str | None = None
    slowest_route_latency_p99_seconds: float | None = Field(None, alias="slowestRouteLatencyP99Seconds")


class AnalysisResult(StatusModel):
    """One analysis of the canary, with the numbers behind the verdict."""

    verdict: Literal["Pass", "Fail", "NoData", "Error"]
    reason: str | None = Field(
        None,
        description="Why an analysis held: NoData (Prometheus answered, without enough data), QueryRejected "
        "(Prometheus refused the query) or PrometheusUnavailable (no answer).",
    )
    at: str
    step: int
    weight: int
    requests: float | None = None
    error_rate: float | None = None
    latency_p99_seconds: float | None = Field(None, alias="latencyP99Seconds")
    max_error_rate: float
    max_latency_p99_seconds: float = Field(alias="maxLatencyP99Seconds")
    min_requests: int
    stable_error_rate: float | None = None
    stable_latency_p99_seconds: float | None = Field(None, alias="stableLatencyP99Seconds")
    stable_baseline: StableBaseline | None = None
    routes: RouteResult | None = None
    message: str = ""


class PendingEvent(StatusModel):
    name: str
    reason: str
    message: str
    type: Literal["Normal", "Warning"] = "Normal"


class RolloutStatus(StatusModel):
    """The rollout's whole position, so an operator restart resumes exactly where it was."""

    id: int = Field(0, description="Increments with every rollout started; names its events.")
    phase: Literal["Idle", "Progressing", "Promoting", "RolledBack", "Failed"] = "Idle"
    stable_revision: str | None = None
    canary_revision: str | None = None
    step_index: int = 0
    canary_weight: int = 0
    consecutive_failures: int = 0
    paused: bool = False
    started_at: str | None = None
    step_started_at: str | None = None
    canary_ready_at: str | None = None
    next_analysis_at: str | None = None
    finished_at: str | None = None
    reason: str = ""
    message: str = ""
    last_analysis: AnalysisResult | None = None
    last_request: str | None = Field(None, description="The last asgi.dev/request handled.")
    failed_revision: str | None = None
    approximate_split: bool = False
    stable_baseline: StableBaseline | None = Field(
        None,
        description="Stable's last conclusive numbers in this rollout, for relative checks once stable serves "
        "no traffic.",
    )
    stable_spec: dict[str, Any] | None = Field(
        None, description="The spec of the stable revision, so its pods can be rendered while a canary runs."
    )
    event_seq: int = Field(0, description="Number of rollout events emitted; names them.")
    pending_events: list[PendingEvent] = Field(
        default_factory=list, description="Events decided and not yet confirmed posted."
    )


class AsgiServiceStatus(StatusModel):
    observed_generation: int | None = None
    phase: str = "Pending"
    conditions: list[Condition] = Field(default_factory=list)
    revision: str | None = Field(None, description="Hash of the pod template the spec renders.")
    stable_revision: str | None = None
    canary_weight: int = 0
    image: str | None = Field(None, description="The image the stable revision runs.")
    replicas: int = 0
    ready_replicas: int = 0
    updated_replicas: int = 0
    canary_replicas: int = 0
    canary_ready_replicas: int = 0
    selector: str | None = None
    rollout: RolloutStatus = Field(default_factory=RolloutStatus)


class AsgiService(BaseModel):
    """The whole object, as the operator reads it."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    api_version: Literal["asgi.dev/v1alpha1"] = Field("asgi.dev/v1alpha1", alias="apiVersion")
    kind: Literal["AsgiService"] = "AsgiService"
    metadata: dict[str, Any]
    spec: AsgiServiceSpec
    status: AsgiServiceStatus = Field(default_factory=AsgiServiceStatus)

    @model_validator(mode="after")
    def _check_name(self) -> AsgiService:
        name = str(self.metadata.get("name", ""))
        if not (len(name) <= MAX_NAME_LENGTH and re.fullmatch(NAME_PATTERN, name)):
            raise ValueError(f"metadata.name: {NAME_MESSAGE}")
        return self
