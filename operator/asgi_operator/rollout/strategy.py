"""Which machine decides a pass: the canary state machine, or the RollingUpdate strategy. Pure."""

from __future__ import annotations

from ..api.models import RolloutSpec, RolloutStatus
from ..api.vocabulary import EventReason, RolloutPhase
from .machine import advance
from .state import Decision, Event, Observation


def decide(spec: RolloutSpec, state: RolloutStatus, obs: Observation) -> Decision:
    """A rollout in flight always finishes under the canary machine, even if the strategy changed meanwhile."""
    in_flight = state.phase in (RolloutPhase.PROGRESSING, RolloutPhase.PROMOTING)
    if spec.strategy == "RollingUpdate" and not in_flight:
        return rolling_update(state, obs)
    return advance(spec, state, obs)


def rolling_update(state: RolloutStatus, obs: Observation) -> Decision:
    """The RollingUpdate strategy: every revision goes straight to the stable Deployment."""
    s = state.model_copy(deep=True)
    events: list[Event] = []
    if s.stable_revision != obs.revision:
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
