"""Drill 3 of issue 14, all real: the operator (a real process) runs a canary while the Prometheus it asks (the
lab's real one, behind tests/lab/promfault.py, a real HTTP server that spoils answers on demand) answers too
slowly, with 5xx, with half a JSON body, with NaN and infinities, and with partial vectors. Every one holds the
canary at its step with the reason in status (lastAnalysis, the rollout's message, the Ready condition): never a
promotion, never a failed analysis on garbage, never a reconcile that crashes. Once Prometheus answers properly
again, the rollout is promoted with exactly the events of an undisturbed one.

Issue 21: an answer the operator cannot read unambiguously (10,000 series carrying its check labels, a scalar,
series without the labels) is an Error verdict naming what came back, never a pass, until the progress deadline
ends the rollout; and no reason in status carries the URL-encoded query."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from integration.helpers import wait_until
from integration.test_canary_e2e import (  # noqa: F401 (rig: a fixture)
    NAME,
    PROMOTED,
    Rig,
    _promoted_and_ready,
    reasons,
    rig,
    spec,
)
from lab.promfault import PromFault

# (mode, options, verdict, reason, words the analysis message must contain)
DRILLS: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("canary-only", {}, "NoData", "NoData", "relative checks"),
    ("slow", {"delay": 5}, "Error", "PrometheusUnavailable", "timed out"),
    ("drip", {"drip_every": 0.5}, "Error", "PrometheusUnavailable", "no complete answer within the timeout"),
    ("error", {"status": 503}, "Error", "PrometheusUnavailable", "503"),
    ("error", {"status": 500}, "Error", "PrometheusUnavailable", "500"),
    ("malformed", {}, "Error", "PrometheusUnavailable", "Prometheus unavailable"),
    ("value", {"value": "NaN"}, "NoData", "NoData", "gave no number"),
    ("value", {"value": "+Inf", "checks": {"error_rate"}}, "NoData", "NoData", "undefined (inf)"),
    ("value", {"value": "-Inf", "checks": {"latency_p99"}}, "NoData", "NoData", "not a latency"),
    ("drop", {"checks": {"error_rate"}}, "NoData", "NoData", "no error rate"),
    ("drop", {"checks": {"route_error_rate"}}, "NoData", "NoData", "no worst route"),
]


@pytest.fixture
def fault(rig: Rig) -> Iterator[PromFault]:  # noqa: F811 (the imported fixture)
    server = PromFault(upstream=rig.prometheus.url).start()
    try:
        yield server
    finally:
        server.close()


def _at(r: dict[str, Any]) -> datetime | None:
    at = (r.get("lastAnalysis") or {}).get("at")
    return datetime.fromisoformat(at.replace("Z", "+00:00")) if at else None


def test_prometheus_garbage_holds_the_canary_and_never_crashes_a_reconcile(
    rig: Rig,  # noqa: F811 (the imported fixture)
    fault: PromFault,
) -> None:
    body = spec(fault.url, "v2")
    rollout = body["spec"]["rollout"]
    rollout["progressDeadline"] = "10m"  # the drill holds for minutes on purpose
    rollout["prometheus"]["timeout"] = "2s"  # slow: 5 s; drip: a byte every 0.5 s
    rollout["slo"]["relative"] = {"maxErrorRateIncrease": 0.5}  # stable is asked too (canary-only)
    rollout["slo"]["perRoute"] = {"maxErrorRate": 0.5, "minRequests": 2}  # routes too (a partial vector)
    fault.set("error")  # holds until the canary has a whole window of traffic, then the drills begin
    rig.apply(body)
    rig.wait_rollout("step 1 on the canary", lambda r: r.get("canaryWeight") == 10)
    sent = rig.load.sent["canary"]
    wait_until("a window of canary traffic", lambda: rig.load.sent["canary"] >= sent + 100, 60)
    took: list[str] = []
    for mode, options, verdict, reason, words in DRILLS:
        fault.set(mode, **options)
        switched = datetime.now(UTC).replace(microsecond=0)
        started = time.monotonic()

        def after_switch(r: dict[str, Any], switched: datetime = switched) -> bool:
            at = _at(r)
            return at is not None and at > switched

        r = rig.wait_rollout(f"an analysis under {mode} {options}", after_switch, 60)
        last = r["lastAnalysis"]
        took.append(f"{mode}{options or ''}: {last['verdict']} after {time.monotonic() - started:.1f}s")
        assert (last["verdict"], last.get("reason")) == (verdict, reason), (mode, options, last)
        assert words in last["message"], (mode, options, last["message"])
        assert _short(last["message"]), last["message"]
        assert (r["phase"], r["stepIndex"], r["canaryWeight"]) == ("Progressing", 0, 10), r
        assert r["reason"] == reason and "holding" in r["message"] and words in r["message"]
        ready = next(c for c in rig.asvc()["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False" and "holding" in ready["message"], ready
        assert rig.weights() == [("hello-stable", 90), ("hello-canary", 10)]
    print("drill 3 (Prometheus faults):\n  " + "\n  ".join(took))
    print(f"  queries served per mode: {dict(fault.served)}")

    fault.set("pass")
    started = time.monotonic()
    rig.wait_promoted("promoted once Prometheus answers properly", 150)
    print(f"  promoted {time.monotonic() - started:.1f}s after the faults ended")
    assert _promoted_and_ready(rig)
    assert reasons(rig.rollout_events()) == PROMOTED  # not one AnalysisFailed or AnalysisPassed on garbage
    logs = rig.operator.logs()
    assert "Traceback" not in logs, logs[-4000:]
    errors = [line for line in rig.operator.metrics().splitlines() if line.startswith("asgi_operator_reconciles_total")]
    assert not any('outcome="error"' in line and not line.endswith(" 0.0") for line in errors), errors
    assert fault.served["drip"] >= 1 and fault.served["slow"] >= 1
    assert rig.asvc()["metadata"]["name"] == NAME


def _status(rig: Rig) -> str:  # noqa: F811 (the imported fixture's name)
    """`kubectl asgi status` as a person sees it (its exit code says how the rollout stands: not checked here)."""
    plugin = [sys.executable, "-m", "asgi_operator.cli.plugin", f"--kubeconfig={rig.cluster.admin_kubeconfig}"]
    return subprocess.run(
        [*plugin, "-n", rig.namespace, "status", NAME],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout


def _short(message: str) -> bool:
    """A reason a person reads: a few words, never requests' text with the URL-encoded query (issue 21)."""
    return len(message) < 300 and "query=" not in message and "%28" not in message


