"""An AsgiService in every phase, with the status the operator itself would write: the real rollout machine
(`advance`) and the real status code (`reconcile.status.compute`) are driven through a release, a route the gateway
does not accept, a pause, a promotion, a rollback, a failure and two kinds of problem, and each step is recorded as a
whole object.

Nothing here types a status by hand, so the tests that read these objects (kstatus, the Argo CD Lua) break as
soon as the status contract changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from asgi_operator.api import keys
from asgi_operator.api.models import AnalysisResult, AsgiServiceStatus, RolloutSpec, RolloutStatus
from asgi_operator.api.vocabulary import EventReason, Verdict
from asgi_operator.reconcile.status import Hold, Problem, compute
from asgi_operator.rollout.machine import Decision, Observation, Workload, advance
from asgi_operator.rollout.state import iso

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
NAME, NAMESPACE = "shop", "default"
RULES = RolloutSpec.model_validate(
    {"steps": [10, 50, 100], "interval": "30s", "failureThreshold": 2, "progressDeadline": "5m"}
)
RULES_DEADLINE_SECONDS = 5 * 60
# what controller.gateway_status says of a route the gateway refused
ROUTE_NOT_ACCEPTED = Hold(
    EventReason.ROUTE_NOT_ACCEPTED,
    "held until the gateway accepts the route: the gateway did not accept HTTPRoute shop (Accepted False, "
    "NotAllowedByListeners: no listener of Gateway public allows routes from this namespace)",
)
SPECS: dict[str, dict[str, Any]] = {v: {"image": f"shop:{v}", "app": "main:app"} for v in ("v1", "v2", "v3", "v4")}


def _workload(revision: str, replicas: int, ready: int | None = None) -> Workload:
    ready = replicas if ready is None else ready
    return Workload(
        replicas=replicas,
        ready=ready,
        available=ready,
        updated=replicas,
        total=replicas,
        current=True,
        revision=revision,
    )


def _analysis(verdict: Verdict, at: datetime, step: int, weight: int) -> AnalysisResult:
    failed = verdict == Verdict.FAIL
    return AnalysisResult(
        verdict=verdict,
        at=iso(at),
        step=step,
        weight=weight,
        requests=300,
        error_rate=0.05 if failed else 0.0,
        latency_p99_seconds=0.05,
        max_error_rate=0.01,
        max_latency_p99_seconds=0.5,
        min_requests=20,
        message="error rate 5.00% > 1.00%" if failed else "within the SLOs",
    )


@dataclass(frozen=True)
class Moment:
    """What the machine was given when an object was recorded: enough to run it again on that object."""

    rollout: RolloutStatus
    revision: str
    stable: Workload | None
    canary: Workload | None
    now: datetime

    def observe(self, *, paused: bool, request: str | None) -> Observation:
        return Observation(
            now=self.now,
            revision=self.revision,
            spec=SPECS[self.revision],
            stable=self.stable,
            canary=self.canary,
            default_replicas=4,
            paused=paused,
            request=request,
            name=NAME,
        )


@dataclass
class Recorder:
    """Plays the controller: observations in, the machine's decision, the computed status, a recorded object."""

    now: datetime = T0
    generation: int = 1
    status: AsgiServiceStatus = field(default_factory=AsgiServiceStatus)
    stable: Workload | None = None
    canary: Workload | None = None
    paused: bool = False
    request: str | None = None
    revision: str = "v1"
    recorded: dict[str, dict[str, Any]] = field(default_factory=dict)
    moments: dict[str, Moment] = field(default_factory=dict)

    def step(
        self,
        revision: str,
        analysis: AnalysisResult | None = None,
        problem: Problem | None = None,
        held: Hold | None = None,
    ) -> Decision:
        self.revision = revision
        obs = Observation(
            now=self.now,
            revision=revision,
            spec=SPECS[revision],
            stable=self.stable,
            canary=self.canary,
            default_replicas=4,
            paused=self.paused,
            request=self.request,
            analysis=analysis,
            name=NAME,
        )
        decision = advance(RULES, self.status.rollout, obs)
        self.status = self.compute(decision.rollout, revision, problem, held)
        return decision

    def compute(
        self, rollout: RolloutStatus, revision: str, problem: Problem | None, held: Hold | None = None
    ) -> AsgiServiceStatus:
        return compute(
            previous=self.status,
            generation=self.generation,
            revision=revision,
            rollout=rollout,
            stable=self.stable,
            canary=self.canary,
            desired_replicas=4,
            selector=f"{keys.LABEL_NAME}={NAME}",
            image=str((rollout.stable_spec or SPECS[revision])["image"]),
            problem=problem,
            now=iso(self.now),
            held=held,
        )

    def later(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def record(self, name: str, *, generation: int | None = None, with_status: bool = True) -> dict[str, Any]:
        annotations = {}
        if self.paused:
            annotations[keys.ANNOTATION_PAUSED] = "true"
        if self.request:
            annotations[keys.ANNOTATION_REQUEST] = self.request
        obj: dict[str, Any] = {
            "apiVersion": keys.API_VERSION,
            "kind": keys.KIND,
            "metadata": {
                "name": NAME,
                "namespace": NAMESPACE,
                "uid": "0b5c3c8e-8a3c-4c55-9d2a-6f1f7d1a0c11",
                "generation": generation or self.generation,
                "resourceVersion": str(1000 + len(self.recorded)),
                "annotations": annotations,
            },
            "spec": {"image": "shop:v1", "app": "main:app"},
        }
        if with_status:
            obj["status"] = self.status.model_dump(by_alias=True, exclude_none=True, mode="json")
        self.recorded[name] = obj
        self.moments[name] = Moment(self.status.rollout, self.revision, self.stable, self.canary, self.now)
        return obj


def record_every_phase() -> dict[str, dict[str, Any]]:
    """name -> the AsgiService as the API server would return it at that moment."""
    return play().recorded


def play() -> Recorder:
    """The whole story; `.recorded` has the objects, `.moments` what the machine was given for each."""
    r = Recorder()
    r.record("pending", with_status=False)  # created, the operator has not written status yet

    r.step("v1")  # first deploy: the stable Deployment's pods are starting
    r.stable = _workload("v1", 4, ready=1)
    r.step("v1")
    r.record("deploying")

    r.stable = _workload("v1", 4)
    r.step("v1")
    r.record("ready")
    r.record("spec-not-observed-yet", generation=r.generation + 1)
    # the gateway does not accept the route (yet): held, not an error
    r.step("v1", held=ROUTE_NOT_ACCEPTED)
    r.record("route-not-accepted")

    # a new revision: a canary
    r.generation = 2
    d = r.step("v2")
    r.record("canary-starting")
    r.canary = _workload("v2", d.canary_replicas)
    r.step("v2")
    r.record("canary")
    r.step("v2", held=ROUTE_NOT_ACCEPTED)
    r.record("canary-route-not-accepted")

    r.paused = True
    r.later(10)
    r.step("v2")
    r.record("paused")
    r.paused = False
    r.later(10)
    r.step("v2")

    # every step passes: promoting, then the stable Deployment takes v2
    for _ in range(3):
        r.later(30)
        d = r.step("v2", _analysis(Verdict.PASS, r.now, d.rollout.step_index + 1, d.canary_weight))
        r.canary = _workload("v2", d.canary_replicas)
        d = r.step("v2")
    assert d.rollout.phase == "Promoting", d.rollout
    r.record("promoting")
    r.stable = _workload("v2", 4)
    d = r.step("v2")
    r.canary = None
    d = r.step("v2")
    assert r.status.phase == "Ready", r.status
    r.record("promoted")

    # problems: one retried with backoff (a missing permission), one that needs a person (an invalid spec)
    r.step("v2", problem=Problem(EventReason.FORBIDDEN, "poddisruptionbudgets is forbidden", stalled=False))
    r.record("error-retrying")
    r.step("v2", problem=Problem(EventReason.INVALID_SPEC, "steps must be strictly increasing", stalled=True))
    r.record("error-stalled")

    # v3 breaks its SLOs: two failed analyses in a row roll it back
    r.generation = 3
    d = r.step("v3")
    r.canary = _workload("v3", d.canary_replicas)
    d = r.step("v3")
    for _ in range(2):
        r.later(30)
        d = r.step("v3", _analysis(Verdict.FAIL, r.now, 1, d.canary_weight))
    r.canary = None
    r.step("v3")
    r.record("rolled-back")

    # v4's canary never gets ready pods: it fails at the progress deadline
    r.generation = 4
    d = r.step("v4")
    r.canary = _workload("v4", d.canary_replicas, ready=0)
    r.later(RULES_DEADLINE_SECONDS)
    r.step("v4")
    r.canary = None
    r.step("v4")
    r.record("failed")

    return r
