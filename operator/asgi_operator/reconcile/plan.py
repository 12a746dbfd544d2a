"""From a rollout decision to the complete desired state of one AsgiService's children."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..api.base import STORED
from ..api.models import AsgiServiceSpec
from ..render.children import HELD_KINDS, CanaryPlan
from ..render.meta import Owner
from ..rollout.machine import Decision
from ..routers import TrafficRouter, router_for
from .desired import Children, desired_children


@dataclass(frozen=True)
class Plan:
    children: Children
    router: TrafficRouter


class StableSpecInvalid(Exception):
    """The stable revision's spec, kept in status, no longer parses (e.g. after an operator upgrade)."""


def parse_stable_spec(data: dict[str, Any]) -> AsgiServiceSpec:
    """The spec whose pod template the stable track runs, parsed where it comes in. The API server admitted it
    when it was current, so the rules across fields are not judged again (a rule added by an operator upgrade
    would otherwise strand the object: the stored spec is only replaced at a promotion, which this blocks). A
    spec that no longer parses is reported, never replaced by the current one (which would give stable the
    canary's pods unanalysed)."""
    try:
        return AsgiServiceSpec.model_validate(data, context=STORED)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        raise StableSpecInvalid(problems) from e


def plan(
    owner: Owner,
    spec: AsgiServiceSpec,
    revision: str,
    decision: Decision,
    stable_spec: AsgiServiceSpec,
    *,
    pod_monitor_crd: bool,
    cert_manager_crd: bool = False,
) -> Plan:
    canary: CanaryPlan | None = None
    if decision.rollout.id > 0:  # a canary Deployment exists from the first canary on (zero pods between)
        runs_spec = decision.rollout.canary_revision == revision
        canary = CanaryPlan(spec if runs_spec else stable_spec, decision.canary_replicas)
    router = router_for(spec)
    children = desired_children(
        owner,
        spec,
        stable_spec=stable_spec,
        canary=canary,
        weight=decision.canary_weight,
        router=router,
        pod_monitor_crd=pod_monitor_crd,
        cert_manager_crd=cert_manager_crd,
    )
    if decision.hold_workload:  # a first deploy waiting for its pre-deploy Job: no pod may start yet
        children = Children([m for m in children.apply if m["kind"] not in HELD_KINDS], children.delete)
    return Plan(children=children, router=router)