# (mode, options, words of the message)
UNREADABLE: list[tuple[str, dict[str, Any], str]] = [
    # the answer: 10,002 series, 3,000 error rates of 0.5 before 334 real ones (about 0.9 MiB): read by
    # its last series per check, a bad canary passed and was promoted
    ("many", {"copies": 3334, "checks": {"error_rate"}, "value": "0.5", "keep": 334}, "more than the 256 KiB"),
    (
        "many",
        {"copies": 30, "checks": {"error_rate"}, "value": "0.5", "keep": 3},
        "30 series for requests, 30 for error_rate, 30 for latency_p99, expected 1 each",
    ),
    ("scalar", {"value": "0.5"}, "a scalar, expected a vector"),
    ("unlabelled", {"copies": 2000, "value": "0.5"}, "2,000 series without the asgi_check label"),
]


def test_an_unreadable_answer_never_promotes_and_the_progress_deadline_ends_it(
    rig: Rig,  # noqa: F811 (the imported fixture)
    fault: PromFault,
) -> None:
    body = spec(fault.url, "v2")
    body["spec"]["rollout"]["progressDeadline"] = "2m"
    fault.set("error")  # holds until Prometheus has a window of the canary's traffic: then every answer has series
    rig.apply(body)
    applied = time.monotonic()
    rig.wait_rollout("step 1 on the canary", lambda r: r.get("canaryWeight") == 10)
    sent = rig.load.sent["canary"]
    wait_until("a window of canary traffic", lambda: rig.load.sent["canary"] >= sent + 100, 60)
    where = f"{fault.url}/api/v1/query"
    took: list[str] = []
    for mode, options, words in UNREADABLE:
        fault.set(mode, **options)
        switched = datetime.now(UTC).replace(microsecond=0)
        started = time.monotonic()

        def after_switch(r: dict[str, Any], switched: datetime = switched) -> bool:
            at = _at(r)
            return at is not None and at > switched

        r = rig.wait_rollout(f"an analysis under {mode} {options}", after_switch, 30)
        last = r["lastAnalysis"]
        took.append(
            f"{mode}{options}: {last['verdict']} after {time.monotonic() - started:.1f}s "
            f"({time.monotonic() - applied:.0f}s after the apply)"
        )
        assert (last["verdict"], last.get("reason")) == ("Error", "UnreadableAnswer"), (mode, last)
        assert last["message"].startswith(f"unreadable answer to the canary's query from {where}: "), last
        assert words in last["message"], (mode, last["message"])
        assert (r["phase"], r["stepIndex"], r["canaryWeight"], r["reason"]) == (
            "Progressing",
            0,
            10,
            "UnreadableAnswer",
        ), r
        if mode == UNREADABLE[0][0] and options == UNREADABLE[0][1]:  # (the CLI takes seconds to start)
            assert words in _status(rig)
        assert rig.weights() == [("hello-stable", 90), ("hello-canary", 10)]

    fault.close()  # nothing listens there any more: connection refused, said in a few words (issue 21, item 2)
    closed = datetime.now(UTC).replace(microsecond=0)
    r = rig.wait_rollout("an analysis with Prometheus gone", lambda r: (_at(r) or closed) > closed, 30)
    assert r["lastAnalysis"]["message"] == f"Prometheus unavailable: {where}: connection refused"
    shown = _status(rig)
    assert f"{where}: connection refused" in shown and "query=" not in shown and "%28" not in shown, shown

    took.append(f"connection refused ({time.monotonic() - applied:.0f}s after the apply)")
    r = rig.wait_rollout("failed at the progress deadline", lambda r: r.get("phase") == "Failed", 90)
    took.append(f"failed at the deadline {time.monotonic() - applied:.0f}s after the apply")
    print("issue 21 (unreadable answers):\n  " + "\n  ".join(took))
    print(f"  queries served per mode: {dict(fault.served)}")
    assert r["reason"] == "ProgressDeadlineExceeded"
    assert "no conclusive analysis within 2m" in r["message"]
    assert rig.weights() == [("hello-stable", 100), ("hello-canary", 0)]
    events = reasons(rig.rollout_events())
    assert not {"AnalysisPassed", "AnalysisFailed", "Promoting", "Promoted"} & set(events), events
    assert "Traceback" not in rig.operator.logs()
