"""The AsgiService contract: spec and status as pydantic v2 models.

These models are the single source of truth. `crds/asgiservice.yaml` is generated from them
(`make crds`), the reference docs are generated from them, and the operator parses every object through
them. Field names are what Kubernetes users expect (camelCase in YAML, durations as `30s`, quantities as
`250m`); Python code uses the snake_case attribute names.

This module holds the whole object (`AsgiService`) and its spec; the parts live next to it, by concern:
`patterns` (regex vocabulary, Quantity), `base` (the Model base and CEL helpers), `server`, `pod`, `exposure`,
`rollout`, `status` and `vocabulary` (the StrEnums of status and events). Every public name of those modules
that code imports from here is re-exported (`__all__`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import Model, ceil_seconds, cel_ceil, cel_regex, nested
from .containers import MAX_INIT_CONTAINERS, InitContainer, unique
from .containers import SPEC_RULES as POD_FEATURE_RULES
from .durations import Duration, seconds
from .exposure import ExposeSpec, GatewayRef, IngressSpec, RouteRef
from .hooks import PreDeploySpec
from .observability import ObservabilitySpec
from .patterns import (
    APP_PATTERN,
    DNS_LABEL_PATTERN,
    DNS_SUBDOMAIN_PATTERN,
    ENV_NAME_PATTERN,
    HOSTNAME_PATTERN,
    LABEL_VALUE_PATTERN,
    MAX_NAME_LENGTH,
    NAME_MESSAGE,
    NAME_PATTERN,
    PROM_LABEL_PATTERN,
    QUALIFIED_NAME_PATTERN,
    RESOURCE_NAME_PATTERN,
    Quantity,
)
from .pod import (
    SHUTDOWN_MARGIN_SECONDS,
    AutoscalingSpec,
    EnvFromSource,
    EnvVar,
    EnvVarSource,
    FieldRef,
    KeyRef,
    LocalObjectReference,
    MetricsSpec,
    ProbeSpec,
    ProbesSpec,
    ReadinessProbeSpec,
    ResourceFieldRef,
    ResourceRequirements,
    ShutdownSpec,
    StartupProbeSpec,
)
from .quantities import QUANTITY_PATTERN, quantity
from .ratelimit import SPEC_RULES as RATE_LIMIT_RULES
from .rollout import (
    MIN_WINDOW_SCRAPES,
    WINDOW_SCRAPES,
    CustomQueries,
    MetricsProfile,
    PrometheusSpec,
    RelativeSLOSpec,
    RolloutSpec,
    Router,
    RouteSLOSpec,
    SLOSpec,
)
from .rules import Rule, cel_string
from .scheduling import HOSTNAME_KEY, ZONE_KEY, Affinity, Toleration, TopologySpreadConstraint
from .server import DEFAULT_KEEP_ALIVE, DEFAULT_LB_IDLE, GRANIAN_KEEP_ALIVE, GRANIAN_LB_IDLE, ServerSpec
from .servers import UNSUPPORTED, ServerKind
from .status import (
    AnalysisResult,
    AsgiServiceStatus,
    Condition,
    PendingEvent,
    PreDeployStatus,
    RolloutStatus,
    RouteResult,
    StableBaseline,
    StatusModel,
)
from .tls import IssuerRef, TLSSpec
from .vocabulary import EventReason, RequestVerb, RolloutPhase, ServicePhase, Verdict
from .volumes import (
    MAX_MOUNTS,
    MAX_VOLUMES,
    RESERVED_MOUNT_PATHS,
    RESERVED_VOLUME_NAMES,
    SecretReference,
    Volume,
    VolumeMount,
)

__all__ = [
    "APP_PATTERN",
    "DEFAULT_KEEP_ALIVE",
    "DEFAULT_LB_IDLE",
    "DNS_LABEL_PATTERN",
    "DNS_SUBDOMAIN_PATTERN",
    "ENV_NAME_PATTERN",
    "GRANIAN_KEEP_ALIVE",
    "GRANIAN_LB_IDLE",
    "HOSTNAME_PATTERN",
    "LABEL_VALUE_PATTERN",
    "MAX_NAME_LENGTH",
    "NAME_MESSAGE",
    "NAME_PATTERN",
    "PROM_LABEL_PATTERN",
    "QUALIFIED_NAME_PATTERN",
    "QUANTITY_PATTERN",
    "RESOURCE_NAME_PATTERN",
    "SHUTDOWN_MARGIN_SECONDS",
    "UNSUPPORTED",
    "WINDOW_SCRAPES",
    "AnalysisResult",
    "AsgiService",
    "AsgiServiceSpec",
    "AsgiServiceStatus",
    "AutoscalingSpec",
    "Condition",
    "CustomQueries",
    "Duration",
    "EnvFromSource",
    "EnvVar",
    "EnvVarSource",
    "EventReason",
    "ExposeSpec",
    "FieldRef",
    "GatewayRef",
    "IngressSpec",
    "IssuerRef",
    "KeyRef",
    "LocalObjectReference",
    "MetricsProfile",
    "MetricsSpec",
    "Model",
    "PendingEvent",
    "PreDeploySpec",
    "PreDeployStatus",
    "ProbeSpec",
    "ProbesSpec",
    "PrometheusSpec",
    "Quantity",
    "ReadinessProbeSpec",
    "RelativeSLOSpec",
    "RequestVerb",
    "ResourceFieldRef",
    "ResourceRequirements",
    "RolloutPhase",
    "RolloutSpec",
    "RolloutStatus",
    "RouteRef",
    "RouteResult",
    "RouteSLOSpec",
    "Router",
    "Rule",
    "SLOSpec",
    "ServerKind",
    "ServerSpec",
    "ServicePhase",
    "ShutdownSpec",
    "StableBaseline",
    "StartupProbeSpec",
    "StatusModel",
    "TLSSpec",
    "Verdict",
    "ceil_seconds",
    "cel_string",
    "nested",
    "quantity",
    "seconds",
]


# CEL: MIN_WINDOW_SCRAPES x metrics.interval (a CEL duration cannot be multiplied by an integer)
_WINDOW_FLOOR: Final = " + ".join(["duration(self.metrics.interval)"] * MIN_WINDOW_SCRAPES)


def _router_fits_exposure(s: AsgiServiceSpec) -> bool:
    router, expose = s.rollout.router, s.expose
    if router == Router.GATEWAY_API:
        return expose is not None and (expose.gateway is not None or expose.http_route is not None)
    if router == Router.INGRESS_NGINX:
        return expose is not None and expose.ingress is not None
    return True


class AsgiServiceSpec(Model):
    """An ASGI web app (FastAPI, Starlette, ...) and how to run, scale, expose and roll it out."""

    image: str = Field(min_length=1, max_length=512, description="The container image holding the app.")
    app: str = Field(
        max_length=256,
        description="The ASGI application's import path, module:attribute (e.g. main:app).",
    )
    server: ServerSpec = nested(ServerSpec, "The ASGI server and its options.")
    port: int = Field(8000, ge=1024, le=65535, description="The port the server listens on (non-root: 1024 and above).")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        None,
        description="When the kubelet pulls the image. Unset: Kubernetes' default (Always for a :latest or "
        "untagged image, else IfNotPresent).",
    )
    image_pull_secrets: list[SecretReference] = Field(
        default_factory=list,
        max_length=16,
        description="Secrets with credentials for the image's registry, in the AsgiService's namespace.",
    )
    service_account_name: str | None = Field(
        None,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="The ServiceAccount the pods run as. Unset: the namespace's default.",
    )
    env: list[EnvVar] = Field(
        default_factory=list,
        max_length=256,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        description="Environment variables of the app's container, as in a Pod; names are unique. With "
        "server.workers above 1 the operator adds PROMETHEUS_MULTIPROC_DIR unless it is set here.",
    )
    env_from: list[EnvFromSource] = Field(
        default_factory=list,
        max_length=64,
        description="ConfigMaps and Secrets whose every key becomes an environment variable, as in a Pod.",
    )
    resources: ResourceRequirements = nested(ResourceRequirements, "CPU and memory per pod.")
    probes: ProbesSpec = nested(ProbesSpec, "Readiness, liveness and startup probes.")
    shutdown: ShutdownSpec = nested(ShutdownSpec, "The graceful shutdown chain.")
    metrics: MetricsSpec = nested(MetricsSpec, "The app's Prometheus metrics endpoint.")
    replicas: int | None = Field(None, ge=0, le=1000, description="Fixed number of pods. Unset and no autoscaling: 1.")
    autoscaling: AutoscalingSpec | None = None
    expose: ExposeSpec | None = None
    rollout: RolloutSpec = nested(RolloutSpec, "How new revisions are rolled out.")
    observability: ObservabilitySpec = nested(
        ObservabilitySpec, "Request IDs and JSON access logs (the asgi_edge wrapper), log shipping, tracing."
    )
    pod_labels: dict[str, Annotated[str, Field(max_length=63, pattern=LABEL_VALUE_PATTERN)]] = Field(
        default_factory=dict, max_length=32, description="Extra pod labels (the operator's own keys win)."
    )
    pod_annotations: dict[str, Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=dict, max_length=32, description="Extra pod annotations."
    )

    # pod features (api/volumes.py, api/scheduling.py, api/containers.py)
    volumes: Annotated[list[Volume], unique("name", "volume name")] = Field(
        default_factory=list,
        max_length=MAX_VOLUMES,
        description="Volumes of the pod: configMap, secret, emptyDir, projected, persistentVolumeClaim, csi. Not "
        "supported: hostPath (the restricted Pod Security Standard forbids it) and every other source. "
        f"{' and '.join(RESERVED_VOLUME_NAMES)} are the operator's own.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    volume_mounts: Annotated[list[VolumeMount], unique("mount_path", "mountPath")] = Field(
        default_factory=list,
        max_length=MAX_MOUNTS,
        description="Volumes mounted into the app's container (each names one of volumes). "
        f"{' and '.join(RESERVED_MOUNT_PATHS)} are the operator's.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["mountPath"]},
    )
    node_selector: dict[str, Annotated[str, Field(max_length=63, pattern=LABEL_VALUE_PATTERN)]] = Field(
        default_factory=dict, max_length=16, description="Node labels the pods' nodes must have."
    )
    tolerations: list[Toleration] = Field(default_factory=list, max_length=16, description="Taints the pods tolerate.")
    affinity: Affinity | None = Field(None, description="Node affinity, pod affinity and pod anti-affinity.")
    topology_spread_constraints: list[TopologySpreadConstraint] | None = Field(
        None,
        max_length=8,
        description="How the pods spread across zones and nodes. Unset: maxSkew 1 across "
        f"{ZONE_KEY} and across {HOSTNAME_KEY}, whenUnsatisfiable ScheduleAnyway (a preference that never "
        "leaves a pod Pending), each ReplicaSet on its own (matchLabelKeys pod-template-hash). [] turns "
        "spreading off. A constraint without labelSelector counts this AsgiService's pods.",
    )
    priority_class_name: str | None = Field(
        None,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="The pods' PriorityClass (it must exist when the pods are created).",
    )
    init_containers: Annotated[list[InitContainer], unique("name", "container name")] = Field(
        default_factory=list,
        max_length=MAX_INIT_CONTAINERS,
        description="Init containers, run in order before the app; with restartPolicy Always, native sidecars "
        "(Kubernetes 1.29+) that start in order and run alongside the app. One list in Kubernetes' own shape, "
        "so the order between sidecars and init containers is yours (a proxy before the init container that "
        "needs it). Each gets the app's hardened securityContext. Not supported: ports, lifecycle hooks, "
        "workingDir, stdin/tty, resizePolicy, volumeDevices and gRPC probes.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!has(self.expose) || !has(self.expose.cors) || self.expose.cors.enforcement != 'App' || "
            "self.observability.wrapper",
            "expose.cors.enforcement App needs observability.wrapper: the wrapper is what enforces it in the app",
            lambda s: (
                s.expose is None
                or s.expose.cors is None
                or s.expose.cors.enforcement != "App"
                or s.observability.wrapper
            ),
            ".expose.cors.enforcement",
        ),
        Rule(
            "!self.observability.wrapper || !has(self.server.extraArgs) || !self.server.extraArgs.exists(a, "
            "a.startsWith('--app-dir') || a.startsWith('--pythonpath'))",
            "server.extraArgs --app-dir/--pythonpath conflict with the asgi_edge wrapper, which sets them: set "
            "observability.wrapper false, or run the app from the image's working directory",
            lambda s: (
                not s.observability.wrapper
                or not any(a.startswith(("--app-dir", "--pythonpath")) for a in s.server.extra_args)
            ),
            ".server.extraArgs",
        ),
        Rule(
            cel_regex(APP_PATTERN, "self.app"),
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
            f"{cel_ceil('self.shutdown.preStopDelay')} + {cel_ceil('self.server.gracefulShutdownTimeout')} + "
            f"{SHUTDOWN_MARGIN_SECONDS} <= {cel_ceil('self.shutdown.terminationGracePeriod')}",
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
            f"!has(self.rollout.slo.window) || duration(self.rollout.slo.window) >= {_WINDOW_FLOOR}",
            f"rollout.slo.window must hold at least {MIN_WINDOW_SCRAPES} scrapes ({MIN_WINDOW_SCRAPES} x "
            "metrics.interval): rate() needs two samples in the window, so a shorter one can never see a rate "
            f"({WINDOW_SCRAPES} scrapes or more are safer)",
            lambda s: (
                s.rollout.slo.window is None
                or seconds(s.rollout.slo.window) >= MIN_WINDOW_SCRAPES * seconds(s.metrics.interval)
            ),
            ".rollout.slo.window",
        ),
        Rule(
            "!has(self.rollout.router) || "
            f"(self.rollout.router == {cel_string(Router.GATEWAY_API)} ? "
            "(has(self.expose) && (has(self.expose.gateway) || has(self.expose.httpRoute))) : "
            f"self.rollout.router == {cel_string(Router.INGRESS_NGINX)} ? "
            "(has(self.expose) && has(self.expose.ingress)) : true)",
            f"rollout.router {Router.GATEWAY_API} needs expose.gateway or expose.httpRoute, and "
            f"{Router.INGRESS_NGINX} needs expose.ingress: the router splits traffic on that object "
            f"({Router.REPLICAS} works with any exposure)",
            _router_fits_exposure,
            ".rollout.router",
        ),
        Rule(  # TLS
            "!has(self.expose) || !has(self.expose.tls) || !has(self.rollout.router) || "
            f"self.rollout.router != {cel_string(Router.REPLICAS)}",
            f"expose.tls is rendered by the {Router.GATEWAY_API} and {Router.INGRESS_NGINX} routers: with rollout."
            f"router {Router.REPLICAS} configure HTTPS on your Gateway or Ingress controller, or unset rollout.router",
            lambda s: s.expose is None or s.expose.tls is None or s.rollout.router != Router.REPLICAS,
            ".expose.tls",
        ),
        *RATE_LIMIT_RULES,
        *POD_FEATURE_RULES,
    )


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
