"""The AsgiService's status, following kstatus conventions so `kubectl wait --for=condition=Ready`, Argo CD
and Flux health checks work: `observedGeneration`, and the conditions Ready, Reconciling and Stalled with
reasons and messages. Pure, and stable: the same observations give the same status (timestamps of
conditions only move when a condition changes), so an unchanged object costs no status write.

What each state says (kstatus reads Reconciling and Stalled; docs/gitops.md has the table):

- converging (deploying, a canary stepping, promoting, a problem retried with backoff): Reconciling=True,
  so `kstatus` says InProgress and Flux's `wait` keeps waiting;
- held by something outside the operator that may settle any moment (a route the gateway has not accepted):
  Ready=False and Reconciling=True with its reason, Stalled=False, and the phase of the rollout going on
  (Deploying, Canary, Promoting): a hold is no error, and a canary's progressDeadline still ends it;
- serving: Ready=True, the others False: Current;
- paused by `asgi.dev/paused` mid-rollout: Ready=False and Reconciling=False, both with the reason Paused,
  Stalled=False (and status.phase Paused). Nothing is left to do until a person resumes, so kstatus says
  Current rather than waiting out its timeout, and Argo CD's health check says Suspended;
- rolled back, failed, or a problem that needs a person: Stalled=True with the reason (SLOViolated, Aborted,
  ProgressDeadlineExceeded, PreDeployFailed, InvalidSpec...), Ready=False: kstatus Failed, so
  `kubectl wait --for=condition=Stalled` ends as soon as `--for=condition=Ready` cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..api.models import AsgiServiceStatus, Condition, RolloutStatus
from ..api.vocabulary import EventReason as R
from ..api.vocabulary import RolloutPhase, ServicePhase
from ..rollout.machine import Workload

Truth = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Problem:
    """Something that stops the operator from converging (invalid spec, an API error)."""

    reason: str
    message: str
    stalled: bool  # True: it will not resolve without a person; False: retried with backoff
    # the API server's passing trouble (a 5xx, a conflict, throttling): told only if it outlives its retry
    transient: bool = False


@dataclass(frozen=True)
class Hold:
    """What the AsgiService waits for outside the operator's reach (a route the gateway has not accepted): its
    next change wakes the operator, nothing is retried, and nothing is wrong with the spec."""

    reason: str
    message: str


# Ready reasons that report a Problem (the operator could not converge), not an observed state.
PROBLEM_REASONS = frozenset(
    {
        R.INVALID_SPEC,
        R.STABLE_SPEC_INVALID,
        R.ROUTER_ERROR,
        R.FORBIDDEN,
        R.ADMISSION_DENIED,
        R.INVALID_CHILD,
        R.API_ERROR,
        R.RECONCILE_ERROR,
        # a generated route withheld (its Gateway's class lacks a feature): not every child was written
        R.GATEWAY_FEATURE_MISSING,
    }
)


# the phase of a rollout going on, while something outside the operator holds it (Idle: Deploying)
_GOING_ON = {RolloutPhase.PROGRESSING: ServicePhase.CANARY, RolloutPhase.PROMOTING: ServicePhase.PROMOTING}
# rollout reasons a canary's Ready condition says instead of CanaryInProgress: someone has something to fix
_TOLD_IN_READY = frozenset({R.PROMETHEUS_AUTH_FAILED, R.GATEWAY_FEATURE_MISSING})


def converged_before(previous: AsgiServiceStatus, generation: int) -> bool:
    """Did the last reconcile finish at this generation without a problem? Then every child it wanted was
    written, and a child missing now was deleted by somebody else (a repair, not a creation)."""
    ready = next((c for c in previous.conditions if c.type == "Ready"), None)
    return previous.observed_generation == generation and ready is not None and ready.reason not in PROBLEM_REASONS


def _condition(previous: list[Condition], new: Condition, now: str) -> Condition:
    """`new`, keeping the previous lastTransitionTime when the condition's status did not change."""
    old = next((c for c in previous if c.type == new.type), None)
    unchanged = old is not None and old.status == new.status and old.last_transition_time
    since = old.last_transition_time if unchanged and old is not None else now
    return new.model_copy(update={"last_transition_time": since, "message": new.message[:1024]})


