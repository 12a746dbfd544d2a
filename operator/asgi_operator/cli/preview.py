"""`kubectl asgi render`: every object the operator would create for an AsgiService, offline. Pure.

It runs the operator's own decision path (rollout.strategy.decide, then reconcile.plan.plan, the functions the
reconciler calls) on the observations a first deploy makes, until the revision is deployed: the pre-deploy Job
(spec.rollout.preDeploy) created and assumed to succeed, then the workload. So the manifests, and their
`asgi.dev/config-hash` annotations, are exactly what the operator applies, as long as the things only a
cluster knows are given the same values:
- the AsgiService's uid (in ownerReferences, and so in each config hash): `--uid`;
- whether the cluster serves the PodMonitor and cert-manager Certificate CRDs;
- the rollout history: a first deploy (no canary Deployment yet), or, with `after_rollouts`, a service that has
  had canary rollouts and is idle again (the canary Deployment is kept, with 0 pods).
A canary in flight (two revisions, a traffic split) depends on the stable revision running in the cluster and is
not rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from ..api import keys
from ..api.models import AsgiService, AsgiServiceSpec, RolloutStatus
from ..api.vocabulary import RolloutPhase
from ..reconcile.plan import parse_stable_spec, plan
from ..render.children import revision_of
from ..render.meta import Manifest, Owner
from ..render.migration import pre_deploy_job
from ..render.scaling import fixed_replicas
from ..rollout.state import JobRun, Observation
from ..rollout.strategy import decide
from .settings import PLACEHOLDER_UID

__all__ = ["PLACEHOLDER_UID", "Cluster", "NotAnAsgiService", "Rendered", "is_asgi_service", "parse", "render"]

# a fixed clock: time only reaches status (which render does not print), never a manifest
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_PASSES: Final = 4  # a first deploy takes two passes with a pre-deploy Job, one without


class NotAnAsgiService(ValueError):
    """The document is not a valid AsgiService."""


@dataclass(frozen=True)
class Cluster:
    """What only a cluster knows, given by flags (render) or read from the cluster (diff)."""

    uid: str = PLACEHOLDER_UID
    pod_monitor_crd: bool = False
    cert_manager_crd: bool = False
    after_rollouts: bool = False


@dataclass(frozen=True)
class Rendered:
    name: str
    namespace: str
    revision: str
    objects: list[Manifest]
    # (apiVersion, kind, name) of objects the operator deletes when it finds them (no longer wanted)
    deletes: list[tuple[str, str, str]] = field(default_factory=list)
    # objects the user owns that the operator patches (an existing HTTPRoute): (kind, name)
    patches: list[tuple[str, str]] = field(default_factory=list)


def parse(doc: dict[str, Any], namespace: str) -> tuple[Owner, AsgiServiceSpec, dict[str, Any]]:
    """The AsgiService of a manifest (validated as the operator validates it), in `namespace`."""
    body = {**doc, "metadata": {**(doc.get("metadata") or {}), "namespace": namespace}}
    try:
        obj = AsgiService.model_validate(body)
    except ValueError as e:
        name = (doc.get("metadata") or {}).get("name", "?")
        raise NotAnAsgiService(f"AsgiService {name}: {e}") from e
    return Owner(obj.metadata["name"], namespace, PLACEHOLDER_UID), obj.spec, dict(doc.get("spec") or {})


def render(doc: dict[str, Any], namespace: str, cluster: Cluster = Cluster()) -> Rendered:
    owner, spec, raw_spec = parse(doc, namespace)
    owner = replace(owner, uid=cluster.uid)
    revision = revision_of(owner, spec)
    state = RolloutStatus()
    if cluster.after_rollouts:  # idle after a promoted canary: this revision stable, a canary Deployment at 0
        state = RolloutStatus(
            id=1,
            phase=RolloutPhase.IDLE,
            stable_revision=revision,
            canary_revision=revision,
            stable_spec=raw_spec,
        )
    job: JobRun | None = None
    jobs: list[Manifest] = []
    for _ in range(_PASSES):
        obs = Observation(
            now=_EPOCH,
            revision=revision,
            spec=raw_spec,
            stable=None,
            canary=None,
            default_replicas=fixed_replicas(spec) or (spec.autoscaling.min_replicas if spec.autoscaling else 1),
            name=owner.name,
            pre_deploy=job,
        )
        decision = decide(spec.rollout, state, obs)
        attempt, hook = decision.rollout.pre_deploy, spec.rollout.pre_deploy
        if attempt is not None and hook is not None and attempt.phase == "Pending" and attempt.revision == revision:
            jobs.append(pre_deploy_job(owner, spec, hook, attempt.job))  # what the reconciler creates once
            job = JobRun(attempt.job, succeeded=True)  # assumed to succeed
        state = decision.rollout
        if not decision.hold_workload:
            break
    the_plan = plan(
        owner,
        spec,
        revision,
        decision,
        parse_stable_spec(decision.stable_template_spec),
        pod_monitor_crd=cluster.pod_monitor_crd,
        cert_manager_crd=cluster.cert_manager_crd,
    )
    existing = the_plan.router.existing(spec)
    return Rendered(
        name=owner.name,
        namespace=namespace,
        revision=revision,
        objects=[*jobs, *the_plan.children.apply],
        deletes=list(the_plan.children.delete),
        patches=[(existing[0].kind, existing[1])] if existing is not None else [],
    )


def is_asgi_service(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("apiVersion") == keys.API_VERSION and doc.get("kind") == keys.KIND
