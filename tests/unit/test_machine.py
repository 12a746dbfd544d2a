"""The rollout state machine as a pure function over recorded observations: every transition."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from asgi_operator.api.models import AnalysisResult, RolloutSpec, RolloutStatus
from asgi_operator.api.vocabulary import EventReason, RolloutPhase
from asgi_operator.rollout.machine import Decision, Observation, Workload, advance, canary_size
from asgi_operator.rollout.state import JobRun
from asgi_operator.rollout.strategy import rolling_update

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
SPEC_V1: dict[str, Any] = {"image": "app:1", "app": "main:app"}
SPEC_V2: dict[str, Any] = {"image": "app:2", "app": "main:app"}
SPEC_V3: dict[str, Any] = {"image": "app:3", "app": "main:app"}
RULES = RolloutSpec.model_validate(
    {"steps": [10, 50, 100], "interval": "30s", "failureThreshold": 2, "progressDeadline": "5m"}
)


def serving(revision: str, replicas: int) -> Workload:
    return Workload(
        replicas=replicas,
        ready=replicas,
        available=replicas,
        updated=replicas,
        total=replicas,
        current=True,
        revision=revision,
    )


def starting(revision: str, replicas: int) -> Workload:
    return Workload(
        replicas=replicas, ready=0, available=0, updated=replicas, total=replicas, current=True, revision=revision
    )


def result(verdict: str, at: datetime = T0) -> AnalysisResult:
    return AnalysisResult(
        verdict=verdict,
        at=at.isoformat(),
        step=1,
        weight=10,
        requests=100,
        error_rate=0.0,
        latency_p99_seconds=0.05,
        max_error_rate=0.005,
        max_latency_p99_seconds=0.2,
        min_requests=20,
        message=f"{verdict.lower()} numbers",
    )  # type: ignore[arg-type]


class World:
    """Feeds the machine the way the controller does: persisted status in, decision out, repeat."""

    def __init__(self, rules: RolloutSpec = RULES, stable_replicas: int = 4) -> None:
        self.rules = rules
        self.status = RolloutStatus()
        self.now = T0
        self.stable_replicas = stable_replicas
        self.stable: Workload | None = None
        self.canary: Workload | None = None
        self.events: list[tuple[str, str]] = []
        self.paused = False
        self.request: str | None = None
        self.job: JobRun | None = None  # the pre-deploy Job the controller observes

    def observe(self, revision: str, spec: dict[str, Any], analysis: AnalysisResult | None = None) -> Observation:
        return Observation(
            now=self.now,
            revision=revision,
            spec=spec,
            stable=self.stable,
            canary=self.canary,
            default_replicas=self.stable_replicas,
            paused=self.paused,
            request=self.request,
            analysis=analysis,
            name="shop",
            pre_deploy=self.job,
        )

    def step(self, revision: str, spec: dict[str, Any], analysis: AnalysisResult | None = None) -> Decision:
        decision = advance(self.rules, self.status, self.observe(revision, spec, analysis))
        again = advance(self.rules, self.status, self.observe(revision, spec, analysis))
        assert again.rollout == decision.rollout, "the machine must be deterministic"
        # every word it writes is in the vocabulary (status stores reasons as free strings: this keeps them honest)
        assert decision.rollout.phase in set(RolloutPhase)
        assert all(e.reason in set(EventReason) for e in decision.events), decision.events
        assert decision.rollout.reason in {"", *EventReason}, decision.rollout.reason
        self.status = decision.rollout
        self.events += [(e.reason, e.message) for e in decision.events]
        return decision

    def reasons(self) -> list[str]:
        return [r for r, _ in self.events]

    def later(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def world() -> World:
    w = World()
    d = w.step("v1", SPEC_V1)
    w.stable = serving("v1", 4)
    assert d.rollout.phase == "Idle"
    return w


def start_canary(w: World) -> Decision:
    d = w.step("v2", SPEC_V2)
    w.canary = serving("v2", d.canary_replicas)
    return w.step("v2", SPEC_V2)


def test_first_deploy_goes_straight_to_stable() -> None:
    w = World()
    d = w.step("v1", SPEC_V1)
    assert d.rollout.phase == "Idle"
    assert d.rollout.stable_revision == "v1"
    assert d.rollout.stable_spec == SPEC_V1
    assert d.canary_weight == 0
    assert d.canary_replicas == 0
    assert d.rollout.id == 0  # no canary: nothing to compare against
    assert w.reasons() == ["Deployed"]


def test_unchanged_spec_is_a_no_op(world: World) -> None:
    before = world.status
    d = world.step("v1", SPEC_V1)
    assert d.rollout == before
    assert d.events == []
    assert d.wake_at is None


def test_new_revision_starts_a_canary_sized_from_the_stable(world: World) -> None:
    d = world.step("v2", SPEC_V2)
    assert d.rollout.phase == "Progressing"
    assert d.rollout.canary_revision == "v2"
    assert d.rollout.id == 1
    assert d.canary_replicas == 1  # ceil(4 * 10%)
    assert d.canary_weight == 0  # no traffic before the canary is ready
    assert d.stable_template_spec == SPEC_V1  # the stable keeps running v1
    assert world.reasons()[-1] == "RolloutStarted"


def test_canary_gets_traffic_only_when_ready(world: World) -> None:
    world.step("v2", SPEC_V2)
    world.canary = starting("v2", 1)
    d = world.step("v2", SPEC_V2)
    assert d.canary_weight == 0
    assert d.rollout.reason == "WaitingForCanary"
    assert d.wake_at == T0 + timedelta(minutes=5)  # the progress deadline
    world.canary = serving("v2", 1)
    d = world.step("v2", SPEC_V2)
    assert d.canary_weight == 10
    assert d.rollout.next_analysis_at == "2026-11-24T12:00:30Z"
    assert d.wake_at == T0 + timedelta(seconds=30)
    assert world.reasons()[-1] == "StepStarted"


def test_canary_never_ready_fails_at_the_deadline(world: World) -> None:
    world.step("v2", SPEC_V2)
    world.canary = starting("v2", 1)
    world.later(299)
    assert world.step("v2", SPEC_V2).rollout.phase == "Progressing"
    world.later(1)
    d = world.step("v2", SPEC_V2)
    assert d.rollout.phase == "Failed"
    assert d.rollout.reason == "ProgressDeadlineExceeded"
    assert d.canary_weight == 0
    assert d.canary_replicas == 0


def test_analysis_is_asked_for_only_when_due(world: World) -> None:
    start_canary(world)
    world.later(29)
    assert not world.step("v2", SPEC_V2).needs_analysis
    world.later(1)
    d = world.step("v2", SPEC_V2)
    assert d.needs_analysis
    assert d.rollout == world.status  # asking changes nothing


def test_passing_steps_promote_to_stable(world: World) -> None:
    start_canary(world)
    weights = []
    for _ in range(3):
        world.later(30)
        d = world.step("v2", SPEC_V2, result("Pass"))
        world.canary = serving("v2", d.canary_replicas)
        d = world.step("v2", SPEC_V2)
        weights.append(d.canary_weight)
    assert weights[:2] == [50, 100]
    assert d.rollout.phase == "Promoting"
    assert d.stable_template_spec == SPEC_V2  # the stable Deployment takes the canary's template
    assert d.canary_weight == 100  # the canary serves while the stable rolls
    assert d.canary_replicas == 4
    world.stable = starting("v2", 4)
    assert world.step("v2", SPEC_V2).rollout.phase == "Promoting"
    world.stable = serving("v2", 4)
    d = world.step("v2", SPEC_V2)
    assert d.rollout.phase == "Idle"
    assert d.rollout.stable_revision == "v2"
    assert d.rollout.stable_spec == SPEC_V2
    assert d.canary_weight == 0
    assert d.canary_replicas == 0
    assert world.reasons()[-2:] == ["Promoting", "Promoted"]
    assert world.reasons().count("AnalysisPassed") == 3


def test_weight_rises_only_after_the_canary_is_resized(world: World) -> None:
    start_canary(world)
    world.later(30)
    d = world.step("v2", SPEC_V2, result("Pass"))
    assert d.canary_replicas == 2  # ceil(4 * 50%)
    assert d.canary_weight == 10  # still 10 until 2 pods are ready


def test_failures_below_the_threshold_hold_then_roll_back(world: World) -> None:
    start_canary(world)
    world.later(30)
    d = world.step("v2", SPEC_V2, result("Fail"))
    assert d.rollout.phase == "Progressing"
    assert d.rollout.consecutive_failures == 1
    assert d.canary_weight == 10
    assert world.reasons()[-1] == "AnalysisFailed"
    world.later(30)
    d = world.step("v2", SPEC_V2, result("Fail"))
    assert d.rollout.phase == "RolledBack"
    assert d.rollout.reason == "SLOViolated"
    assert d.rollout.failed_revision == "v2"
    assert d.canary_weight == 0
    assert d.canary_replicas == 0
    assert d.stable_template_spec == SPEC_V1
    assert d.rollout.last_analysis is not None and d.rollout.last_analysis.verdict == "Fail"


def test_a_failure_says_traffic_went_back_to_stable_only_when_the_canary_had_some(world: World) -> None:
    start_canary(world)
    for _ in range(2):
        world.later(30)
        world.step("v2", SPEC_V2, result("Fail"))
    assert world.events[-1][1].endswith("; traffic is back on stable v1"), world.events[-1]
    # a canary that never got its ready pods took no traffic: its deadline says only that
    world.step("v3", SPEC_V3)
    world.later(300)
    d = world.step("v3", SPEC_V3)
    assert (d.rollout.reason, world.events[-1][0]) == ("ProgressDeadlineExceeded", "ProgressDeadlineExceeded")
    assert "traffic" not in world.events[-1][1], world.events[-1]


def test_a_pass_resets_the_failure_count(world: World) -> None:
    start_canary(world)
    world.later(30)
    world.step("v2", SPEC_V2, result("Fail"))
    world.later(30)
    d = world.step("v2", SPEC_V2, result("Pass"))
    assert d.rollout.consecutive_failures == 0
    assert d.rollout.step_index == 1


@pytest.mark.parametrize("verdict", ["NoData", "Error"])
def test_no_data_and_errors_hold_and_never_promote_or_roll_back(world: World, verdict: str) -> None:
    start_canary(world)
    for _ in range(9):  # 4.5 minutes of inconclusive analyses
        world.later(30)
        d = world.step("v2", SPEC_V2, result(verdict))
        assert d.rollout.phase == "Progressing"
        assert d.rollout.step_index == 0
        assert d.rollout.consecutive_failures == 0
    assert d.rollout.reason == ("NoData" if verdict == "NoData" else "PrometheusUnavailable")
    world.later(30)
    d = world.step("v2", SPEC_V2, result(verdict))
    assert d.rollout.phase == "Failed"
    assert d.rollout.reason == "ProgressDeadlineExceeded"
    assert "no conclusive analysis within 5m" in d.rollout.message


def test_going_back_to_stable_mid_canary_skips_analysis(world: World) -> None:
    start_canary(world)
    d = world.step("v1", SPEC_V1)
    assert d.rollout.phase == "Idle"
    assert d.canary_weight == 0
    assert d.canary_replicas == 0
    assert world.reasons()[-1] == "ReturnedToStable"


def test_new_revision_mid_canary_supersedes_it(world: World) -> None:
    start_canary(world)
    d = world.step("v3", SPEC_V3)
    assert d.rollout.canary_revision == "v3"
    assert d.rollout.id == 2
    assert d.rollout.step_index == 0
    assert d.canary_weight == 0  # traffic back to stable first
    assert world.reasons()[-2:] == ["Superseded", "RolloutStarted"]
    assert world.events[-2][1].endswith("; traffic is back on stable while the new canary starts")
    # a canary superseded before it took any traffic: nothing went back
    world.step("v2", SPEC_V2)
    superseded = [m for r, m in world.events if r == "Superseded"]
    assert superseded[-1] == "revision v2 replaces the canary in flight", superseded


def test_rolled_back_revision_holds_until_retry(world: World) -> None:
    start_canary(world)
    for _ in range(2):
        world.later(30)
        world.step("v2", SPEC_V2, result("Fail"))
    world.later(600)
    d = world.step("v2", SPEC_V2)
    assert d.rollout.phase == "RolledBack"
    assert d.events == []
    world.request = "retry/1"
    d = world.step("v2", SPEC_V2)
    assert d.rollout.phase == "Progressing"
    assert d.rollout.id == 2
    assert d.rollout.last_request == "retry/1"
    assert "Retrying" in world.reasons()
    # the same request is not handled twice
    world.later(1)
    assert world.step("v2", SPEC_V2).rollout.id == 2


def test_a_new_spec_after_a_rollback_starts_a_new_canary(world: World) -> None:
    start_canary(world)
    for _ in range(2):
        world.later(30)
        world.step("v2", SPEC_V2, result("Fail"))
    d = world.step("v3", SPEC_V3)
    assert (d.rollout.phase, d.rollout.canary_revision, d.rollout.id) == ("Progressing", "v3", 2)


def test_abort_rolls_back_at_once(world: World) -> None:
    start_canary(world)
    world.request = "abort/x"
    d = world.step("v2", SPEC_V2)
    assert d.rollout.phase == "RolledBack"
    assert d.rollout.reason == "Aborted"
    assert d.canary_weight == 0


def test_pause_holds_without_analysis_and_resume_restarts_the_clock(world: World) -> None:
    start_canary(world)
    world.paused = True
    world.later(3600)  # far beyond the deadline: a paused rollout does not fail
    d = world.step("v2", SPEC_V2)
    assert d.rollout.paused
    assert d.rollout.phase == "Progressing"
    assert not d.needs_analysis
    assert d.canary_weight == 10
    world.paused = False
    d = world.step("v2", SPEC_V2)
    assert d.rollout.phase == "Progressing"
    assert not d.rollout.paused


def test_a_promote_while_paused_is_told_not_silently_dropped(world: World) -> None:
    start_canary(world)
    world.paused = True
    world.request = "promote/1"
    d = world.step("v2", SPEC_V2)
    assert (d.rollout.step_index, d.canary_weight) == (0, 10)  # nothing moves while paused
    assert world.events[-1][0] == "RequestIgnored"
    assert "paused at step 1" in world.events[-1][1]
    world.later(1)
    world.step("v2", SPEC_V2)
    assert [r for r in world.reasons() if r == "RequestIgnored"] == ["RequestIgnored"]  # told once


def test_promote_skips_one_step_and_promote_full_goes_to_stable(world: World) -> None:
    start_canary(world)
    world.request = "promote/1"
    d = world.step("v2", SPEC_V2)
    assert d.rollout.step_index == 1
    assert world.reasons()[-1] == "StepPromotedByRequest"
    world.request = "promote-full/2"
    d = world.step("v2", SPEC_V2)
    assert d.rollout.phase == "Promoting"
    assert d.stable_template_spec == SPEC_V2
    assert "PromotedByRequest" in world.reasons()


def test_unknown_request_is_reported_not_ignored(world: World) -> None:
    start_canary(world)
    world.request = "yolo/1"
    d = world.step("v2", SPEC_V2)
    assert d.rollout.phase == "Progressing"
    assert world.events[-1][0] == "UnknownRequest"
    assert "promote, promote-full, abort or retry" in world.events[-1][1]


def test_canary_follows_the_stable_current_size() -> None:
    assert [canary_size(10, w) for w in (10, 50, 100)] == [1, 5, 10]
    assert [canary_size(3, w) for w in (10, 50, 100)] == [1, 2, 3]
    assert canary_size(3, 0) == 0
    w = World()
    w.step("v1", SPEC_V1)
    w.stable = serving("v1", 4)
    start_canary(w)
    w.stable = serving("v1", 20)  # the HPA scaled the stable up during the canary
    d = w.step("v2", SPEC_V2)
    assert d.canary_replicas == 2  # 10 % of the CURRENT 20: the canary grows with it
    w.canary = serving("v2", 2)
    w.later(30)
    d = w.step("v2", SPEC_V2, result("Pass"))
    assert d.canary_replicas == 10  # 50 % of 20


def test_promotion_that_does_not_roll_out_fails_and_restores_stable(world: World) -> None:
    start_canary(world)
    world.request = "promote-full/1"
    world.step("v2", SPEC_V2)
    world.stable = starting("v2", 4)
    world.later(301)
    d = world.step("v2", SPEC_V2)
    assert d.rollout.phase == "Failed"
    assert d.stable_template_spec == SPEC_V1


def test_restart_in_the_middle_resumes_from_status(world: World) -> None:
    """The decision depends only on (spec, persisted status, observations): a fresh machine given the
    persisted status continues exactly where the old one was."""
    start_canary(world)
    world.later(30)
    world.step("v2", SPEC_V2, result("Pass"))
    persisted = RolloutStatus.model_validate(world.status.model_dump(by_alias=True, mode="json"))
    fresh = World()
    fresh.status, fresh.now, fresh.stable, fresh.canary = persisted, world.now, world.stable, world.canary
    assert fresh.step("v2", SPEC_V2).rollout == world.step("v2", SPEC_V2).rollout


def test_rolling_update_strategy_skips_the_canary() -> None:
    status = RolloutStatus(stable_revision="v1", stable_spec=SPEC_V1)
    obs = Observation(now=T0, revision="v2", spec=SPEC_V2, stable=serving("v1", 2), canary=None, default_replicas=2)
    d = rolling_update(RULES, status, obs)
    assert d.rollout.stable_revision == "v2"
    assert d.stable_template_spec == SPEC_V2
    assert d.canary_replicas == 0
    assert [e.reason for e in d.events] == ["Updated"]
    assert rolling_update(RULES, d.rollout, replace(obs, now=T0)).events == []


def with_stable(verdict: str, source: str) -> AnalysisResult:
    from asgi_operator.api.models import StableBaseline

    baseline = StableBaseline(
        revision="v1", source=source, at="t", window="8s", requests=500, error_rate=0.0, latency_p99_seconds=0.05
    )  # type: ignore[arg-type]
    return result(verdict).model_copy(update={"stable_baseline": baseline})


def test_stable_baseline_is_kept_in_status_for_later_steps_and_reset_by_a_new_rollout(world: World) -> None:
    start_canary(world)
    world.later(30)
    d = world.step("v2", SPEC_V2, with_stable("Pass", "SameWindow"))
    kept = d.rollout.stable_baseline
    assert kept is not None and (kept.source, kept.requests) == ("EarlierAnalysis", 500)
    # it survives a restart (it is part of the persisted position) ...
    persisted = RolloutStatus.model_validate(world.status.model_dump(by_alias=True, mode="json"))
    assert persisted.stable_baseline == kept
    # ... a comparison with the kept baseline does not overwrite it with itself
    world.later(30)
    d = world.step("v2", SPEC_V2, with_stable("NoData", "EarlierAnalysis"))
    assert d.rollout.stable_baseline == kept
    # a new rollout measures afresh
    world.step("v3", SPEC_V3)
    assert world.status.stable_baseline is None


def test_the_hold_reason_says_which_kind_of_no_answer(world: World) -> None:
    start_canary(world)
    world.later(30)
    rejected = result("Error").model_copy(update={"reason": "QueryRejected", "message": "bad_data: parse error"})
    d = world.step("v2", SPEC_V2, rejected)
    assert (d.rollout.phase, d.rollout.reason) == ("Progressing", "QueryRejected")
    assert "parse error" in d.rollout.message


def test_an_unreadable_answer_holds_like_no_answer_until_the_deadline(world: World) -> None:
    """Issue 21: an Error verdict of any reason holds the step (never a pass, never a failed analysis) with its
    own reason, and the progress deadline ends the wait."""
    start_canary(world)
    unreadable = result("Error").model_copy(
        update={"reason": "UnreadableAnswer", "message": "unreadable answer: 3,334 series for error_rate, expected 1"}
    )
    for _ in range(9):
        world.later(30)
        d = world.step("v2", SPEC_V2, unreadable)
        assert (d.rollout.phase, d.rollout.step_index, d.canary_weight) == ("Progressing", 0, 10)
        assert (d.rollout.reason, d.rollout.consecutive_failures) == ("UnreadableAnswer", 0)
        assert d.rollout.message == "step 1 (10%) holding: unreadable answer: 3,334 series for error_rate, expected 1"
    world.later(30)
    d = world.step("v2", SPEC_V2, unreadable)
    assert (d.rollout.phase, d.rollout.reason) == ("Failed", "ProgressDeadlineExceeded")
    assert "no conclusive analysis within 5m (last: unreadable answer: 3,334 series" in d.rollout.message
    assert "AnalysisPassed" not in world.reasons() and "AnalysisFailed" not in world.reasons()