def compute(
    *,
    previous: AsgiServiceStatus,
    generation: int,
    revision: str | None,
    rollout: RolloutStatus,
    stable: Workload | None,
    canary: Workload | None,
    desired_replicas: int,
    selector: str,
    image: str | None,
    problem: Problem | None,
    now: str,
    approximate_split: bool = False,
    held: Hold | None = None,
) -> AsgiServiceStatus:
    stable_ok = (
        stable is not None
        and rollout.stable_revision is not None
        and stable.serves(rollout.stable_revision, stable.replicas)
    )
    phase: ServicePhase
    ready: Truth
    ended = rollout.phase in (RolloutPhase.ROLLED_BACK, RolloutPhase.FAILED)
    paused = rollout.phase == RolloutPhase.PROGRESSING and rollout.paused
    if problem is not None:
        ready, reason, message = "False", problem.reason, problem.message
        phase = ServicePhase.ERROR
    elif held is not None and not ended and not paused:
        ready, reason, message = "False", held.reason, held.message
        phase = _GOING_ON.get(rollout.phase, ServicePhase.DEPLOYING)
    elif rollout.phase == RolloutPhase.PROGRESSING:
        if paused:
            ready, reason, message, phase = "False", R.PAUSED, rollout.message, ServicePhase.PAUSED
        else:
            # a credential to fix, or what the gateway lacks, is said in the reason too, not only in the message
            said = rollout.reason if rollout.reason in _TOLD_IN_READY else R.CANARY_IN_PROGRESS
            ready, reason, message, phase = "False", said, rollout.message, ServicePhase.CANARY
    elif rollout.phase == RolloutPhase.PROMOTING:
        ready, reason, message, phase = "False", R.PROMOTING, rollout.message, ServicePhase.PROMOTING
    elif ended:
        ready, reason, message, phase = (
            "False",
            rollout.reason or rollout.phase,
            rollout.message,
            ServicePhase(rollout.phase.value),
        )
    elif rollout.reason == R.PRE_DEPLOY_RUNNING:  # the new revision waits for its Job (RollingUpdate, first deploy)
        ready, reason, message, phase = "False", R.PRE_DEPLOY_RUNNING, rollout.message, ServicePhase.DEPLOYING
    elif not stable_ok:
        have = stable.ready if stable else 0
        want = stable.replicas if stable else desired_replicas
        ready, reason, phase = "False", R.WAITING_FOR_PODS, ServicePhase.DEPLOYING
        message = f"stable revision {rollout.stable_revision}: {have}/{want} pods ready and up to date"
    else:
        ready, reason, phase = "True", R.AVAILABLE, ServicePhase.READY
        message = f"revision {rollout.stable_revision} serving with {stable.ready if stable else 0} ready pods"

    # a problem says it all while it lasts (one retried with backoff is not stuck, even after a failed rollout)
    stalled = problem.stalled if problem is not None else ended
    conditions = _conditions(
        previous.conditions,
        generation,
        ready=ready,
        reason=reason,
        message=message,
        stalled=stalled,
        paused=phase == ServicePhase.PAUSED,  # held by a person: nothing to reconcile, nothing stuck
        now=now,
    )
    rollout = rollout.model_copy(update={"approximate_split": approximate_split})
    return AsgiServiceStatus(
        observed_generation=generation,
        phase=phase,
        conditions=conditions,
        revision=revision,
        stable_revision=rollout.stable_revision,
        canary_weight=rollout.canary_weight,
        step=rollout.step_index + 1 if rollout.phase in (RolloutPhase.PROGRESSING, RolloutPhase.PROMOTING) else 0,
        failed_checks=rollout.consecutive_failures,
        image=image,
        replicas=stable.total if stable else 0,
        ready_replicas=stable.ready if stable else 0,
        updated_replicas=stable.updated if stable else 0,
        canary_replicas=canary.total if canary else 0,
        canary_ready_replicas=canary.ready if canary else 0,
        selector=selector,
        rollout=rollout,
    )


def with_problem(previous: AsgiServiceStatus, generation: int, problem: Problem, now: str) -> AsgiServiceStatus:
    """What status said, with the conditions telling `problem`: a pass that failed half-way vouches for no
    observation, so the rollout's position, revisions and replica counts stay as they were (nothing is lost)."""
    conditions = _conditions(
        previous.conditions,
        generation,
        ready="False",
        reason=problem.reason,
        message=problem.message,
        stalled=problem.stalled,
        paused=False,
        now=now,
    )
    update = {"observed_generation": generation, "phase": ServicePhase.ERROR, "conditions": conditions}
    return previous.model_copy(update=update)


def _conditions(
    previous: list[Condition],
    generation: int,
    *,
    ready: Truth,
    reason: str,
    message: str,
    stalled: bool,
    paused: bool,
    now: str,
) -> list[Condition]:
    """Ready, Reconciling and Stalled, as kstatus reads them."""
    reconciling = ready != "True" and not stalled and not paused
    if reconciling:
        reconciling_reason, reconciling_message = reason, message
    elif paused:
        reconciling_reason, reconciling_message = R.PAUSED, message
    else:
        reconciling_reason, reconciling_message = R.CONVERGED, ""
    states: list[tuple[str, Truth, str, str]] = [
        ("Ready", ready, reason, message),
        ("Reconciling", "True" if reconciling else "False", reconciling_reason, reconciling_message),
        (
            "Stalled",
            "True" if stalled else "False",
            reason if stalled else R.NOT_STALLED,
            message if stalled else "",
        ),
    ]
    return [
        _condition(previous, Condition(type=t, status=st, reason=r, message=m, observed_generation=generation), now)
        for t, st, r, m in states
    ]
