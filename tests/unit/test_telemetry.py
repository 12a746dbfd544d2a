"""The operator's own metrics: series that dashboards and alerts can use from the first scrape."""

from __future__ import annotations

from prometheus_client import REGISTRY

from asgi_operator.controller import telemetry


def rollouts(namespace: str, name: str, result: str) -> float | None:
    return REGISTRY.get_sample_value(
        "asgi_operator_rollouts_total", {"namespace": namespace, "name": name, "result": result}
    )


def test_rollout_results_exist_at_zero_before_the_first_rollout_ends() -> None:
    telemetry.record_rollout("t-ns", "web", "Progressing", 10, [])
    # increase() needs a sample before the first count: every result is there, at 0
    assert {r: rollouts("t-ns", "web", r) for r in telemetry.ENDINGS.values()} == dict.fromkeys(
        telemetry.ENDINGS.values(), 0.0
    )
    telemetry.record_rollout("t-ns", "web", "RolledBack", 0, ["SLOViolated"])
    assert rollouts("t-ns", "web", "SLOViolated") == 1.0
    assert rollouts("t-ns", "web", "promoted") == 0.0
    telemetry.forget("t-ns", "web")
    assert rollouts("t-ns", "web", "SLOViolated") is None  # a deleted AsgiService leaves no series behind
