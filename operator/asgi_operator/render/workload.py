"""The pod template and the Deployments (stable `<name>`, canary `<name>-canary`).

The pod is what a careful platform engineer writes by hand for an ASGI app: the server's command from the
spec, probes on the app's port, a native preStop sleep followed by the server's graceful shutdown inside a
termination grace period computed to fit both, prometheus_client multiprocess mode when there are several
workers, and a security context that passes the "restricted" Pod Security Standard.
"""

from __future__ import annotations

import math
from typing import Any, Final

from ..api import keys
from ..api.durations import seconds
from ..api.models import SHUTDOWN_MARGIN_SECONDS, AsgiServiceSpec, ProbeSpec, ceil_seconds
from ..api.servers import ServerKind
from ..api.volumes import MULTIPROC_DIR, MULTIPROC_VOLUME, TMP_DIR, TMP_VOLUME
from . import edge
from .meta import Manifest, Owner, content_hash, metadata, selector
from .pod_features import init_containers, scheduling, user_volumes
from .servers import server_command

CONTAINER_NAME: Final = "app"
RUN_AS_USER: Final = 10001
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
RUNTIME_DIR_ENV: Final = "XDG_RUNTIME_DIR"


def termination_grace_period_seconds(spec: AsgiServiceSpec) -> int:
    """Explicit, or the preStop sleep and the server's graceful timeout as rendered (each rounded up to whole
    seconds) plus a margin: the countdown starts before preStop, so both must fit in it."""
    if spec.shutdown.termination_grace_period is not None:
        return ceil_seconds(spec.shutdown.termination_grace_period)
    return (
        ceil_seconds(spec.shutdown.pre_stop_delay)
        + ceil_seconds(spec.server.graceful_shutdown_timeout)
        + SHUTDOWN_MARGIN_SECONDS
    )


def _probe(spec: AsgiServiceSpec, probe: ProbeSpec) -> Manifest:
    return {
        "httpGet": {"path": probe.path or spec.probes.path, "port": "http"},
        "periodSeconds": probe.period_seconds,
        "timeoutSeconds": probe.timeout_seconds,
        "failureThreshold": probe.failure_threshold,
    }


def _env(spec: AsgiServiceSpec) -> list[Manifest]:
    env = [e.model_dump(by_alias=True, exclude_none=True) for e in spec.env]
    if spec.server.workers > 1 and all(e["name"] != MULTIPROC_ENV for e in env):
        env.append({"name": MULTIPROC_ENV, "value": MULTIPROC_DIR})
    if spec.server.kind == ServerKind.GUNICORN and all(e["name"] != RUNTIME_DIR_ENV for e in env):
        # gunicorn 25+ opens a control socket in $XDG_RUNTIME_DIR, else under $HOME (read-only here): /tmp is the
        # pod's writable emptyDir (an environment variable, so older gunicorns, without the flag, run too)
        env.append({"name": RUNTIME_DIR_ENV, "value": TMP_DIR})
    if edge.enabled(spec):
        mine = {e["name"] for e in env}
        env += [e for e in edge.environment(spec) if e["name"] not in mine]  # what the user set wins
    return env


def _scrape_annotations(spec: AsgiServiceSpec) -> dict[str, str]:
    if spec.metrics.scrape not in ("auto", "annotations"):
        return {}
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(spec.metrics.port or spec.port),
        "prometheus.io/path": spec.metrics.path,
    }


