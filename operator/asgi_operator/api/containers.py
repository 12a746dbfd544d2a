"""Init containers and native sidecars, kept inside the "restricted" Pod Security Standard.

A sidecar is what Kubernetes (1.29 and later) calls one: an init container with `restartPolicy: Always`. It
starts before the init containers that follow it in the list and before the app, runs as long as the pod, and
stops after the app. One list in Kubernetes' own shape keeps the order explicit (a database proxy before an init
container that waits for the database) and needs no translation.

The operator fills each container's securityContext as it does the app's (no privilege escalation, every
capability dropped, non-root, read-only root filesystem with a writable /tmp) and refuses at apply time what
would break the restricted standard: privileged, allowPrivilegeEscalation, capabilities other than
NET_BIND_SERVICE, runAsUser 0, runAsNonRoot false.

Not supported (rejected as unknown fields): ports, lifecycle hooks, workingDir, stdin/tty, resizePolicy,
terminationMessage*, volumeDevices, and gRPC probes.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import AfterValidator, Field

from .base import Model
from .patterns import DNS_LABEL_PATTERN, Quantity
from .pod import EnvFromSource, EnvVar, ResourceRequirements
from .rules import Rule
from .volumes import MAX_MOUNTS, VolumeMount

APP_CONTAINER: Final = "app"
MAX_INIT_CONTAINERS: Final = 8
ALLOWED_CAPABILITY: Final = "NET_BIND_SERVICE"
PSS: Final = "the restricted Pod Security Standard"
# an IANA service name (a named port)
PORT_NAME_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

Argument = Annotated[str, Field(max_length=4096)]

_PORT_CEL: Final = (
    "type(self) == int ? (int(self) >= 1 && int(self) <= 65535) : "
    f"(string(self).size() <= 15 && string(self).matches(r'{PORT_NAME_PATTERN}'))"
)
PORT_MESSAGE: Final = "must be a port number (1 to 65535) or a port name"


def _check_port(value: int | str) -> int | str:
    ok = 1 <= value <= 65535 if isinstance(value, int) else len(value) <= 15 and re.fullmatch(PORT_NAME_PATTERN, value)
    if not ok:
        raise ValueError(f"{value!r} {PORT_MESSAGE}")
    return value


def _port(description: str) -> Any:
    return Field(
        description=description,
        json_schema_extra={
            "x-kubernetes-int-or-string": True,
            "maxLength": 15,
            "x-kubernetes-validations": [{"rule": _PORT_CEL, "message": PORT_MESSAGE}],
        },
    )


class Capabilities(Model):
    """Capabilities to add. Every capability is dropped (drop: [ALL]) by the operator."""

    add: list[Annotated[str, Field(max_length=64)]] | None = Field(
        None, max_length=4, description=f"Only {ALLOWED_CAPABILITY}: {PSS} allows no other capability."
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            f"!has(self.add) || self.add.all(c, c == '{ALLOWED_CAPABILITY}')",
            f"only {ALLOWED_CAPABILITY} may be added: {PSS} forbids every other capability",
            lambda c: all(x == ALLOWED_CAPABILITY for x in c.add or []),
            ".add",
            message_expression=f"'only {ALLOWED_CAPABILITY} may be added, not ' + "
            f"self.add.filter(c, c != '{ALLOWED_CAPABILITY}')[0] + ': {PSS} forbids every other capability'",
            explain=lambda c: (
                f"only {ALLOWED_CAPABILITY} may be added, not "
                f"{next(x for x in c.add or [] if x != ALLOWED_CAPABILITY)}: {PSS} forbids every other capability"
            ),
        ),
    )


class SecurityContext(Model):
    """What a container may say about its security context. The operator fills the rest and refuses what
    the restricted Pod Security Standard forbids."""

    privileged: bool | None = Field(None, description=f"Must not be true: {PSS} forbids privileged containers.")
    allow_privilege_escalation: bool | None = Field(
        None, description=f"Must not be true: {PSS} requires false (the operator sets it)."
    )
    capabilities: Capabilities | None = Field(None, description=f"Only add {ALLOWED_CAPABILITY}; ALL is dropped.")
    run_as_user: int | None = Field(
        None, ge=0, le=2**31 - 1, description=f"Must not be 0 (root): {PSS} requires a non-root user."
    )
    run_as_group: int | None = Field(None, ge=0, le=2**31 - 1, description="The primary group.")
    run_as_non_root: bool | None = Field(None, description=f"Must not be false: {PSS} requires true.")
    read_only_root_filesystem: bool | None = Field(
        None, description="Default true (with a writable /tmp); false for a program that writes elsewhere."
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!has(self.privileged) || !self.privileged",
            f"privileged containers are not allowed: {PSS} forbids them",
            lambda s: not s.privileged,
            ".privileged",
        ),
        Rule(
            "!has(self.allowPrivilegeEscalation) || !self.allowPrivilegeEscalation",
            f"allowPrivilegeEscalation must be false: {PSS} requires it",
            lambda s: not s.allow_privilege_escalation,
            ".allowPrivilegeEscalation",
        ),
        Rule(
            "!has(self.runAsUser) || self.runAsUser != 0",
            f"runAsUser 0 (root) is not allowed: {PSS} requires a non-root user",
            lambda s: s.run_as_user != 0,
            ".runAsUser",
        ),
        Rule(
            "!has(self.runAsNonRoot) || self.runAsNonRoot",
            f"runAsNonRoot must not be false: {PSS} requires a non-root user",
            lambda s: s.run_as_non_root is not False,
            ".runAsNonRoot",
        ),
    )


class HTTPGetAction(Model):
    """An HTTP GET; a status from 200 to 399 is success."""

    path: str | None = Field(None, max_length=256, pattern=r"^/", description="The path (default /).")
    port: Annotated[int | str, AfterValidator(_check_port)] = _port("The container's port, by number or name.")
    scheme: Literal["HTTP", "HTTPS"] | None = Field(None, description="HTTP (default) or HTTPS.")


class TCPSocketAction(Model):
    """A TCP connection that opens is success."""

    port: Annotated[int | str, AfterValidator(_check_port)] = _port("The container's port, by number or name.")


class ExecAction(Model):
    """A command in the container; exit status 0 is success."""

    command: list[Argument] = Field(min_length=1, max_length=64, description="The command and its arguments.")


class Probe(Model):
    """A sidecar's probe: exactly one of httpGet, tcpSocket and exec."""

    http_get: HTTPGetAction | None = Field(None, description="An HTTP GET.")
    tcp_socket: TCPSocketAction | None = Field(None, description="A TCP connection.")
    exec: ExecAction | None = Field(None, description="A command.")
    initial_delay_seconds: int | None = Field(None, ge=0, le=3600, description="Wait before the first probe.")
    period_seconds: int | None = Field(None, ge=1, le=300, description="How often (default 10).")
    timeout_seconds: int | None = Field(None, ge=1, le=60, description="How long one probe may take (default 1).")
    failure_threshold: int | None = Field(None, ge=1, le=1000, description="Failures in a row that count (default 3).")

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "[has(self.httpGet), has(self.tcpSocket), has(self.exec)].filter(x, x).size() == 1",
            "set exactly one of httpGet, tcpSocket and exec",
            lambda p: sum(x is not None for x in (p.http_get, p.tcp_socket, p.exec)) == 1,
        ),
    )


