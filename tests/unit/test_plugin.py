"""`kubectl asgi status`: what a person reads during a rollout."""

from __future__ import annotations

from datetime import UTC, datetime

from asgi_operator.cli.plugin import render_status

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


def asvc(rollout: dict[str, object], **status: object) -> dict[str, object]:
    return {
        "metadata": {"namespace": "shop", "name": "web"},
        "spec": {"rollout": {"steps": [10, 50, 100], "failureThreshold": 2}},
        "status": {
            "phase": "Canary",
            "canaryWeight": rollout.get("canaryWeight", 0),
            "rollout": rollout,
            "conditions": [{"type": "Ready", "status": "False", "message": "step 2 of 3"}],
            **status,
        },
    }


def test_a_canary_in_progress_shows_step_weight_numbers_and_next_check() -> None:
    text = render_status(
        asvc(
            {
                "phase": "Progressing",
                "stepIndex": 1,
                "canaryWeight": 50,
                "canaryRevision": "abc",
                "stableRevision": "def",
                "consecutiveFailures": 1,
                "nextAnalysisAt": "2026-11-24T12:00:25Z",
                "reason": "AnalysisFailed",
                "message": "step 2 (50%): error rate 0.80% > 0.50%",
                "lastAnalysis": {
                    "verdict": "Fail",
                    "at": "2026-11-24T11:59:55Z",
                    "step": 2,
                    "weight": 50,
                    "errorRate": 0.008,
                    "maxErrorRate": 0.005,
                    "latencyP99Seconds": 0.12,
                    "maxLatencyP99Seconds": 0.2,
                    "requests": 812.4,
                    "minRequests": 200,
                    "message": "error rate 0.80% > 0.50%",
                },
            }
        ),
        NOW,
    )
    assert "step 2/3 of 10/50/100%  weight 50%" in text
    assert "Next check:  in 25s  (failed in a row: 1/2)" in text
    assert "error rate 0.80%  max 0.50%" in text
    assert "p99        120ms  max 200ms" in text
    assert "requests   812  min 200" in text


def test_an_approximate_split_says_so_with_the_real_share() -> None:
    text = render_status(
        asvc(
            {"phase": "Progressing", "canaryWeight": 50, "canaryRevision": "abc", "approximateSplit": True},
            readyReplicas=4,
            canaryReadyReplicas=2,
        ),
        NOW,
    )
    assert "(approximate, by pod count: about 33% now)" in text


def test_an_idle_service_shows_only_the_stable() -> None:
    obj = asvc({"phase": "Idle", "stableRevision": "def"}, phase="Ready", readyReplicas=3, replicas=3)
    text = render_status(obj, NOW)
    assert "Stable:      def" in text
    assert "Canary:" not in text


def test_requests_that_would_do_nothing_are_refused_with_the_reason() -> None:
    from asgi_operator.cli.plugin import refusal

    def obj(phase: str, **rollout: object) -> dict[str, object]:
        body = asvc({"phase": phase, **rollout}, revision="abc", observedGeneration=3)
        body["metadata"] = {"namespace": "shop", "name": "web", "generation": 3}  # type: ignore[index]
        return body

    idle = obj("Idle")
    assert "nothing to retry" in (refusal(idle, "retry") or "")
    assert "nothing to promote" in (refusal(idle, "promote") or "")
    assert "nothing to promote" in (refusal(idle, "promote-full") or "")
    assert "nothing to abort" in (refusal(idle, "abort") or "")
    rolled_back = obj("RolledBack", failedRevision="abc")
    assert refusal(rolled_back, "retry") is None
    # the spec moved on since the rollback: a new canary starts by itself, nothing to retry
    assert refusal(obj("RolledBack", failedRevision="old"), "retry") is not None
    assert refusal(obj("Progressing"), "promote") is None
    assert refusal(obj("Progressing"), "abort") is None
    # a spec the operator has not seen yet may start a canary: the request is passed on
    unseen = obj("Idle")
    unseen["metadata"]["generation"] = 4  # type: ignore[index]
    assert refusal(unseen, "abort") is None
