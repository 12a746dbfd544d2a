"""The AsgiService contract: spec and status as pydantic v2 models.

These models are the single source of truth. `crds/asgiservice.yaml` is generated from them
(`make crds`), the reference docs are generated from them, and the operator parses every object through
them. Field names are what Kubernetes users expect (camelCase in YAML, durations as `30s`, quantities as
`250m`); Python code uses the snake_case attribute names.

This module holds the whole object (`AsgiService`) and its spec; the parts live next to it, by concern:
`patterns` (regex vocabulary, Quantity), `base` (the Model base and CEL helpers), `server`, `pod`, `exposure`,
`rollout`, `status` and `vocabulary` (the StrEnums of status and events); `spec_rules` holds the rules that
relate fields of several parts. Every public name of those modules that code imports from here is re-exported
(`__all__`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import Model, ceil_seconds, nested
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
from .spec_rules import SPEC_RULES, scrapes_per_interval
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
    "scrapes_per_interval",
    "seconds",
]


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
        *SPEC_RULES,
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
