"""Prometheus giving garbage (issue 14, drill 3): whatever comes back (slow, a 5xx, broken JSON, NaN or an
infinity where a number belongs, a partial vector), the client raises a typed error or returns the numbers as
they are, and the verdict holds (NoData or Error): never a Pass, and never a Fail on garbage.

The client is driven against the lab's fault server (tests/lab/promfault.py, a real HTTP server on loopback)
with canned answers; the verdicts are pure."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import pytest

from asgi_operator.api.models import SLOSpec, StableBaseline
from asgi_operator.prom.client import Prometheus, PrometheusUnreachable, QueryRejected
from asgi_operator.rollout.analysis import Sample, evaluate, stable_reference
from lab.promfault import PromFault

SLO = SLOSpec.model_validate(
    {
        "maxErrorRate": 0.05,
        "relative": {"maxErrorRateIncrease": 0.01},
        "perRoute": {"maxErrorRate": 0.1, "minRequests": 5, "maxLatencyP99": "500ms"},
    }
)
ANSWER = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [
            {"metric": {"asgi_check": "requests"}, "value": [1.0, "500"]},
            {"metric": {"asgi_check": "error_rate"}, "value": [1.0, "0.001"]},
            {"metric": {"asgi_check": "latency_p99"}, "value": [1.0, "0.05"]},
        ],
    },
}


@pytest.fixture
def fault() -> Iterator[PromFault]:
    server = PromFault(upstream=None, canned=ANSWER).start()
    try:
        yield server
    finally:
        server.close()


def ask(fault: PromFault, timeout: float = 1.0) -> list[Any]:
    return Prometheus(fault.url, timeout).query("up")


# ------------------------------------------------------------------------------------------------ the client
def test_the_untouched_answer_is_read(fault: PromFault) -> None:
    assert [s.value for s in ask(fault)] == [500, 0.001, 0.05]


def test_an_answer_past_the_timeout_is_unreachable(fault: PromFault) -> None:
    fault.set("slow", delay=5)
    started = time.monotonic()
    with pytest.raises(PrometheusUnreachable, match="timed out"):
        ask(fault)
    assert time.monotonic() - started < 3


def test_an_answer_dripping_in_byte_by_byte_is_cut_at_the_timeout(fault: PromFault) -> None:
    """Every read arrives within the timeout, the whole answer would take a minute: the timeout bounds the whole
    answer (at most twice the timeout: the deadline is checked between reads), not each read."""
    fault.set("drip", drip_every=0.2)
    started = time.monotonic()
    with pytest.raises(PrometheusUnreachable, match="no complete answer within the timeout"):
        ask(fault)
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_unreachable_with_the_status(fault: PromFault, status: int) -> None:
    fault.set("error", status=status)
    with pytest.raises(PrometheusUnreachable, match=str(status)):
        ask(fault)


def test_a_query_prometheus_cannot_run_is_rejected_not_unreachable(fault: PromFault) -> None:
    fault.set("error", status=422)
    with pytest.raises(QueryRejected, match="injected by the fault drill"):
        ask(fault)


def test_half_an_answer_is_unreachable(fault: PromFault) -> None:
    fault.set("malformed")
    with pytest.raises(PrometheusUnreachable):
        ask(fault)


@pytest.mark.parametrize("text", ["NaN", "+Inf", "-Inf", "garbage"])
def test_special_values_come_back_as_floats_never_dropped(fault: PromFault, text: str) -> None:
    fault.set("value", value=text, checks={"error_rate"})
    values = {s.labels["asgi_check"]: s.value for s in ask(fault)}
    expected = math.nan if text == "garbage" else float(text)
    assert values["requests"] == 500
    assert math.isnan(values["error_rate"]) if math.isnan(expected) else values["error_rate"] == expected


def test_a_partial_vector_lacks_the_dropped_series(fault: PromFault) -> None:
    fault.set("drop", checks={"latency_p99"})
    assert {s.labels["asgi_check"] for s in ask(fault)} == {"requests", "error_rate"}


# ------------------------------------------------------------------------------------------------ the verdicts
def judge(canary: Sample, stable: StableBaseline | None = None, slo: SLOSpec = SLO) -> Any:
    return evaluate(canary=canary, slo=slo, window="1m", at="t", step=1, weight=10, stable=stable)


GOOD = Sample(500, 0.001, 0.05, routes_judged=2, worst_route=("/a", 0.0), slowest_route=("/a", 0.05))
BASELINE = StableBaseline(
    revision="s1", source="SameWindow", at="t", window="1m", requests=500, error_rate=0.001, latency_p99_seconds=0.05
)
INF, NAN = math.inf, math.nan


def test_the_good_sample_passes() -> None:
    assert judge(GOOD, BASELINE).verdict == "Pass"


def replaced(**changes: Any) -> Sample:
    return Sample(**{**GOOD.__dict__, **changes})


@pytest.mark.parametrize(
    ("sample", "words"),
    [
        # a missing or non-number request count
        (replaced(requests=None), "no request series"),
        (replaced(requests=NAN), "gave no number"),
        (replaced(requests=INF), "gave no number"),
        (replaced(requests=-INF), "gave no number"),
        (replaced(requests=-5.0), "only -5 requests"),
        # an error rate that is no rate
        (replaced(error_rate=None), "no error rate"),
        (replaced(error_rate=NAN), "undefined"),
        (replaced(error_rate=INF), "undefined"),
        (replaced(error_rate=-INF), "undefined"),
        (replaced(error_rate=-0.5), "not a rate"),
        # a p99 that is no latency (+Inf is one: beyond the largest bucket, a Fail; see below)
        (replaced(latency_p99=None), "no latency histogram"),
        (replaced(latency_p99=NAN), "no latency observations"),
        (replaced(latency_p99=-INF), "not a latency"),
        (replaced(latency_p99=-0.1), "not a latency"),
        # per route: a partial answer, or numbers that are none
        (replaced(routes_judged=None), "no route had 5 requests"),
        (replaced(routes_judged=NAN), "no route had 5 requests"),
        (replaced(routes_judged=-3.0), "no route had 5 requests"),
        (replaced(worst_route=None), "no worst route by error rate"),
        (replaced(worst_route=("/a", NAN)), "route /a error rate is nan"),
        (replaced(worst_route=("/a", INF)), "route /a error rate is inf"),
        (replaced(worst_route=("/a", -1.0)), "route /a error rate is -1.0"),
        (replaced(slowest_route=None), "no latency histogram by route"),
        (replaced(slowest_route=("/a", NAN)), "no latency histogram by route"),
        (replaced(slowest_route=("/a", -INF)), "route /a p99 is -inf"),
    ],
)
def test_garbage_in_the_canarys_numbers_holds(sample: Sample, words: str) -> None:
    r = judge(sample, BASELINE)
    assert (r.verdict, r.reason) == ("NoData", "NoData"), r.message
    assert words in r.message
    # status holds JSON numbers only
    for value in (r.requests, r.error_rate, r.latency_p99_seconds):
        assert value is None or math.isfinite(value)


def test_an_infinite_p99_is_beyond_the_largest_bucket_a_fail() -> None:
    r = judge(replaced(latency_p99=INF), BASELINE)
    assert r.verdict == "Fail"
    assert "above the latency histogram's largest bucket" in r.message
    assert r.latency_p99_seconds is None


@pytest.mark.parametrize(
    "stable",
    [
        Sample(None, None, None),  # only the canary's side answered
        Sample(500, NAN, 0.05),
        Sample(500, 0.001, -INF),
        Sample(INF, 0.001, 0.05),
        Sample(500, -0.2, 0.05),
    ],
)
def test_relative_checks_without_stable_numbers_hold(stable: Sample) -> None:
    baseline = stable_reference(
        revision="s1",
        current=stable,
        current_at="t",
        window="1m",
        stored=None,
        before_rollout=None,
        before_rollout_at=None,
        min_requests=SLO.min_requests,
    )
    assert baseline is None
    r = judge(GOOD, baseline)
    assert r.verdict == "NoData"
    assert "relative checks" in r.message


@pytest.mark.parametrize("error", ["http://p: timed out", "http://p: HTTP 503", "http://p: Expecting value"])
def test_no_answer_is_an_error_verdict_that_holds(error: str) -> None:
    r = evaluate(canary=None, slo=SLO, window="1m", at="t", step=1, weight=10, error=error)
    assert (r.verdict, r.reason) == ("Error", "PrometheusUnavailable")
    assert r.message == f"Prometheus unavailable: {error}"
