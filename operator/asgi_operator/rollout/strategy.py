"""Which machine decides a pass: the canary state machine, or the RollingUpdate strategy. Pure."""

from __future__ import annotations

from ..api.models import RolloutSpec, RolloutStatus
from ..api.vocabulary import EventReason, RequestVerb, RolloutPhase
from .machine import advance
from .predeploy import gate
from .state import Decision, Event, Observation, iso


def decide(spec: RolloutSpec, state: RolloutStatus, obs: Observation) -> Decision:
    """A rollout in flight always finishes under the canary machine, even if the strategy changed meanwhile."""
    in_flight = state.phase in (RolloutPhase.PROGRESSING, RolloutPhase.PROMOTING)
    if spec.strategy == "RollingUpdate" and not in_flight:
        return rolling_update(spec, state, obs)
    return advance(spec, state, obs)


def rolling_update(spec: RolloutSpec, state: RolloutStatus, obs: Observation) -> Decision:
    """The RollingUpdate strategy: every revision goes straight to the stable Deployment (after its pre-deploy
    Job, if any: meanwhile the Deployment keeps the stable revision's pods)."""
    s = state.model_copy(deep=True)
    events: list[Event] = []
    retry = False
    if obs.request and obs.request != s.last_request:
        s.last_request = obs.request
        retry = obs.request.split("/", 1)[0].strip() == RequestVerb.RETRY
    if s.stable_revision != obs.revision:
        g = gate(
            spec.pre_deploy,
            s.pre_deploy,
            owner=obs.name,
            revision=obs.revision,
            job=obs.pre_deploy,
            now=obs.now,
            retry=retry,
        )
        s.pre_deploy = g.state
        events += g.events
        if not g.open:
            if g.failure is not None:
                s.phase, s.reason, s.message = RolloutPhase.FAILED, EventReason.PRE_DEPLOY_FAILED, g.failure
                s.failed_revision, s.finished_at = obs.revision, iso(obs.now)
                events.append(Event(EventReason.PRE_DEPLOY_FAILED, g.failure, "Warning"))
            elif g.message:
                s.phase, s.failed_revision = RolloutPhase.IDLE, None
                s.reason, s.message = EventReason.PRE_DEPLOY_RUNNING, f"{obs.revision}: {g.message}"
            return Decision(
                rollout=s,
                stable_template_spec=s.stable_spec or obs.spec,
                canary_replicas=0,
                canary_weight=0,
                events=events,
                hold_workload=s.stable_revision is None,
            )
        s.failed_revision = None
        first = s.stable_revision is None
        events.append(
            Event(
                EventReason.DEPLOYED if first else EventReason.UPDATED,
                f"revision {obs.revision}"
                + ("" if first else f" replaces {s.stable_revision}")
                + " (rolling update, no canary)",
            )
        )
        s.stable_revision = obs.revision
        s.reason, s.message = EventReason.DEPLOYED, f"revision {obs.revision} rolling out"
    s.stable_spec = obs.spec
    s.phase, s.canary_weight = RolloutPhase.IDLE, 0
    return Decision(rollout=s, stable_template_spec=obs.spec, canary_replicas=0, canary_weight=0, events=events)
