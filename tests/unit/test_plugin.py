"""`kubectl asgi`: what a person reads during a rollout, what a CI job's exit code says, and what `render`,
`diff` and completion print. The command line runs for real (plugin.main, as the console script calls it);
only the Kubernetes API is a scripted stand-in here (tests/integration/test_plugin_ci.py runs it all against
the lab)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from asgi_operator.api.models import AsgiServiceSpec
from asgi_operator.cli import plugin, preview
from asgi_operator.cli.compare import unified
from asgi_operator.cli.outcome import Exit, judge
from asgi_operator.cli.output import Output
from asgi_operator.cli.plugin import refusal, render_status
from asgi_operator.kube.api import ApiError
from asgi_operator.reconcile.desired import desired_children
from asgi_operator.render.meta import Owner

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
    # paused: a step promote would be ignored by the operator; a full promote and an abort are not
    paused = obj("Progressing", paused=True)
    assert "is paused" in (refusal(paused, "promote") or "")
    assert refusal(paused, "promote-full") is None
    assert refusal(paused, "abort") is None
    # a spec the operator has not seen yet may start a canary: the request is passed on
    unseen = obj("Idle")
    unseen["metadata"]["generation"] = 4  # type: ignore[index]
    assert refusal(unseen, "abort") is None


# ------------------------------------------------------------------------------------------------ kubectl asgi, rebuilt

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REV, OLD = "aaaaaaaaaa", "bbbbbbbbbb"


def service(
    phase: str = "Idle",
    *,
    generation: int = 3,
    observed: int | None = 3,
    ready: str = "True",
    request: str | None = None,
    last_request: str | None = None,
    version: str = "10",
    **rollout: Any,
) -> dict[str, Any]:
    """An AsgiService as the API returns it, its spec rendering revision REV."""
    annotations = {"asgi.dev/request": request} if request else {}
    state: dict[str, Any] = {"phase": phase, "stableRevision": REV if phase == "Idle" else OLD, **rollout}
    if last_request:
        state["lastRequest"] = last_request
    return {
        "apiVersion": "asgi.dev/v1alpha1",
        "kind": "AsgiService",
        "metadata": {
            "name": "hello",
            "namespace": "shop",
            "uid": "u-1",
            "generation": generation,
            "resourceVersion": version,
            "annotations": annotations,
            "creationTimestamp": "2026-11-24T11:00:00Z",
        },
        "spec": {"rollout": {"steps": [10, 50, 100]}},
        "status": {
            "observedGeneration": observed,
            "phase": {"Idle": "Ready", "Progressing": "Canary"}.get(phase, phase),
            "revision": REV,
            "readyReplicas": 3,
            "replicas": 3,
            "conditions": [{"type": "Ready", "status": ready, "message": "m"}],
            "rollout": state,
        },
    }


ROLLED_BACK = {"failedRevision": REV, "canaryRevision": REV, "reason": "SLOViolated", "message": "error rate 5%"}


# ------------------------------------------------------------------------------------------------ judge
def test_the_current_revision_stable_and_ready_ends_the_wait_with_0() -> None:
    judged = judge(service("Idle"))
    assert (judged.done, judged.code) == (True, Exit.OK)
    assert not judge(service("Idle", ready="False")).done  # stable, but its pods are not Ready yet


def test_a_rollback_or_failure_of_the_current_revision_ends_the_wait_non_zero() -> None:
    assert judge(service("RolledBack", **ROLLED_BACK)).code == Exit.ROLLED_BACK
    assert "SLOViolated" in judge(service("RolledBack", **ROLLED_BACK)).why
    failed = judge(service("Failed", **{**ROLLED_BACK, "reason": "ProgressDeadlineExceeded"}))
    assert (failed.done, failed.code) == (True, Exit.FAILED)
    stalled = service("Idle", ready="False")
    stalled["status"]["phase"] = "Error"
    stalled["status"]["conditions"].append({"type": "Stalled", "status": "True", "reason": "InvalidSpec"})
    stalled["status"]["rollout"]["stableRevision"] = OLD
    assert judge(stalled).code == Exit.FAILED


def test_an_earlier_rollouts_outcome_never_ends_the_wait_for_a_new_one() -> None:
    # the spec was just changed: the operator has not observed it, the last rollout's RolledBack is history
    assert not judge(service("RolledBack", generation=4, observed=3, **ROLLED_BACK)).done
    # a retry was just requested: not taken yet
    retried = service("RolledBack", request="retry/2", last_request="abort/1", **ROLLED_BACK)
    assert not judge(retried).done
    assert judge(service("RolledBack", request="retry/2", last_request="retry/2", **ROLLED_BACK)).done
    # a rollback of another revision than the one the spec renders now
    assert not judge(service("RolledBack", **{**ROLLED_BACK, "failedRevision": OLD})).done
    # a previous Promoted (Idle, stable) while the new spec is not observed yet
    assert not judge(service("Idle", generation=5, observed=4)).done
    assert not judge(service("Progressing", canaryRevision=REV)).done


def paused(obj: dict[str, Any], *, annotation: bool = True, taken: bool = True) -> dict[str, Any]:
    """`obj` with asgi.dev/paused set (`annotation`), and status saying so (`taken` by the operator)."""
    if annotation:
        obj["metadata"]["annotations"]["asgi.dev/paused"] = "true"
    if taken:
        step = obj["status"]["rollout"].get("stepIndex", 0) + 1
        obj["status"]["rollout"].update(paused=True, reason="Paused", message=f"paused at step {step} (10%)")
        if obj["status"]["rollout"]["phase"] == "Progressing":
            obj["status"]["phase"] = "Paused"
    return obj


def test_a_paused_canary_ends_the_wait_at_once_with_its_own_code() -> None:
    held = judge(paused(service("Progressing", canaryRevision=REV)))
    assert (held.done, held.code) == (True, Exit.PAUSED)
    assert "paused at step 1" in held.why and "kubectl asgi resume hello" in held.why
    # resumed, not taken yet: the status still says paused, the annotation no longer does
    assert not judge(paused(service("Progressing", canaryRevision=REV), annotation=False)).done
    # paused, not taken yet: the operator has not held the canary (it may still step or end)
    assert not judge(paused(service("Progressing", canaryRevision=REV), taken=False)).done
    # paused with nothing in flight: the current revision is stable and Ready, the wait ends well
    assert judge(paused(service("Idle"))).code == Exit.OK
    # a pause of an earlier rollout never ends the wait for a spec the operator has not observed yet
    assert not judge(paused(service("Progressing", generation=4, observed=3, canaryRevision=OLD))).done


# ------------------------------------------------------------------------------------------------ a scripted API
class FakeApi:
    """The few KubeApi calls the plugin makes, answered from a script; every call is recorded."""

    def __init__(self, gets: list[dict[str, Any] | None], watches: list[list[Any]] | None = None) -> None:
        self.gets, self.watches = list(gets), list(watches or [])
        self.calls: list[tuple[str, Any]] = []
        self.patches: list[dict[str, Any]] = []
        self.listed: dict[str, list[dict[str, Any]]] = {}
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, kind: Any, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(("get", (kind.kind, namespace, name)))
        if kind.kind != "AsgiService":
            return self.objects.get((kind.kind, name))
        return self.gets.pop(0) if len(self.gets) > 1 else self.gets[0]

    def watch(self, kind: Any, namespace: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.calls.append(("watch", {"namespace": namespace, **kwargs}))
        script = self.watches.pop(0) if self.watches else []
        if not script:
            time.sleep(0.05)  # the server ends an empty watch at its timeout
        for item in script:
            if isinstance(item, BaseException):
                raise item
            yield item

    def list(self, kind: Any, namespace: str | None, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.calls.append(("list", (kind.kind, namespace, kwargs)))
        yield from self.listed.get(kind.kind, [])

    def patch(self, kind: Any, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.patches.append(body)
        return {}

    def served(self, kind: Any) -> bool:
        return kind.kind != "PodMonitor"


def modified(obj: dict[str, Any]) -> dict[str, Any]:
    return {"type": "MODIFIED", "object": obj}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> list[FakeApi]:
    """Put a FakeApi in: `api.append(FakeApi(...))` before running the plugin."""
    holder: list[FakeApi] = []
    monkeypatch.setattr(plugin.Settings, "api", lambda self: holder[0])
    monkeypatch.setattr(plugin.Settings, "current_namespace", lambda self: self.namespace or "default")
    monkeypatch.setenv("FORCE_COLOR", "1")  # piped output must stay plain even so
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    return holder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = plugin.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------------------------ status
def test_flags_go_anywhere_as_with_kubectl(api: list[FakeApi], capsys: pytest.CaptureFixture[str]) -> None:
    api.append(FakeApi([service("Idle")]))
    code, out, _ = run(capsys, "status", "hello", "-n", "shop")
    assert code == 0
    assert ("get", ("AsgiService", "shop", "hello")) in api[0].calls
    assert "Name:        shop/hello" in out
    assert run(capsys, "-n", "shop", "status", "hello")[0] == 0
    assert run(capsys, "--namespace=other", "status", "hello", "--namespace", "shop")[0] == 0  # the last one wins
    assert api[0].calls[-1] == ("get", ("AsgiService", "shop", "hello"))


def test_status_once_exits_non_zero_on_a_rolled_back_or_failed_revision(
    api: list[FakeApi], capsys: pytest.CaptureFixture[str]
) -> None:
    api.append(FakeApi([service("RolledBack", **ROLLED_BACK)]))
    assert run(capsys, "status", "hello")[0] == Exit.ROLLED_BACK
    api[0] = FakeApi([service("Failed", **ROLLED_BACK)])
    assert run(capsys, "status", "hello")[0] == Exit.FAILED
    api[0] = FakeApi([service("Progressing", canaryRevision=REV, stepIndex=1)])
    assert run(capsys, "status", "hello")[0] == Exit.OK  # mid-rollout, printed once: 0


def test_watch_follows_the_api_watch_from_the_version_read_until_the_new_spec_is_promoted(
    api: list[FakeApi], capsys: pytest.CaptureFixture[str]
) -> None:
    before = service("RolledBack", generation=4, observed=3, version="10", **ROLLED_BACK)  # the last rollout's
    progressing = service("Progressing", generation=4, observed=4, version="11", canaryRevision=REV, stepIndex=0)
    promoted = service("Idle", generation=4, observed=4, version="12")
    api.append(FakeApi([before], [[modified(progressing), modified(promoted), modified(service("Idle"))]]))
    code, out, err = run(capsys, "status", "hello", "-n", "shop", "-w")
    assert code == Exit.OK, err
    watch = next(kwargs for call, kwargs in api[0].calls if call == "watch")
    assert watch["name"] == "hello" and watch["namespace"] == "shop" and watch["resource_version"] == "10"
    assert [c for c, _ in api[0].calls].count("get") == 1  # one read, then the watch: no polling
    lines = out.splitlines()
    assert any("waiting for the operator to observe generation 4" in line for line in lines)
    assert any("rollout Progressing" in line for line in lines)
    assert lines[-1] == f"asgiservice shop/hello: revision {REV} is stable and Ready"
    assert "\x1b" not in out + err  # piped: no escape code, FORCE_COLOR notwithstanding


@pytest.mark.parametrize(
    ("final", "code"),
    [(service("RolledBack", **ROLLED_BACK), Exit.ROLLED_BACK), (service("Failed", **ROLLED_BACK), Exit.FAILED)],
    ids=["rolled-back", "failed"],
)
def test_watch_exits_non_zero_when_the_rollout_ends_badly(
    api: list[FakeApi], capsys: pytest.CaptureFixture[str], final: dict[str, Any], code: Exit
) -> None:
    api.append(FakeApi([service("Progressing", canaryRevision=REV)], [[modified(final)]]))
    got, out, _ = run(capsys, "status", "hello", "--timeout", "2m")
    assert got == code
    assert out.splitlines()[-1].startswith(f"asgiservice default/hello: revision {REV} ")


def test_timeout_exits_4_and_says_where_the_rollout_stood(
    api: list[FakeApi], capsys: pytest.CaptureFixture[str]
) -> None:
    api.append(FakeApi([service("Progressing", canaryRevision=REV, reason="StepStarted", message="step 1/3")]))
    started = time.monotonic()
    code, _, err = run(capsys, "status", "hello", "--timeout", "0.3")
    assert code == Exit.TIMEOUT
    assert 0.3 <= time.monotonic() - started < 5
    assert "timed out after 1s waiting for asgiservice default/hello: rollout Progressing: StepStarted" in err
    watches = [kwargs for call, kwargs in api[0].calls if call == "watch"]
    assert watches and all(w["timeout_seconds"] == 1 for w in watches)  # never longer than what is left


def test_a_paused_rollout_ends_the_wait_at_once_with_exit_5(
    api: list[FakeApi], capsys: pytest.CaptureFixture[str]
) -> None:
    api.append(FakeApi([paused(service("Progressing", canaryRevision=REV))]))
    started = time.monotonic()
    code, out, _ = run(capsys, "status", "hello", "--timeout", "10s")
    assert (code, time.monotonic() - started < 5) == (Exit.PAUSED, True)  # not at the deadline
    assert "watch" not in [call for call, _ in api[0].calls]  # the first read said it all
    assert out.splitlines()[-1].startswith(f"asgiservice default/hello: the rollout of revision {REV} is paused")
    # paused while watched: the version that says so ends the wait
    progressing = service("Progressing", canaryRevision=REV)
    api[0] = FakeApi([progressing], [[modified(paused(service("Progressing", canaryRevision=REV, version="11")))]])
    assert run(capsys, "status", "hello", "-w")[0] == Exit.PAUSED
    # printed once, a paused rollout is one in progress: 0, as before
    api[0] = FakeApi([paused(service("Progressing", canaryRevision=REV))])
    assert run(capsys, "status", "hello")[0] == Exit.OK


def test_help_says_what_exit_5_means(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--help"], ["status", "--help"]):
        _, out, _ = run(capsys, *args)
        five = next(line for line in out.splitlines() if line.strip().startswith("5 "))
        assert "paused" in five, (args, five)


def test_an_expired_version_is_read_again_and_watched_from_there(
    api: list[FakeApi], capsys: pytest.CaptureFixture[str]
) -> None:
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}}
    first = service("Progressing", canaryRevision=REV, version="5")
    api.append(
        FakeApi(
            [first, service("Progressing", canaryRevision=REV, version="90")], [[gone], [modified(service("Idle"))]]
        )
    )
    assert run(capsys, "status", "hello", "-w")[0] == Exit.OK
    watches = [kwargs["resource_version"] for call, kwargs in api[0].calls if call == "watch"]
    assert watches == ["5", "90"]


def test_ctrl_c_exits_130_without_a_traceback(api: list[FakeApi], capsys: pytest.CaptureFixture[str]) -> None:
    api.append(FakeApi([service("Progressing", canaryRevision=REV)], [[KeyboardInterrupt()]]))
    code, _, err = run(capsys, "status", "hello", "-w")
    assert code == Exit.INTERRUPTED
    assert "Traceback" not in err


def test_errors_exit_1_with_the_reason(api: list[FakeApi], capsys: pytest.CaptureFixture[str]) -> None:
    api.append(FakeApi([None]))
    code, _, err = run(capsys, "status", "ghost", "-n", "shop")
    assert (code, err.strip()) == (Exit.ERROR, "error: asgiservice shop/ghost not found")
    api[0].get = lambda *a: (_ for _ in ()).throw(  # type: ignore[method-assign]
        ApiError(403, "Forbidden", 'asgiservices "hello" is forbidden: User "dev" cannot get', "GET", "/x")
    )
    code, _, err = run(capsys, "status", "hello")
    assert code == Exit.ERROR and "Forbidden" in err and "Traceback" not in err
    assert run(capsys, "status")[0] == Exit.ERROR  # usage: NAME missing
    assert run(capsys, "status", "hello", "--bogus")[0] == Exit.ERROR
    assert run(capsys, "status", "hello", "--timeout", "soon")[0] == Exit.ERROR


def test_a_terminal_gets_colour_and_no_colour_or_a_pipe_gets_none(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    for no_color, stream, escapes in (
        (False, Terminal(), True),
        (True, Terminal(), False),
        (False, io.StringIO(), False),
    ):
        out = Output(no_color=no_color, stream=stream)
        out.print("Phase: RolledBack")
        assert ("\x1b[" in stream.getvalue()) is escapes
    monkeypatch.setenv("NO_COLOR", "1")
    stream = Terminal()
    Output(stream=stream).print("Phase: RolledBack")
    assert "\x1b[" not in stream.getvalue()


def test_help_documents_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--help"], ["status", "--help"]):
        code, out, _ = run(capsys, *args)
        assert code == 0
        for number in ("0", "1", "2", "3", "4", "130"):
            assert any(line.strip().startswith(f"{number} ") for line in out.splitlines()), (args, number)


# ------------------------------------------------------------------------------------------------ steering
def test_requests_are_annotations_and_refusals_write_nothing(
    api: list[FakeApi], capsys: pytest.CaptureFixture[str]
) -> None:
    api.append(FakeApi([service("Progressing", canaryRevision=REV)]))
    code, out, _ = run(capsys, "promote", "--full", "hello", "-n", "shop")
    assert code == 0 and out.strip() == "asgiservice shop/hello: promote --full requested"
    assert api[0].patches[-1]["metadata"]["annotations"]["asgi.dev/request"].startswith("promote-full/")
    run(capsys, "abort", "hello")
    assert api[0].patches[-1]["metadata"]["annotations"]["asgi.dev/request"].startswith("abort/")
    run(capsys, "pause", "hello")
    assert api[0].patches[-1] == {"metadata": {"annotations": {"asgi.dev/paused": "true"}}}
    run(capsys, "resume", "hello")
    assert api[0].patches[-1] == {"metadata": {"annotations": {"asgi.dev/paused": None}}}
    written = len(api[0].patches)
    code, _, err = run(capsys, "retry", "hello")  # nothing rolled back
    assert code == Exit.ERROR and "nothing to retry" in err
    assert len(api[0].patches) == written


# ------------------------------------------------------------------------------------------------ list, history
def test_list_prints_one_row_per_service_and_a_namespace_column_with_all_namespaces(
    api: list[FakeApi], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeApi([None])
    fake.listed["AsgiService"] = [
        service("Progressing", canaryRevision=REV, stepIndex=1),
        {**service("Idle"), "metadata": {**service()["metadata"], "name": "api", "namespace": "blue"}},
    ]
    fake.listed["AsgiService"][0]["status"]["canaryWeight"] = 50
    api.append(fake)
    code, out, _ = run(capsys, "list", "-n", "shop")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "PHASE", "STABLE", "CANARY", "WEIGHT", "STEP", "READY", "AGE"]
    assert rows[1].split()[:7] == ["hello", "Canary", OLD, REV, "50%", "2/3", "3/3"]
    assert rows[0].split()[:7] == ["api", "Ready", REV, "-", "0%", "-", "3/3"]
    assert fake.calls[-1] == ("list", ("AsgiService", "shop", {}))
    _, out, _ = run(capsys, "list", "-A")
    assert out.splitlines()[0].split()[0] == "NAMESPACE" and fake.calls[-1][1][1] is None


def test_history_tells_each_revision_and_how_it_ended_from_the_events(
    api: list[FakeApi], capsys: pytest.CaptureFixture[str]
) -> None:
    def event(seq: int, reason: str, message: str, uid: str = "u-1") -> dict[str, Any]:
        return {
            "metadata": {"name": f"hello.u-1.{seq:04d}"},
            "involvedObject": {"uid": uid},
            "reason": reason,
            "message": message,
            "type": "Normal",
            "firstTimestamp": f"2026-11-24T12:00:{seq:02d}Z",
        }

    fake = FakeApi([service("RolledBack", **ROLLED_BACK)])
    fake.listed["Event"] = [
        event(3, "RolloutStarted", f"canary {REV} against stable {OLD}, steps 10/50/100%"),
        event(1, "Deployed", f"first revision {OLD}: no canary, nothing to compare against"),
        event(5, "SLOViolated", "step 1: error rate 5% > 0.5%"),
        event(4, "StepStarted", "step 1/3"),
        event(9, "Deployed", "first revision cccccccccc", uid="an-earlier-object-of-the-same-name"),
    ]
    api.append(fake)
    code, out, _ = run(capsys, "history", "hello", "-n", "shop")
    assert code == 0
    selector = fake.calls[-1][1][2]["field_selector"]
    assert selector == "involvedObject.kind=AsgiService,involvedObject.name=hello"
    releases = [line.split() for line in out.splitlines() if line.startswith((OLD, REV))]
    assert [(r[0], r[2]) for r in releases] == [(OLD, "Deployed"), (REV, "RolloutStarted")]
    assert "rolled back" in out and "cccccccccc" not in out


# ------------------------------------------------------------------------------------------------ render, diff
def example_docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if preview.is_asgi_service(d)]


def test_render_is_offline_and_prints_what_the_operators_pure_core_wants(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(plugin.Settings, "api", lambda self: pytest.fail("render must not contact a cluster"))
    code, out, _ = run(capsys, "render", "-f", str(EXAMPLES / "hello.yaml"), "-n", "shop", "--uid", "u-42")
    assert code == 0
    doc = example_docs("hello.yaml")[0]
    owner = Owner("hello", "shop", "u-42")
    wanted = desired_children(owner, AsgiServiceSpec.model_validate(doc["spec"])).apply
    assert list(yaml.safe_load_all(out)) == wanted  # config hashes included
    assert out.startswith("---\n")


def test_render_of_a_pre_deploy_spec_includes_its_job_and_the_workload_after_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "render", "-f", str(EXAMPLES / "orders-realistic.yaml"), "-n", "shop")
    assert code == 0
    kinds = [d["kind"] for d in yaml.safe_load_all(out)]
    assert kinds[0] == "Job" and "Deployment" in kinds and "Secret" not in kinds
    assert "skipped Secret/orders-db" in err


def test_render_flags_for_what_only_a_cluster_knows() -> None:
    doc = example_docs("hello.yaml")[0]
    plain = preview.render(doc, "shop")
    assert all(o["metadata"]["ownerReferences"][0]["uid"] == preview.PLACEHOLDER_UID for o in plain.objects)
    kinds = [o["kind"] for o in plain.objects]
    assert "PodMonitor" not in kinds
    assert "PodMonitor" in [
        o["kind"] for o in preview.render(doc, "shop", preview.Cluster(pod_monitor_crd=True)).objects
    ]
    after = preview.render(doc, "shop", preview.Cluster(after_rollouts=True)).objects
    canary = next(o for o in after if o["metadata"]["name"] == "hello-canary" and o["kind"] == "Deployment")
    assert canary["spec"]["replicas"] == 0
    assert "hello-canary" not in [o["metadata"]["name"] for o in plain.objects if o["kind"] == "Deployment"]


def test_render_refuses_a_namespace_that_contradicts_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = example_docs("hello.yaml")[0]
    doc["metadata"]["namespace"] = "shop"
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert run(capsys, "render", "-f", str(path), "-n", "other")[0] == Exit.ERROR
    code, out, _ = run(capsys, "render", "-f", str(path))
    assert code == 0 and {d["metadata"]["namespace"] for d in yaml.safe_load_all(out)} == {"shop"}


def test_a_file_that_cannot_be_read_is_said_so_not_taken_for_an_unreachable_api_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.yaml"  # an OSError, as a refused connection is: told apart
    code, _, err = run(capsys, "render", "-f", str(missing), "-n", "shop")
    assert (code, err.strip()) == (Exit.ERROR, f"error: [Errno 2] No such file or directory: '{missing}'")


def test_diff_is_empty_for_live_objects_that_hold_the_rendering_and_shows_a_change(
    api: list[FakeApi], capsys: pytest.CaptureFixture[str]
) -> None:
    doc = example_docs("hello.yaml")[0]
    rendered = preview.render(doc, "shop", preview.Cluster(uid="u-1", cert_manager_crd=True)).objects
    live_service = service("Idle")
    live_service["spec"] = {**doc["spec"], "port": 8000}  # the API server's defaults
    fake = FakeApi([live_service])
    for obj in rendered:  # as stored: with the API server's additions
        stored = json.loads(json.dumps(obj))
        stored["metadata"]["resourceVersion"] = "1"
        stored["status"] = {"observedGeneration": 1}
        fake.objects[(obj["kind"], obj["metadata"]["name"])] = stored
    api.append(fake)
    path = str(EXAMPLES / "hello.yaml")
    code, out, err = run(capsys, "diff", "-f", path, "-n", "shop")
    assert (code, out) == (0, ""), err
    deployment = fake.objects[("Deployment", "hello")]
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/hello:0.9.0"
    code, out, _ = run(capsys, "diff", "-f", path, "-n", "shop")
    assert code == 1
    assert "-        image: registry.example.com/hello:0.9.0" in out
    assert "+        image: registry.example.com/hello:1.0.0" in out
    assert "--- live/apps/v1.Deployment.shop.hello" in out
    fake.get = lambda *a: (_ for _ in ()).throw(ApiError(500, "InternalError", "etcd", "GET", "/x"))  # type: ignore[method-assign]
    assert run(capsys, "diff", "-f", path, "-n", "shop")[0] == 2  # kubectl diff: an error is > 1


def test_a_quantity_the_api_server_normalised_is_no_difference() -> None:
    desired = {"kind": "Deployment", "spec": {"resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}}}}
    live = {"kind": "Deployment", "spec": {"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}, "status": {}}
    assert unified(desired, live, "x") == ""
    live["spec"]["resources"]["requests"]["cpu"] = "1"
    assert '-      cpu: "1"' in unified(desired, live, "x") or "-      cpu: '1'" in unified(desired, live, "x")


# ------------------------------------------------------------------------------------------------ completion
def test_completion_scripts_are_generated_for_bash_and_zsh(capsys: pytest.CaptureFixture[str]) -> None:
    code, bash, _ = run(capsys, "completion", "bash")
    assert code == 0 and "_KUBECTL_ASGI_COMPLETE=bash_complete" in bash and "complete -o nosort -F" in bash
    assert "kubectl-asgi" in bash
    code, zsh, _ = run(capsys, "completion", "zsh")
    assert code == 0 and zsh.startswith("#compdef kubectl-asgi") and "_KUBECTL_ASGI_COMPLETE=zsh_complete" in zsh


def test_the_console_script_answers_the_shells_completion_requests() -> None:
    script = Path(sys.executable).parent / "kubectl-asgi"
    env = {**os.environ, "_KUBECTL_ASGI_COMPLETE": "bash_complete", "COMP_WORDS": "kubectl-asgi sta", "COMP_CWORD": "1"}
    out = subprocess.run([script, "sta"], capture_output=True, text=True, env=env, timeout=30, check=True).stdout
    assert out.split() == ["plain,status"]


def test_kubectl_plugin_completion_speaks_cobras_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    assert plugin.kubectl_complete(["pro"]) == 0
    assert capsys.readouterr().out.splitlines() == ["promote\tGo to the next step without analysis.", ":4"]
    plugin.kubectl_complete(["status", "hello", "--ti"])
    assert capsys.readouterr().out.splitlines()[0].startswith("--timeout")
    plugin.kubectl_complete(["render", "-f", "exa"])
    assert capsys.readouterr().out.splitlines()[-1] == ":0"  # a file: the shell completes paths


# what a command loads: `--help` and completion nothing of the Kubernetes client, the operator's models, rich or
# YAML; `status` not the models (bench/plugin_bench.py measures the times this keeps down)
LOADING = "import sys; from asgi_operator.cli import plugin; plugin.main(sys.argv[1:]); print(*sorted(sys.modules))"
CLIENT_MODELS_TERMINAL_YAML = {"kubernetes", "urllib3", "pydantic", "asgi_operator.api.models", "rich", "yaml"}


@pytest.mark.parametrize(
    ("args", "unloaded"),
    [
        (["--help"], CLIENT_MODELS_TERMINAL_YAML),
        (["status", "--help"], CLIENT_MODELS_TERMINAL_YAML),
        (["completion", "bash"], CLIENT_MODELS_TERMINAL_YAML),
        (["status", "hello", "--kubeconfig", "/nonexistent"], {"asgi_operator.api.models", "asgi_operator.routers"}),
    ],
    ids=["help", "status-help", "completion", "status"],
)
def test_a_command_imports_only_what_it_uses(args: list[str], unloaded: set[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(plugin.__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", LOADING, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    loaded = set(done.stdout.splitlines()[-1].split())
    assert "asgi_operator.cli.plugin" in loaded, done.stderr
    assert not loaded & unloaded


def test_on_a_terminal_the_watch_redraws_in_place_and_still_exits_by_the_outcome(
    api: list[FakeApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    api.append(
        FakeApi([service("Progressing", canaryRevision=REV)], [[modified(service("RolledBack", **ROLLED_BACK))]])
    )
    assert plugin.main(["status", "hello", "-w"]) == Exit.ROLLED_BACK
    drawn = screen.getvalue()
    assert "\x1b[" in drawn  # colours and cursor movement: a live view
    assert "\x1b[2J" not in drawn  # never a cleared screen
    assert f"revision {REV} rolled back" in drawn
    screen.seek(0)
    screen.truncate()
    api[0] = FakeApi([service("Progressing", canaryRevision=REV)], [[modified(service("Idle"))]])
    assert plugin.main(["status", "hello", "-w", "--no-color"]) == Exit.OK
    assert "\x1b[3" not in screen.getvalue()  # no colour (the live view still moves the cursor)


def test_the_docs_list_every_exit_code() -> None:
    repo = Path(__file__).resolve().parents[2]
    codes = {int(code) for code in Exit}
    for doc in (repo / "README.md", repo / "docs" / "kubectl-asgi.md"):
        listed = {int(m) for m in re.findall(r"^\| (\d+) \|", doc.read_text(), re.M)}
        assert codes <= listed, doc


def test_names_complete_from_the_cluster_in_the_namespace_given_and_never_fail(
    api: list[FakeApi], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeApi([None])
    fake.listed["AsgiService"] = [service(), {**service(), "metadata": {**service()["metadata"], "name": "api"}}]
    api.append(fake)
    plugin.kubectl_complete(["status", "-n", "shop", "he"])
    assert capsys.readouterr().out.splitlines() == ["hello", ":4"]
    assert fake.calls[-1] == ("list", ("AsgiService", "shop", {}))
    fake.list = lambda *a, **k: (_ for _ in ()).throw(ApiError(403, "Forbidden", "no", "GET", "/x"))  # type: ignore[method-assign]
    plugin.kubectl_complete(["abort", ""])
    assert capsys.readouterr().out.splitlines() == [":4"]
