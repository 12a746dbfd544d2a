"""The pod features a team's service needs, rendered into the pod template: its volumes, its init containers and
native sidecars (hardened like the app's container), and where the pods run (node selection, tolerations,
affinity, topology spread, priority).

Everything here is part of the pod template, so of the revision hash: a change of any of it is a new revision.
The hash is over JSON with sorted keys, so the order of a map (nodeSelector, matchLabels) never changes it; the
order of a list (tolerations, volumes) is kept as written.
"""

from __future__ import annotations

from typing import Any

from ..api import keys
from ..api.containers import InitContainer, SecurityContext
from ..api.models import AsgiServiceSpec
from ..api.scheduling import POD_TEMPLATE_HASH, TopologySpreadConstraint, default_topology_spread
from ..api.volumes import TMP_DIR, TMP_VOLUME
from .meta import Manifest, Owner


def _dump(model: Any) -> Any:
    return model.model_dump(by_alias=True, exclude_none=True)


def user_volumes(spec: AsgiServiceSpec) -> list[Manifest]:
    """spec.volumes as Pod volumes (the operator's own come first, in pod_template)."""
    return [_dump(v) for v in spec.volumes]


def hardened_security_context(given: SecurityContext | None) -> Manifest:
    """The app container's security context ("restricted" Pod Security Standard), with what a container may
    say about it (a capability the standard allows, its user and group, a writable root filesystem)."""
    context: Manifest = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    if given is None:
        return context
    if given.capabilities is not None and given.capabilities.add:
        context["capabilities"] = {"add": list(given.capabilities.add), "drop": ["ALL"]}
    if given.read_only_root_filesystem is not None:
        context["readOnlyRootFilesystem"] = given.read_only_root_filesystem
    if given.run_as_user is not None:
        context["runAsUser"] = given.run_as_user
    if given.run_as_group is not None:
        context["runAsGroup"] = given.run_as_group
    return context


def _init_container(spec: AsgiServiceSpec, c: InitContainer) -> Manifest:
    out: Manifest = {"name": c.name, "image": c.image or spec.image}
    pull_policy = c.image_pull_policy or spec.image_pull_policy
    if pull_policy:
        out["imagePullPolicy"] = pull_policy
    if c.restart_policy:
        out["restartPolicy"] = c.restart_policy
    if c.command:
        out["command"] = list(c.command)
    if c.args:
        out["args"] = list(c.args)
    if c.env:
        out["env"] = [_dump(e) for e in c.env]
    if c.env_from:
        out["envFrom"] = [_dump(e) for e in c.env_from]
    if c.resources is not None:
        resources = {k: v for k, v in _dump(c.resources).items() if v}
        if resources:
            out["resources"] = resources
    out["volumeMounts"] = [{"name": TMP_VOLUME, "mountPath": TMP_DIR}, *(_dump(m) for m in c.volume_mounts)]
    for probe in ("startup_probe", "readiness_probe", "liveness_probe"):
        value = getattr(c, probe)
        if value is not None:
            out[InitContainer.model_fields[probe].alias or probe] = _dump(value)
    out["securityContext"] = hardened_security_context(c.security_context)
    return out


def init_containers(spec: AsgiServiceSpec) -> list[Manifest]:
    """Init containers and native sidecars, in the order written (each with a writable /tmp)."""
    return [_init_container(spec, c) for c in spec.init_containers]


def _spread(owner: Owner, constraint: TopologySpreadConstraint) -> Manifest:
    out: Manifest = _dump(constraint)
    if constraint.label_selector is None:
        # this AsgiService's pods, each ReplicaSet on its own (canary and stable, old and new during a rollout)
        out["labelSelector"] = {"matchLabels": {keys.LABEL_NAME: owner.name}}
        out.setdefault("matchLabelKeys", [POD_TEMPLATE_HASH])
    return out


def topology_spread(owner: Owner, spec: AsgiServiceSpec) -> list[Manifest]:
    """spec.topologySpreadConstraints; unset: the default spread across zones and nodes; []: none."""
    given = spec.topology_spread_constraints
    constraints = default_topology_spread() if given is None else given
    return [_spread(owner, c) for c in constraints]


def scheduling(owner: Owner, spec: AsgiServiceSpec) -> Manifest:
    """The pod spec's scheduling fields (only those that are set)."""
    out: Manifest = {}
    if spec.node_selector:
        out["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        out["tolerations"] = [_dump(t) for t in spec.tolerations]
    if spec.affinity is not None:
        affinity = _dump(spec.affinity)
        if affinity:
            out["affinity"] = affinity
    spread = topology_spread(owner, spec)
    if spread:
        out["topologySpreadConstraints"] = spread
    if spec.priority_class_name:
        out["priorityClassName"] = spec.priority_class_name
    return out