class ContainerResources(ResourceRequirements):
    """CPU and memory of an init container or sidecar, as in a Pod (no defaults). A sidecar's requests add to
    the app's; an init container's are the pod's only while it runs."""

    requests: dict[str, Quantity] = Field(default_factory=dict, max_length=16, description="Requests (unset: none).")


_PROBES_NEED_SIDECAR: Final = "probes need restartPolicy: Always (a sidecar); an init container runs to completion"


class InitContainer(Model):
    """An init container (runs to completion, in order, before the app starts) or, with restartPolicy Always,
    a native sidecar (starts in order, runs alongside the app for the pod's lifetime)."""

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=DNS_LABEL_PATTERN,
        description=f"Unique among the pod's containers; {APP_CONTAINER} is the app's.",
    )
    image: str | None = Field(
        None, min_length=1, max_length=512, description="The image. Unset: the app's image (spec.image)."
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        None, description="Unset: spec.imagePullPolicy."
    )
    command: list[Argument] | None = Field(None, max_length=64, description="The entrypoint (unset: the image's).")
    args: list[Argument] | None = Field(None, max_length=128, description="Arguments to the entrypoint.")
    env: Annotated[list[EnvVar], unique("name", "env name")] = Field(
        default_factory=list,
        max_length=32,
        description="Environment variables (the app's are not inherited).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    env_from: list[EnvFromSource] = Field(
        default_factory=list, max_length=16, description="All keys of ConfigMaps or Secrets as variables."
    )
    resources: ContainerResources | None = Field(None, description="CPU and memory.")
    volume_mounts: Annotated[list[VolumeMount], unique("mount_path", "mountPath")] = Field(
        default_factory=list,
        max_length=MAX_MOUNTS,
        description="Volumes of spec.volumes to mount (the operator adds a writable /tmp).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["mountPath"]},
    )
    restart_policy: Literal["Always"] | None = Field(
        None,
        description="Always: a native sidecar (Kubernetes 1.29 and later), started before the containers after "
        "it and kept running alongside the app. Unset: an init container that must finish first.",
    )
    security_context: SecurityContext | None = Field(
        None, description="Within the restricted Pod Security Standard; the operator fills the rest."
    )
    startup_probe: Probe | None = Field(None, description="Sidecars only: the app starts once this passes.")
    readiness_probe: Probe | None = Field(None, description="Sidecars only: part of the pod's readiness.")
    liveness_probe: Probe | None = Field(None, description="Sidecars only: restarts a wedged sidecar.")

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            f"self.name != '{APP_CONTAINER}'",
            f"name {APP_CONTAINER} is the app's container: choose another name",
            lambda c: c.name != APP_CONTAINER,
            ".name",
        ),
        Rule(
            "has(self.restartPolicy) || !(has(self.startupProbe) || has(self.readinessProbe) || "
            "has(self.livenessProbe))",
            _PROBES_NEED_SIDECAR,
            lambda c: (
                c.restart_policy is not None
                or (c.startup_probe is None and c.readiness_probe is None and c.liveness_probe is None)
            ),
            ".restartPolicy",
        ),
    )