def _container(spec: AsgiServiceSpec) -> Manifest:
    ports: list[Manifest] = [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}]
    if spec.metrics.port is not None and spec.metrics.port != spec.port:
        ports.append({"name": "metrics", "containerPort": spec.metrics.port, "protocol": "TCP"})
    mounts: list[Manifest] = [{"name": TMP_VOLUME, "mountPath": TMP_DIR}]
    if spec.server.workers > 1:
        mounts.append({"name": MULTIPROC_VOLUME, "mountPath": MULTIPROC_DIR})
    if edge.enabled(spec):
        mounts.append(edge.mount())
    mounts += [m.model_dump(by_alias=True, exclude_none=True) for m in spec.volume_mounts]
    container: Manifest = {
        "name": CONTAINER_NAME,
        "image": spec.image,
        "command": server_command(spec),
        "ports": ports,
        "resources": spec.resources.model_dump(by_alias=True, exclude_none=True, exclude_defaults=False),
        "readinessProbe": _probe(spec, spec.probes.readiness),
        "livenessProbe": _probe(spec, spec.probes.liveness),
        "startupProbe": _probe(spec, spec.probes.startup),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": mounts,
    }
    if not container["resources"].get("limits"):
        container["resources"].pop("limits", None)
    env = _env(spec)
    if env:
        container["env"] = env
    if spec.env_from:
        container["envFrom"] = [e.model_dump(by_alias=True, exclude_none=True) for e in spec.env_from]
    if spec.image_pull_policy:
        container["imagePullPolicy"] = spec.image_pull_policy
    pre_stop = ceil_seconds(spec.shutdown.pre_stop_delay)
    if pre_stop > 0:
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": pre_stop}}}
    return container


def pod_template(owner: Owner, spec: AsgiServiceSpec) -> tuple[Manifest, str]:
    """The pod template for `spec` and its revision (a hash of the template). The track label is added by
    the Deployment that runs it, so the same spec has the same revision on either track."""
    volumes: list[Manifest] = [{"name": TMP_VOLUME, "emptyDir": {}}]
    if spec.server.workers > 1:
        volumes.append({"name": MULTIPROC_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}})
    if edge.enabled(spec):
        volumes.append(edge.volume(owner))
    volumes += user_volumes(spec)
    pod_spec: Manifest = {
        "containers": [_container(spec)],
        "volumes": volumes,
        "terminationGracePeriodSeconds": termination_grace_period_seconds(spec),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "enableServiceLinks": False,
    }
    if spec.service_account_name:
        pod_spec["serviceAccountName"] = spec.service_account_name
    if spec.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": s.name} for s in spec.image_pull_secrets]
    if spec.init_containers:
        pod_spec["initContainers"] = init_containers(spec)
    pod_spec.update(scheduling(owner, spec))
    labels = {
        **spec.pod_labels,
        keys.LABEL_K8S_NAME: owner.name,
        keys.LABEL_NAME: owner.name,
    }
    annotations = {**spec.pod_annotations, **_scrape_annotations(spec), **edge.pod_annotations(spec)}
    template: Manifest = {"metadata": {"labels": labels}, "spec": pod_spec}
    if annotations:
        template["metadata"]["annotations"] = annotations
    revision = content_hash(template)
    template["metadata"]["labels"][keys.LABEL_REVISION] = revision
    return template, revision


def with_track(template: Manifest, track: str) -> Manifest:
    labels = {**template["metadata"]["labels"], keys.LABEL_TRACK: track}
    return {**template, "metadata": {**template["metadata"], "labels": labels}}


def deployment(
    owner: Owner,
    spec: AsgiServiceSpec,
    template: Manifest,
    *,
    track: str,
    replicas: int | None,
) -> Manifest:
    """A Deployment running `template` on `track`. `replicas=None` leaves the count to the HPA: the field
    is not sent, so the operator never fights the autoscaler."""
    name = owner.name if track == keys.TRACK_STABLE else f"{owner.name}-canary"
    body: dict[str, Any] = {
        "selector": {"matchLabels": selector(owner, track)},
        "template": with_track(template, track),
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
        "revisionHistoryLimit": 5,
        "progressDeadlineSeconds": max(60, math.ceil(seconds(spec.rollout.progress_deadline))),
    }
    if replicas is not None:
        body = {"replicas": replicas, **body}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(owner, name, track=track),
        "spec": body,
    }
