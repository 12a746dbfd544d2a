"""From a rollout decision to the complete desired state of one AsgiService's children."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from ..api.models import AsgiServiceSpec
from ..render.children import CanaryPlan, Children, desired_children
from ..render.meta import Owner
from ..rollout.machine import Decision
from ..routers import TrafficRouter, router_for


@dataclass(frozen=True)
class Plan:
    children: Children
    router: TrafficRouter
    stable_spec: AsgiServiceSpec


def stored_spec(data: dict[str, object] | None, fallback: AsgiServiceSpec) -> AsgiServiceSpec:
    """The stable revision's spec as kept in status; the current spec if there is none (or it no longer
    parses, e.g. after an operator upgrade removed a field)."""
    if not data:
        return fallback
    try:
        return AsgiServiceSpec.model_validate(data)
    except ValidationError:
        return fallback


def plan(owner: Owner, spec: AsgiServiceSpec, revision: str, decision: Decision, *, pod_monitor_crd: bool) -> Plan:
    stable_spec = stored_spec(decision.stable_template_spec, spec)
    canary: CanaryPlan | None = None
    if decision.rollout.id > 0:  # a canary Deployment exists from the first canary on (zero pods between)
        runs_spec = decision.rollout.canary_revision == revision
        canary = CanaryPlan(spec if runs_spec else stable_spec, decision.canary_replicas)
    router = router_for(spec)
    traffic = router.manifests(owner, spec, decision.canary_weight, canary is not None)
    children = desired_children(
        owner, spec, stable_spec=stable_spec, canary=canary, traffic=traffic, pod_monitor_crd=pod_monitor_crd
    )
    return Plan(children=children, router=router, stable_spec=stable_spec)
