"""The rollout state machine: a pure function from (rollout spec, persisted position, observations) to the
next position, the canary's size and weight, the events to post, and when to look again.

The whole position lives in `.status.rollout` (see `RolloutStatus`), so an operator restart at any moment
resumes exactly: `advance` on the same inputs gives the same answer, acted on only once written to status.
Phases: Idle (stable serves everything), Progressing (a canary at some step), Promoting (the stable Deployment
takes the canary's pod template), RolledBack (analysis failed or a person aborted), Failed (a deadline passed);
RolledBack and Failed hold until the spec changes or a person asks for a retry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..api.durations import format_seconds, seconds
from ..api.models import AnalysisResult, RolloutSpec, RolloutStatus
from ..api.vocabulary import EventReason as R
from ..api.vocabulary import RequestVerb, Verdict
from ..api.vocabulary import RolloutPhase as P
from .predeploy import gate
from .state import Decision, Event, EventType, Observation, Workload, canary_size, iso, parse_time


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
        self.gated = False  # the revision's pre-deploy Job has not succeeded: none of its pods may run
        self.hold_workload = False
        self.retrying = False

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
        self.finish(P.FAILED, R.PROGRESS_DEADLINE_EXCEEDED, message)
        return True

    def decision(self) -> Decision:
        weight = self.s.canary_weight if self.s.phase in (P.PROGRESSING, P.PROMOTING) else 0
        self.s.canary_weight = weight
        replicas = 0
        if self.gated:
            pass
        elif self.s.phase == P.PROGRESSING:
            replicas = canary_size(self.base_replicas, self.spec.steps[self.s.step_index])
        elif self.s.phase == P.PROMOTING:
            replicas = canary_size(self.base_replicas, max(weight, 1))
        return Decision(
            rollout=self.s,
            stable_template_spec=self.stable_template_spec,
            canary_replicas=replicas,
            canary_weight=weight,
            events=self.events,
            wake_at=self.wake_at if self.s.phase in (P.PROGRESSING, P.PROMOTING) else None,
            needs_analysis=self.needs_analysis,
            hold_workload=self.hold_workload,
        )

    # ------------------------------------------------------------------ transitions
    def start(self, retry: bool = False) -> None:
        superseded = self.s.phase == P.PROGRESSING and self.s.canary_revision not in (None, self.obs.revision)
        had_traffic = self.s.canary_weight > 0
        self.retrying = retry
        self.s.id += 1
        self.s.phase = P.PROGRESSING
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
        self.s.reason, self.s.message = R.CANARY_STARTED, f"canary {self.obs.revision} starting at step 1"
        if superseded:
            back = "; traffic is back on stable while the new canary starts" if had_traffic else ""
            self.event(R.SUPERSEDED, f"revision {self.obs.revision} replaces the canary in flight{back}")
        verb = R.RETRYING if retry else R.ROLLOUT_STARTED
        self.event(
            verb,
            f"canary {self.obs.revision} against stable {self.s.stable_revision}, steps "
            f"{'/'.join(map(str, self.spec.steps))}%",
        )

    def finish(self, phase: P, reason: str, message: str) -> None:
        had_traffic = self.s.canary_weight > 0  # none: a failed pre-deploy Job, a canary never ready
        self.s.phase = phase
        self.s.canary_weight = 0
        self.s.failed_revision = self.s.canary_revision
        self.s.next_analysis_at = None
        self.s.finished_at = iso(self.now)
        self.s.reason, self.s.message = reason, message
        back = f"; traffic is back on stable {self.s.stable_revision}" if had_traffic and self.s.stable_revision else ""
        self.event(reason, f"{message}{back}", "Warning")

    def pre_deploy(self) -> bool:
        """Has the revision's pre-deploy Job succeeded (or is there none)? Else its pods wait (and the rollout
        fails when the Job failed)."""
        s = self.s
        g = gate(
            self.spec.pre_deploy,
            s.pre_deploy,
            owner=self.obs.name,
            revision=self.obs.revision,
            job=self.obs.pre_deploy,
            now=self.now,
            retry=self.retrying,
        )
        s.pre_deploy = g.state
        self.events.extend(g.events)
        if g.open:
            if g.opened_now:
                s.step_started_at = iso(self.now)  # the step's deadline counts from here, not from the Job's start
            return True
        self.gated = True
        if g.failure is not None:
            self.finish(P.FAILED, R.PRE_DEPLOY_FAILED, g.failure)
        elif g.message:
            s.reason, s.message = R.PRE_DEPLOY_RUNNING, f"{self.obs.revision}: {g.message}"
        return False

    def first_deploy(self, verb: RequestVerb | None) -> Decision:
        """Nothing to compare against: the revision becomes stable at once, after its pre-deploy Job."""
        s, obs = self.s, self.obs
        if self.spec.pre_deploy is not None:
            if s.phase == P.FAILED and (s.failed_revision != obs.revision or verb == RequestVerb.RETRY):
                s.phase, s.failed_revision, s.reason = P.IDLE, None, ""
                self.retrying = verb == RequestVerb.RETRY
            s.canary_revision = obs.revision  # the revision waiting (and failed_revision if it fails)
            if not self.pre_deploy():
                self.hold_workload = True
                return self.decision()
            s.canary_revision, s.failed_revision, s.finished_at = None, None, None
        s.stable_revision = obs.revision
        s.stable_spec = self.stable_template_spec = obs.spec
        s.phase, s.reason, s.message = P.IDLE, R.DEPLOYED, f"revision {obs.revision} deployed"
        self.event(R.DEPLOYED, f"first revision {obs.revision}: no canary, nothing to compare against")
        return self.decision()

    def promote_to_stable(self) -> None:
        self.s.phase = P.PROMOTING
        self.s.next_analysis_at = None
        self.s.step_started_at = iso(self.now)
        self.s.reason = R.PROMOTING
        self.s.message = f"stable Deployment rolling out {self.s.canary_revision} while the canary serves"
        self.event(R.PROMOTING, self.s.message)

    def advance_step(self, how: str) -> None:
        if self.s.step_index + 1 >= len(self.spec.steps):
            self.promote_to_stable()
            return
        self.s.step_index += 1
        self.s.step_started_at = iso(self.now)
        self.s.next_analysis_at = None
        self.s.consecutive_failures = 0
        self.s.reason = R.STEP_ADVANCED
        self.s.message = f"{how}; scaling the canary for {self.spec.steps[self.s.step_index]}%"

    # ------------------------------------------------------------------ the machine
    def run(self) -> Decision:
        obs, s = self.obs, self.s
        s.paused = obs.paused
        verb = self.take_request()

        if s.stable_revision is None:
            return self.first_deploy(verb)

        if obs.revision == s.stable_revision:
            if s.phase in (P.PROGRESSING, P.PROMOTING) and s.canary_revision != obs.revision:
                s.phase, s.canary_weight, s.next_analysis_at = P.IDLE, 0, None
                s.finished_at = iso(self.now)
                s.reason, s.message = (
                    R.RETURNED_TO_STABLE,
                    f"spec is back at stable {obs.revision}: canary dropped",
                )
                self.event(R.RETURNED_TO_STABLE, s.message + " without analysis")
            elif s.phase in (P.ROLLED_BACK, P.FAILED):
                s.phase, s.failed_revision = P.IDLE, None
                s.reason, s.message = R.STABLE, f"spec is back at stable {obs.revision}"
            if s.phase == P.IDLE:
                s.stable_spec = self.stable_template_spec = obs.spec
            return self.decision()

        # the spec renders a revision that is not stable
        if s.phase in (P.ROLLED_BACK, P.FAILED) and s.failed_revision == obs.revision:
            if verb == RequestVerb.RETRY:
                self.start(retry=True)
            else:
                return self.decision()  # holds until the spec changes or a person asks for a retry
        elif s.phase == P.PROMOTING and s.canary_revision == obs.revision:
            return self.promoting()
        elif s.canary_revision != obs.revision or s.phase not in (P.PROGRESSING, P.PROMOTING):
            self.start()

        if verb == RequestVerb.ABORT:
            self.finish(P.ROLLED_BACK, R.ABORTED, f"rollout of {s.canary_revision} aborted by request")
            return self.decision()
        if verb == RequestVerb.PROMOTE_FULL:
            s.canary_weight = max(s.canary_weight, self.spec.steps[s.step_index])
            self.event(R.PROMOTED_BY_REQUEST, f"{s.canary_revision} promoted without further analysis")
            self.promote_to_stable()
            return self.promoting()
        if s.paused:
            if verb == RequestVerb.PROMOTE:  # taken (handled once), so told rather than silently dropped
                self.event(
                    R.REQUEST_IGNORED,
                    f"asgi.dev/request {self.obs.request!r} ignored: the rollout is paused at step "
                    f"{s.step_index + 1}; resume it (asgi.dev/paused) and ask again, or promote-full",
                    "Warning",
                )
            s.reason, s.message = R.PAUSED, f"paused at step {s.step_index + 1} ({s.canary_weight}%)"
            s.next_analysis_at = None
            s.step_started_at = iso(self.now)  # the deadline clock restarts on resume
            return self.decision()
        if verb == RequestVerb.PROMOTE:
            self.event(
                R.STEP_PROMOTED_BY_REQUEST,
                f"step {s.step_index + 1} ({self.spec.steps[s.step_index]}%) promoted by request, without analysis",
            )
            s.canary_weight = max(s.canary_weight, self.spec.steps[s.step_index])
            self.advance_step("promoted by request")
            if s.phase == P.PROMOTING:
                return self.promoting()
        return self.progressing()

    def take_request(self) -> RequestVerb | None:
        request = self.obs.request
        if not request or request == self.s.last_request:
            return None
        self.s.last_request = request
        word = request.split("/", 1)[0].strip()
        if word not in set(RequestVerb):
            *most, last = (v.value for v in RequestVerb)
            verbs = f"{', '.join(most)} or {last}"
            self.event(
                R.UNKNOWN_REQUEST,
                f"asgi.dev/request {request!r}: use {verbs}, followed by /<any id>",
                "Warning",
            )
            return None
        return RequestVerb(word)

    def progressing(self) -> Decision:
        s, obs = self.s, self.obs
        if not self.pre_deploy():
            return self.decision()
        target = self.spec.steps[s.step_index]
        size = canary_size(self.base_replicas, target)
        ready = obs.canary is not None and obs.canary.serves(s.canary_revision or "", size)
        if not ready:
            s.reason = R.WAITING_FOR_CANARY
            have = obs.canary.ready if obs.canary else 0
            s.message = f"step {s.step_index + 1}: waiting for {size} ready canary pods ({have} ready)"
            self.fail_if_late(f"the canary did not get {size} ready pods within {self.spec.progress_deadline}")
            return self.decision()
        if s.canary_weight < target:
            s.canary_weight = target
            s.canary_ready_at = iso(self.now)
            due = self.now + timedelta(seconds=seconds(self.spec.interval))
            s.next_analysis_at = iso(due)
            s.reason = R.STEP_STARTED
            s.message = f"step {s.step_index + 1}/{len(self.spec.steps)}: {target}% of traffic on the canary"
            self.event(R.STEP_STARTED, f"{s.message} ({size} pods); first analysis at {iso(due)}")
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
        if result.verdict == Verdict.PASS:
            s.consecutive_failures = 0
            self.event(R.ANALYSIS_PASSED, f"{step}: {result.message}")
            self.advance_step(f"{step} passed")
            return self.promoting() if s.phase == P.PROMOTING else self.progressing()
        if result.verdict == Verdict.FAIL:
            s.consecutive_failures += 1
            if s.consecutive_failures >= self.spec.failure_threshold:
                self.finish(
                    P.ROLLED_BACK,
                    R.SLO_VIOLATED,
                    f"{step}: {result.message} ({s.consecutive_failures} failed analyses in a row)",
                )
                return self.decision()
            self.event(
                R.ANALYSIS_FAILED,
                f"{step}: {result.message} ({s.consecutive_failures} of {self.spec.failure_threshold} allowed)",
                "Warning",
            )
            s.reason, s.message = R.ANALYSIS_FAILED, f"{step}: {result.message}"
        else:
            # NoData or Error: hold, never promote, never roll back on this alone
            reason = result.reason or (R.NO_DATA if result.verdict == Verdict.NO_DATA else R.PROMETHEUS_UNAVAILABLE)
            message = f"{step} holding: {result.message}"
            if reason == R.PROMETHEUS_AUTH_FAILED and (s.reason, s.message) != (reason, message):
                # a person has to fix a Secret: told once per new problem, not at every analysis
                self.event(R.PROMETHEUS_AUTH_FAILED, message, "Warning")
            s.reason, s.message = reason, message
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
            s.phase, s.canary_weight = P.IDLE, 0
            s.finished_at = iso(self.now)
            s.reason, s.message = R.PROMOTED, f"{s.stable_revision} is stable"
            elapsed = ""
            started = parse_time(s.started_at)
            if started is not None:
                elapsed = f" after {format_seconds(max(0, round((self.now - started).total_seconds())))}"
            self.event(R.PROMOTED, f"{s.stable_revision} promoted to stable{elapsed}; canary scaled to 0")
            return self.decision()
        s.reason = R.PROMOTING
        s.message = f"stable Deployment rolling out {s.canary_revision} while the canary serves"
        if self.fail_if_late(
            f"the stable Deployment did not roll out {s.canary_revision} within {self.spec.progress_deadline}"
        ):
            self.stable_template_spec = s.stable_spec or obs.spec  # back to the revision that was stable
        return self.decision()


def advance(spec: RolloutSpec, state: RolloutStatus, obs: Observation) -> Decision:
    """One step of the machine. Pure: the same inputs always give the same decision."""
    return _Run(spec, state, obs).run()


__all__ = [
    "Decision",
    "Event",
    "Observation",
    "Workload",
    "advance",
    "canary_size",
    "iso",
    "parse_time",
]