# ------------------------------------------------------------------------------------------------ spec rules
# Rules of AsgiServiceSpec about its volumes and containers (they need the whole spec: a mount must name one
# of spec.volumes).
def _volume_names(s: Any) -> set[str]:
    return {v.name for v in s.volumes}


def _missing_mounts(s: Any) -> list[str]:
    names = _volume_names(s)
    mounts = [*s.volume_mounts, *(m for c in s.init_containers for m in c.volume_mounts)]
    return [m.name for m in mounts if m.name not in names]


_HAS_VOLUME: Final = "(has(self.volumes) && self.volumes.exists(v, v.name == m.name))"
_NAME_IS_A_VOLUME: Final = "(has(self.volumes) && self.volumes.exists(v, v.name == n))"


def unique(key: str, what: str) -> Any:
    """A list whose items' `key` is unique. The CRD says so with a list-type map (the API server answers
    "duplicate entries for key", at no CEL cost); this is the same check in the models."""

    def check(items: list[Any]) -> list[Any]:
        seen: set[Any] = set()
        for item in items:
            value = getattr(item, key)
            if value in seen:
                raise ValueError(f"duplicate entries for {what} {value!r}")
            seen.add(value)
        return items

    return AfterValidator(check)


SPEC_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        f"!has(self.volumeMounts) || self.volumeMounts.all(m, {_HAS_VOLUME})",
        "every volumeMount must name a volume of spec.volumes",
        lambda s: not [m for m in s.volume_mounts if m.name not in _volume_names(s)],
        ".volumeMounts",
        # map() before filter(): the API server's cost estimate then knows the names' maximum length
        message_expression=f"'no volume named ' + self.volumeMounts.map(m, m.name).filter(n, !{_NAME_IS_A_VOLUME})[0]"
        " + ' in spec.volumes'",
        explain=lambda s: f"no volume named {_missing_mounts(s)[0]} in spec.volumes",
    ),
    Rule(
        f"!has(self.initContainers) || self.initContainers.all(c, !has(c.volumeMounts) || "
        f"c.volumeMounts.all(m, {_HAS_VOLUME}))",
        "every volumeMount of an init container must name a volume of spec.volumes",
        lambda s: not _missing_mounts(s),
        ".initContainers",
        message_expression="'no volume named ' + self.initContainers.map(c, has(c.volumeMounts) && "
        f"c.volumeMounts.exists(m, !{_HAS_VOLUME}) ? "
        f"c.volumeMounts.map(m, m.name).filter(n, !{_NAME_IS_A_VOLUME})[0] : '').filter(n, n != '')[0]"
        " + ' in spec.volumes'",
        explain=lambda s: f"no volume named {_missing_mounts(s)[0]} in spec.volumes",
    ),
)
