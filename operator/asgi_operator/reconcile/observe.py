"""Read what the operator needs from live objects (plain dicts) into small, typed observations."""

from __future__ import annotations

import hashlib
from typing import Any

from ..api import keys
from ..rollout.machine import Workload
from ..rollout.state import JobRun


def workload(deployment: dict[str, Any] | None) -> Workload | None:
    if deployment is None:
        return None
    meta = deployment.get("metadata", {})
    spec = deployment.get("spec", {})
    status = deployment.get("status", {})
    labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
    return Workload(
        replicas=int(spec.get("replicas", 1)),
        ready=int(status.get("readyReplicas", 0)),
        available=int(status.get("availableReplicas", 0)),
        updated=int(status.get("updatedReplicas", 0)),
        total=int(status.get("replicas", 0)),
        current=int(status.get("observedGeneration", 0)) >= int(meta.get("generation", 0)),
        revision=labels.get(keys.LABEL_REVISION),
    )


def job_run(job: dict[str, Any] | None, log_tail: str = "") -> JobRun | None:
    """A Job's outcome from its Complete/Failed conditions (set once its pods have ended)."""
    if job is None:
        return None
    conditions = {c.get("type"): c for c in job.get("status", {}).get("conditions", []) if c.get("status") == "True"}
    failed = conditions.get("Failed") or {}
    return JobRun(
        name=str(job.get("metadata", {}).get("name", "")),
        succeeded="Complete" in conditions,
        failed=bool(failed),
        reason=str(failed.get("reason", "")),
        message=str(failed.get("message", "")),
        log_tail=log_tail,
    )


def termination_message(pods: list[dict[str, Any]]) -> str:
    """The termination message of the latest failed container among a Job's pods (with FallbackToLogsOnError:
    the tail of its log, when it wrote no message itself)."""
    found: list[tuple[str, str]] = []
    for pod in pods:
        status = pod.get("status", {})
        for c in [*status.get("initContainerStatuses", []), *status.get("containerStatuses", [])]:
            ended = (c.get("state") or {}).get("terminated") or {}
            if ended.get("exitCode", 0) != 0:
                exit_info = f"exit code {ended.get('exitCode')}"
                text = str(ended.get("message") or ended.get("reason") or "").strip()
                found.append((str(ended.get("finishedAt", "")), f"{c.get('name')}: {exit_info}: {text}"))
    return max(found)[1] if found else ""


def annotation(body: dict[str, Any], key: str) -> str | None:
    value = body.get("metadata", {}).get("annotations", {}).get(key)
    return str(value) if value is not None else None


def is_paused(body: dict[str, Any]) -> bool:
    return (annotation(body, keys.ANNOTATION_PAUSED) or "").strip().lower() == "true"


# What of a watched object the operator keeps in memory, and what of it can change a decision.
_META_KEPT = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "labels",
    "annotations",
    "ownerReferences",
    "deletionTimestamp",
)
# the Deployment's status fields the reconcile reads (observe.workload); everything else there is churn
_DEPLOYMENT_STATUS = ("observedGeneration", "replicas", "readyReplicas", "availableReplicas", "updatedReplicas")


# ConfigMap values longer than this are kept as their digest (the asgi_edge wrapper's source is 30 KB per
# AsgiService): whether the live value is the wanted one is all the reconcile asks of it (folded()).
_FOLD_OVER = 256


def _fold(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _FOLD_OVER:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return value


def folded(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` with each long ConfigMap value replaced by its digest, as trimmed() keeps it: a desired
    ConfigMap is compared with the stored one in this form (render.drift.holds)."""
    if kind != "ConfigMap":
        return body
    out = dict(body)
    for key in ("data", "binaryData"):
        if isinstance(body.get(key), dict):
            out[key] = {k: _fold(v) for k, v in body[key].items()}
    return out


def trimmed(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """The part of a watched object the reconciler reads (kept in the operator's memory). managedFields only for
    Deployments (the HPA hand-over reads them); status only for AsgiServices and, partly, Deployments."""
    meta = body.get("metadata", {})
    kept_meta = {k: meta[k] for k in _META_KEPT if k in meta}
    if kind == "Deployment" and "managedFields" in meta:
        # only whether each manager owns spec.replicas (reconcile.handover), not the whole field sets
        kept_meta["managedFields"] = [
            {
                "manager": e.get("manager"),
                "operation": e.get("operation"),
                "fieldsV1": {"f:spec": {"f:replicas": {}}} if "f:replicas" in _spec_fields(e) else {},
            }
            for e in meta["managedFields"]
        ]
    out: dict[str, Any] = {"apiVersion": body.get("apiVersion"), "kind": body.get("kind"), "metadata": kept_meta}
    for key, value in body.items():
        if key not in ("apiVersion", "kind", "metadata", "status"):
            out[key] = value  # spec, and the top-level fields of kinds without a spec
    out = folded(kind, out)
    status = body.get("status")
    if status is not None and kind == "AsgiService":
        out["status"] = status
    elif status is not None and kind == "Deployment":
        out["status"] = {k: status[k] for k in _DEPLOYMENT_STATUS if k in status}
    elif status is not None and kind == "Job":  # only the outcome (observe.job_run)
        conditions = [
            {k: c[k] for k in ("type", "status", "reason", "message") if k in c}
            for c in status.get("conditions", [])
            if c.get("type") in ("Complete", "Failed")
        ]
        if conditions:
            out["status"] = {"conditions": conditions}
    elif status is not None and kind == "HTTPRoute":  # only what each gateway says of it (reconcile.gateway)
        parents = [
            {
                "parentRef": p.get("parentRef", {}),
                "conditions": [
                    {k: c[k] for k in ("type", "status", "reason", "message") if k in c}
                    for c in p.get("conditions", [])
                    if c.get("type") in ("Accepted", "ResolvedRefs")
                ],
            }
            for p in status.get("parents", [])
        ]
        if parents:
            out["status"] = {"parents": parents}
    return out


def _spec_fields(entry: dict[str, Any]) -> dict[str, Any]:
    fields = entry.get("fieldsV1")
    spec = fields.get("f:spec") if isinstance(fields, dict) else None
    return spec if isinstance(spec, dict) else {}


def relevant(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """What of an object can change the operator's decisions: a watch event that leaves this unchanged wakes
    nothing (a Deployment's rollout churn, another controller's status, the operator's own status writes)."""
    view = trimmed(kind, body)
    meta = view["metadata"]
    view["metadata"] = {k: v for k, v in meta.items() if k not in ("resourceVersion", "managedFields")}
    if kind == "AsgiService":
        view.pop("status", None)  # the operator writes it; a change there never needs a reconcile
    return view
