"""The rollout state machine: a pure function from (rollout spec, persisted position, observations) to the
next position, the canary's size and weight, the events to post, and when to look again.

The whole position lives in `.status.rollout` (see `RolloutStatus`), so an operator restart at any moment
resumes exactly: running `advance` again on the same inputs gives the same answer, and an answer is acted
on only after it has been written to status.

Phases: Idle (stable serves everything), Progressing (a canary at some step), Promoting (the stable
Deployment takes the canary's pod template), RolledBack (analysis failed or a person aborted), Failed
(a deadline passed). RolledBack and Failed hold until the spec changes or a person asks for a retry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from ..api.durations import format_seconds, seconds
from ..api.models import AnalysisResult, RolloutSpec, RolloutStatus

EventType = Literal["Normal", "Warning"]


@dataclass(frozen=True)
class Workload:
    """What the operator observes of one Deployment."""

    replicas: int  # desired (spec.replicas)
    ready: int
    available: int
    updated: int
    total: int  # status.replicas: includes pods of older templates
    current: bool  # the controller has seen the latest spec (observedGeneration)
    revision: str | None  # the asgi.dev/revision label of its pod template

    def serves(self, revision: str, replicas: int) -> bool:
        """Fully rolled out to `revision` with at least `replicas` pods ready and nothing older left."""
        return (
            self.current
            and self.revision == revision
            and self.updated >= replicas
            and self.ready >= replicas
            and self.available >= replicas
            and self.total <= max(self.updated, replicas)
        )


@dataclass(frozen=True)
class Observation:
    now: datetime
    revision: str  # what the spec renders to now
    spec: dict[str, Any]  # the spec itself (becomes stableSpec when it goes stable)
    stable: Workload | None
    canary: Workload | None
    default_replicas: int  # the stable size when there is no stable Deployment yet
    paused: bool = False
    request: str | None = None  # the asgi.dev/request annotation, "<verb>/<id>"
    analysis: AnalysisResult | None = None  # only when `needs_analysis` asked for one


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    type: EventType = "Normal"


@dataclass
class Decision:
    rollout: RolloutStatus  # the new position, stableSpec included
    stable_template_spec: dict[str, Any]  # the spec whose pod template the stable Deployment runs now
    canary_replicas: int
    canary_weight: int  # percent of traffic for the canary
    events: list[Event] = field(default_factory=list)
    wake_at: datetime | None = None  # look again then, even if nothing changes in the cluster
    needs_analysis: bool = False  # call again with an analysis of the canary


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def canary_size(stable_replicas: int, weight: int) -> int:
    """The canary's pods for a traffic weight: the stable's CURRENT size times the weight, at least one."""
    if weight <= 0:
        return 0
    return max(1, math.ceil(stable_replicas * weight / 100))


class _Run:
    """One evaluation of the machine; collects the new state and the events."""

    def __init__(self, spec: RolloutSpec, state: RolloutStatus, obs: Observation) -> None:
        self.spec = spec
        self.s = state.model_copy(deep=True)
        self.obs = obs
        self.stable_template_spec: dict[str, Any] = self.s.stable_spec or obs.spec
        self.events: list[Event] = []
        self.wake_at: datetime | None = None
        self.needs_analysis = False

    # ------------------------------------------------------------------ helpers
    @property
    def now(self) -> datetime:
        return self.obs.now

    @property
    def base_replicas(self) -> int:
        return self.obs.stable.replicas if self.obs.stable is not None else self.obs.default_replicas

    def event(self, reason: str, message: str, type_: EventType = "Normal") -> None:
        self.events.append(Event(reason, message, type_))

    def wake(self, at: datetime) -> None:
        if self.wake_at is None or at < self.wake_at:
            self.wake_at = at

    def deadline_passed(self) -> bool:
        started = parse_time(self.s.step_started_at)
        if started is None:
            return False
        deadline = started + timedelta(seconds=seconds(self.spec.progress_deadline))
        if self.now >= deadline:
            return True
        self.wake(deadline)
        return False

    def fail_if_late(self, message: str) -> bool:
        """Fail the rollout (traffic back to stable) once the step's progress deadline has passed."""
        if not self.deadline_passed():
            return False
        self.finish("Failed", "ProgressDeadlineExceeded", message)
        return True

    def decision(self) -> Decision:
        weight = self.s.canary_weight if self.s.phase in ("Progressing", "Promoting") else 0
        self.s.canary_weight = weight
        replicas = 0
        if self.s.phase == "Progressing":
            replicas = canary_size(self.base_replicas, self.spec.steps[self.s.step_index])
        elif self.s.phase == "Promoting":
            replicas = canary_size(self.base_replicas, max(weight, 1))
        return Decision(
            rollout=self.s,
            stable_template_spec=self.stable_template_spec,
            canary_replicas=replicas,
            canary_weight=weight,
            events=self.events,
            wake_at=self.wake_at if self.s.phase in ("Progressing", "Promoting") else None,
            needs_analysis=self.needs_analysis,
        )

    # ------------------------------------------------------------------ transitions
    def start(self, retry: bool = False) -> None:
        superseded = self.s.phase == "Progressing" and self.s.canary_revision not in (None, self.obs.revision)
        self.s.id += 1
        self.s.phase = "Progressing"
        self.s.canary_revision = self.obs.revision
        self.s.step_index = 0
        self.s.canary_weight = 0
        self.s.consecutive_failures = 0
        self.s.started_at = self.s.step_started_at = iso(self.now)
        self.s.next_analysis_at = None
        self.s.finished_at = None
        self.s.failed_revision = None
        self.s.last_analysis = None
        self.s.stable_baseline = None  # measured afresh for every rollout
        self.s.reason, self.s.message = "CanaryStarted", f"canary {self.obs.revision} starting at step 1"
        if superseded:
            self.event(
                "Superseded",
                f"revision {self.obs.revision} replaces the canary in flight; traffic is "
                "back on stable while the new canary starts",
            )
        verb = "Retrying" if retry else "RolloutStarted"
        self.event(
            verb,
            f"canary {self.obs.revision} against stable {self.s.stable_revision}, steps "
            f"{'/'.join(map(str, self.spec.steps))}%",
        )

    def finish(self, phase: Literal["RolledBack", "Failed"], reason: str, message: str) -> None:
        self.s.phase = phase
        self.s.canary_weight = 0
        self.s.failed_revision = self.s.canary_revision
        self.s.next_analysis_at = None
        self.s.finished_at = iso(self.now)
        self.s.reason, self.s.message = reason, message
        self.event(reason, f"{message}; traffic is back on stable {self.s.stable_revision}", "Warning")

    def promote_to_stable(self) -> None:
        self.s.phase = "Promoting"
        self.s.next_analysis_at = None
        self.s.step_started_at = iso(self.now)
        self.s.reason = "Promoting"
        self.s.message = f"stable Deployment rolling out {self.s.canary_revision} while the canary serves"
        self.event("Promoting", self.s.message)

    def advance_step(self, how: str) -> None:
        if self.s.step_index + 1 >= len(self.spec.steps):
            self.promote_to_stable()
            return
        self.s.step_index += 1
        self.s.step_started_at = iso(self.now)
        self.s.next_analysis_at = None
        self.s.consecutive_failures = 0
        self.s.reason = "StepAdvanced"
        self.s.message = f"{how}; scaling the canary for {self.spec.steps[self.s.step_index]}%"

    # ------------------------------------------------------------------ the machine
    def run(self) -> Decision:
        obs, s = self.obs, self.s
        s.paused = obs.paused
        verb = self.take_request()

        if s.stable_revision is None:  # first deploy: nothing to compare against
            s.stable_revision = obs.revision
            s.stable_spec = self.stable_template_spec = obs.spec
            s.phase, s.reason, s.message = "Idle", "Deployed", f"revision {obs.revision} deployed"
            self.event("Deployed", f"first revision {obs.revision}: no canary, nothing to compare against")
            return self.decision()

        if obs.revision == s.stable_revision:
            if s.phase in ("Progressing", "Promoting") and s.canary_revision != obs.revision:
                s.phase, s.canary_weight, s.next_analysis_at = "Idle", 0, None
                s.finished_at = iso(self.now)
                s.reason, s.message = (
                    "ReturnedToStable",
                    f"spec is back at stable {obs.revision}: canary dropped",
                )
                self.event("ReturnedToStable", s.message + " without analysis")
            elif s.phase in ("RolledBack", "Failed"):
                s.phase, s.failed_revision = "Idle", None
                s.reason, s.message = "Stable", f"spec is back at stable {obs.revision}"
            if s.phase == "Idle":
                s.stable_spec = self.stable_template_spec = obs.spec
            return self.decision()

        # the spec renders a revision that is not stable
        if s.phase in ("RolledBack", "Failed") and s.failed_revision == obs.revision:
            if verb == "retry":
                self.start(retry=True)
            else:
                return self.decision()  # holds until the spec changes or a person asks for a retry
        elif s.phase == "Promoting" and s.canary_revision == obs.revision:
            return self.promoting()
        elif s.canary_revision != obs.revision or s.phase not in ("Progressing", "Promoting"):
            self.start()

        if verb == "abort":
            self.finish("RolledBack", "Aborted", f"rollout of {s.canary_revision} aborted by request")
            return self.decision()
        if verb == "promote-full":
            s.canary_weight = max(s.canary_weight, self.spec.steps[s.step_index])
            self.event("PromotedByRequest", f"{s.canary_revision} promoted without further analysis")
            self.promote_to_stable()
            return self.promoting()
        if s.paused:
            s.reason, s.message = "Paused", f"paused at step {s.step_index + 1} ({s.canary_weight}%)"
            s.next_analysis_at = None
            s.step_started_at = iso(self.now)  # the deadline clock restarts on resume
            return self.decision()
        if verb == "promote":
            self.event(
                "StepPromotedByRequest",
                f"step {s.step_index + 1} ({self.spec.steps[s.step_index]}%) promoted by request, without analysis",
            )
            s.canary_weight = max(s.canary_weight, self.spec.steps[s.step_index])
            self.advance_step("promoted by request")
            if s.phase == "Promoting":
                return self.promoting()
        return self.progressing()

    def take_request(self) -> str | None:
        request = self.obs.request
        if not request or request == self.s.last_request:
            return None
        self.s.last_request = request
        verb = request.split("/", 1)[0].strip()
        if verb not in ("promote", "promote-full", "abort", "retry"):
            self.event(
                "UnknownRequest",
                f"asgi.dev/request {request!r}: use promote, promote-full, abort or retry, followed by /<any id>",
                "Warning",
            )
            return None
        return verb

    def progressing(self) -> Decision:
        s, obs = self.s, self.obs
        target = self.spec.steps[s.step_index]
        size = canary_size(self.base_replicas, target)
        ready = obs.canary is not None and obs.canary.serves(s.canary_revision or "", size)
        if not ready:
            s.reason = "WaitingForCanary"
            have = obs.canary.ready if obs.canary else 0
            s.message = f"step {s.step_index + 1}: waiting for {size} ready canary pods ({have} ready)"
            self.fail_if_late(f"the canary did not get {size} ready pods within {self.spec.progress_deadline}")
            return self.decision()
        if s.canary_weight < target:
            s.canary_weight = target
            s.canary_ready_at = iso(self.now)
            due = self.now + timedelta(seconds=seconds(self.spec.interval))
            s.next_analysis_at = iso(due)
            s.reason = "StepStarted"
            s.message = f"step {s.step_index + 1}/{len(self.spec.steps)}: {target}% of traffic on the canary"
            self.event("StepStarted", f"{s.message} ({size} pods); first analysis at {iso(due)}")
            self.wake(due)
            self.deadline_passed()
            return self.decision()
        due_at = parse_time(s.next_analysis_at) or self.now
        if self.now < due_at:
            self.wake(due_at)
            self.deadline_passed()
            return self.decision()
        if obs.analysis is None:
            self.needs_analysis = True
            return self.decision()
        return self.judge(obs.analysis)

    def judge(self, result: AnalysisResult) -> Decision:
        s = self.s
        s.last_analysis = result
        kept = result.stable_baseline
        if kept is not None and kept.source == "SameWindow":
            # stable's latest conclusive numbers: what relative checks compare with once it serves nothing
            s.stable_baseline = kept.model_copy(update={"source": "EarlierAnalysis"})
        elif kept is not None and kept.source == "BeforeRollout":
            s.stable_baseline = kept
        interval = timedelta(seconds=seconds(self.spec.interval))
        step = f"step {s.step_index + 1} ({s.canary_weight}%)"
        if result.verdict == "Pass":
            s.consecutive_failures = 0
            self.event("AnalysisPassed", f"{step}: {result.message}")
            self.advance_step(f"{step} passed")
            return self.promoting() if s.phase == "Promoting" else self.progressing()
        if result.verdict == "Fail":
            s.consecutive_failures += 1
            if s.consecutive_failures >= self.spec.failure_threshold:
                self.finish(
                    "RolledBack",
                    "SLOViolated",
                    f"{step}: {result.message} ({s.consecutive_failures} failed analyses in a row)",
                )
                return self.decision()
            self.event(
                "AnalysisFailed",
                f"{step}: {result.message} ({s.consecutive_failures} of {self.spec.failure_threshold} allowed)",
                "Warning",
            )
            s.reason, s.message = "AnalysisFailed", f"{step}: {result.message}"
        else:
            # NoData or Error: hold, never promote, never roll back on this alone
            s.reason = result.reason or ("NoData" if result.verdict == "NoData" else "PrometheusUnavailable")
            s.message = f"{step} holding: {result.message}"
            if self.fail_if_late(
                f"{step}: no conclusive analysis within {self.spec.progress_deadline} (last: {result.message})"
            ):
                return self.decision()
        due = self.now + interval
        s.next_analysis_at = iso(due)
        self.wake(due)
        return self.decision()

    def promoting(self) -> Decision:
        s, obs = self.s, self.obs
        self.stable_template_spec = obs.spec
        if obs.stable is not None and obs.stable.serves(s.canary_revision or "", obs.stable.replicas):
            s.stable_revision = s.canary_revision
            s.stable_spec = obs.spec
            s.phase, s.canary_weight = "Idle", 0
            s.finished_at = iso(self.now)
            s.reason, s.message = "Promoted", f"{s.stable_revision} is stable"
            elapsed = ""
            started = parse_time(s.started_at)
            if started is not None:
                elapsed = f" after {format_seconds(max(0, round((self.now - started).total_seconds())))}"
            self.event("Promoted", f"{s.stable_revision} promoted to stable{elapsed}; canary scaled to 0")
            return self.decision()
        s.reason = "Promoting"
        s.message = f"stable Deployment rolling out {s.canary_revision} while the canary serves"
        if self.fail_if_late(
            f"the stable Deployment did not roll out {s.canary_revision} within {self.spec.progress_deadline}"
        ):
            self.stable_template_spec = s.stable_spec or obs.spec  # back to the revision that was stable
        return self.decision()


def advance(spec: RolloutSpec, state: RolloutStatus, obs: Observation) -> Decision:
    """One step of the machine. Pure: the same inputs always give the same decision."""
    return _Run(spec, state, obs).run()


def rolling_update(state: RolloutStatus, obs: Observation) -> Decision:
    """The RollingUpdate strategy: every revision goes straight to the stable Deployment."""
    s = state.model_copy(deep=True)
    events: list[Event] = []
    if s.stable_revision != obs.revision:
        first = s.stable_revision is None
        events.append(
            Event(
                "Deployed" if first else "Updated",
                f"revision {obs.revision}"
                + ("" if first else f" replaces {s.stable_revision}")
                + " (rolling update, no canary)",
            )
        )
        s.stable_revision = obs.revision
        s.reason, s.message = "Deployed", f"revision {obs.revision} rolling out"
    s.stable_spec = obs.spec
    s.phase, s.canary_weight = "Idle", 0
    return Decision(rollout=s, stable_template_spec=obs.spec, canary_replicas=0, canary_weight=0, events=events)
