"""SLO verdicts from numbers, and the PromQL each metrics profile sends."""

from __future__ import annotations

import pytest

from asgi_operator.api.models import CustomQueries, MetricsProfile, SLOSpec, StableBaseline
from asgi_operator.rollout.analysis import Sample, evaluate, stable_reference
from asgi_operator.rollout.queries import Target, combined, profile_for

SLO = SLOSpec()  # max error rate 0.5 %, p99 200 ms, at least 20 requests


def reference(
    current: Sample | None, stored: StableBaseline | None = None, before: Sample | None = None
) -> StableBaseline | None:
    return stable_reference(
        revision="stable1",
        current=current,
        current_at="t",
        window="1m",
        stored=stored,
        before_rollout=before,
        before_rollout_at="t0",
        min_requests=SLO.min_requests,
    )


def verdict(canary: Sample | None, stable: Sample | None = None, slo: SLOSpec = SLO, error: str | None = None):  # type: ignore[no-untyped-def]
    return evaluate(
        canary=canary, stable=reference(stable), slo=slo, window="1m", at="t", step=1, weight=10, error=error
    )


def test_healthy_canary_passes_with_its_numbers() -> None:
    r = verdict(Sample(requests=500, error_rate=0.001, latency_p99=0.08))
    assert r.verdict == "Pass"
    assert (r.error_rate, r.latency_p99_seconds, r.requests) == (0.001, 0.08, 500)
    assert (r.max_error_rate, r.max_latency_p99_seconds) == (0.005, 0.2)
    assert "error rate 0.10% (max 0.50%)" in r.message


@pytest.mark.parametrize(
    ("sample", "words"),
    [
        (Sample(500, 0.05, 0.08), "error rate 5.00% > 0.50%"),
        (Sample(500, 0.0, 0.3), "p99 300ms > 200ms"),
    ],
)
def test_slo_violations_fail(sample: Sample, words: str) -> None:
    r = verdict(sample)
    assert r.verdict == "Fail"
    assert words in r.message


@pytest.mark.parametrize(
    ("sample", "words"),
    [
        (Sample(None, None, None), "no request series"),
        (Sample(3, 1.0, 5.0), "only 3 requests"),  # terrible numbers, but too few to judge
        (Sample(500, None, 0.1), "no error rate"),
        (Sample(500, 0.0, None), "no latency histogram series"),
    ],
)
def test_no_data_is_never_a_pass_nor_a_fail(sample: Sample, words: str) -> None:
    r = verdict(sample)
    assert r.verdict == "NoData"
    assert words in r.message


def test_prometheus_errors_are_their_own_verdict() -> None:
    r = verdict(None, error="connection refused")
    assert r.verdict == "Error"
    assert "connection refused" in r.message


def test_relative_thresholds_compare_with_stable_in_the_same_window() -> None:
    slo = SLOSpec.model_validate({"relative": {"maxErrorRateIncrease": 0.001, "maxLatencyP99IncreasePercent": 20}})
    stable = Sample(5000, 0.001, 0.1)
    assert verdict(Sample(500, 0.0015, 0.11), stable, slo).verdict == "Pass"
    worse = verdict(Sample(500, 0.003, 0.11), stable, slo)
    assert worse.verdict == "Fail"
    assert "exceeds stable's 0.10%" in worse.message
    slower = verdict(Sample(500, 0.001, 0.13), stable, slo)
    assert slower.verdict == "Fail"
    assert "20% above stable's 100ms" in slower.message
    # a configured relative check that cannot be evaluated is never a pass (stable serves nothing at 100 %)
    no_stable = verdict(Sample(500, 0.001, 0.13), Sample(None, None, None), slo)
    assert no_stable.verdict == "NoData"
    assert no_stable.reason == "NoData"
    assert "relative checks: stable had fewer than 20 requests" in no_stable.message


TARGET = Target("shop", "web", "canary", "abc123", "1m", ("/healthz", "/metrics"))


def test_fastapi_instrumentator_queries() -> None:
    q = combined(profile_for(MetricsProfile.FASTAPI_INSTRUMENTATOR, None), TARGET)
    sel = 'namespace="shop",asgi_dev_name="web",asgi_dev_track="canary",asgi_dev_revision="abc123"'
    assert f'sum(increase(http_requests_total{{{sel},handler!~"/healthz|/metrics"}}[1m]))' in q
    assert 'status=~"5.."' in q  # matches both grouped "5xx" and "500"
    # the fine histogram has no handler label: no path filter there, or it would match nothing
    assert f"rate(http_request_duration_highr_seconds_bucket{{{sel}}}[1m])" in q
    assert q.count("label_replace(") == 3  # one query returns the three numbers
    # no 5xx series yet must read as zero errors, not as no data (the classic canary trap)
    assert 'status=~"5.."}[1m])) or vector(0))' in q
    assert "label_replace((" in q


def test_starlette_exporter_queries() -> None:
    q = combined(profile_for(MetricsProfile.STARLETTE_EXPORTER, None), TARGET)
    assert "starlette_requests_total" in q
    assert 'status_code=~"5.."' in q
    assert 'path!~"/healthz|/metrics"' in q
    assert "starlette_request_duration_seconds_bucket" in q


def test_custom_queries_fill_every_variable() -> None:
    custom = CustomQueries.model_validate(
        {
            "requests": "sum(increase(x_total{ {{ selector }} }[{{window}}]))",
            "errorRate": 'e{namespace="{{ namespace }}",name="{{ name }}",track="{{ track }}",rev="{{ revision }}"}',
            "latencyP99": "p99",
        }
    )
    q = combined(profile_for(MetricsProfile.CUSTOM, custom), TARGET)
    assert "[1m]" in q
    assert 'e{namespace="shop",name="web",track="canary",rev="abc123"}' in q
    assert "{{" not in q


# ------------------------------------------------------------------ relative checks without stable traffic
RELATIVE = SLOSpec.model_validate({"maxErrorRate": 0.05, "relative": {"maxErrorRateIncrease": 0.01}})
BAD_CANARY = Sample(800, 0.029, 0.05)  # 2.9 % errors: under the absolute 5 %, 2.9 points above stable


def test_at_100_percent_the_canary_is_compared_with_stable_baseline_kept_in_status() -> None:
    # the case: caught at 10 % (stable measured in the same window) ...
    measured = reference(Sample(5000, 0.0, 0.04))
    assert measured is not None and measured.source == "SameWindow"
    first = evaluate(canary=BAD_CANARY, stable=measured, slo=RELATIVE, window="8s", at="t", step=1, weight=10)
    assert first.verdict == "Fail"
    # ... and at 100 % stable serves nothing: the baseline kept from the earlier analysis still applies
    kept = measured.model_copy(update={"source": "EarlierAnalysis", "at": "t-1"})
    at_100 = reference(Sample(None, None, None), stored=kept)
    assert at_100 == kept
    r = evaluate(canary=BAD_CANARY, stable=at_100, slo=RELATIVE, window="8s", at="t", step=3, weight=100)
    assert r.verdict == "Fail"
    assert "exceeds stable's 0.00% by more than 1.00%" in r.message
    assert "baseline kept from an earlier analysis" in r.message
    assert r.stable_baseline == kept


def test_without_any_baseline_the_window_before_the_rollout_is_used() -> None:
    before = reference(Sample(0, None, None), before=Sample(3000, 0.0, 0.05))
    assert before is not None and before.source == "BeforeRollout" and before.at == "t0"
    r = evaluate(canary=BAD_CANARY, stable=before, slo=RELATIVE, window="8s", at="t", step=3, weight=100)
    assert r.verdict == "Fail"
    assert "before the rollout started" in r.message


def test_a_relative_check_that_cannot_be_evaluated_holds_and_never_passes() -> None:
    good = Sample(800, 0.0, 0.05)
    nothing = reference(Sample(3, 0.0, 0.05), before=Sample(None, None, None))  # too few stable requests
    assert nothing is None
    r = evaluate(canary=good, stable=nothing, slo=RELATIVE, window="8s", at="t", step=3, weight=100)
    assert r.verdict == "NoData"
    assert "not every configured check could be evaluated" in r.message
    # an absolute failure is still a failure without stable numbers
    bad = evaluate(canary=Sample(800, 0.2, 0.05), stable=None, slo=RELATIVE, window="8s", at="t", step=3, weight=100)
    assert bad.verdict == "Fail"


def test_a_baseline_of_another_stable_revision_is_not_used() -> None:
    other = StableBaseline(
        revision="older",
        source="EarlierAnalysis",
        at="t",
        window="1m",
        requests=100,
        error_rate=0,
        latency_p99_seconds=0.1,
    )
    assert reference(Sample(None, None, None), stored=other) is None


# ------------------------------------------------------------------ what no data means, precisely
NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("sample", "words"),
    [
        (Sample(None, None, None), "no series matched"),
        (Sample(NAN, None, None), "the requests query gave no number"),
        (Sample(500, NAN, 0.1), "the request counter did not increase"),
        (Sample(500, 0.0, NAN), "the histogram's series exist but did not change"),
        (Sample(500, 0.0, None), "no latency histogram series"),
    ],
)
def test_no_data_names_its_cause(sample: Sample, words: str) -> None:
    r = verdict(sample)
    assert (r.verdict, r.reason) == ("NoData", "NoData")
    assert words in r.message
    assert r.requests is None or r.requests == r.requests  # never NaN in status


def test_p99_beyond_the_largest_bucket_is_a_failure_not_no_data() -> None:
    r = verdict(Sample(500, 0.0, INF))
    assert r.verdict == "Fail"
    assert "largest bucket" in r.message
    assert r.latency_p99_seconds is None  # status holds JSON numbers only


def test_rejected_queries_and_unreachable_prometheus_are_told_apart() -> None:
    rejected = evaluate(
        canary=None, slo=SLO, window="1m", at="t", step=1, weight=10, error="parse error at char 5", rejected=True
    )
    assert (rejected.verdict, rejected.reason) == ("Error", "QueryRejected")
    assert "parse error at char 5" in rejected.message
    down = verdict(None, error="connection refused")
    assert (down.verdict, down.reason) == ("Error", "PrometheusUnavailable")


# ------------------------------------------------------------------ per-route checks
PER_ROUTE = SLOSpec.model_validate(
    {"maxErrorRate": 0.05, "perRoute": {"maxErrorRate": 0.1, "minRequests": 5, "maxLatencyP99": "500ms"}}
)


def routes(judged: float | None, worst: tuple[str, float] | None, slowest: tuple[str, float] | None) -> Sample:
    return Sample(1000, 0.02, 0.05, routes_judged=judged, worst_route=worst, slowest_route=slowest)


def test_errors_on_one_rare_route_fail_the_per_route_check_and_name_it() -> None:
    r = evaluate(
        canary=routes(3, ("/checkout", 1.0), ("/", 0.08)), slo=PER_ROUTE, window="1m", at="t", step=1, weight=10
    )
    assert r.verdict == "Fail"  # the aggregate 2 % alone passes the 5 % SLO
    assert "route /checkout error rate 100.00% > 10.00%" in r.message
    assert r.routes is not None
    assert (r.routes.worst_route, r.routes.worst_route_error_rate, r.routes.judged) == ("/checkout", 1.0, 3)


def test_slow_route_fails_and_healthy_routes_pass() -> None:
    slow = evaluate(canary=routes(2, None, ("/report", 0.9)), slo=PER_ROUTE, window="1m", at="t", step=1, weight=10)
    assert slow.verdict == "Fail"
    assert "route /report p99 900ms > 500ms" in slow.message
    ok = evaluate(canary=routes(2, ("/a", 0.05), ("/a", 0.1)), slo=PER_ROUTE, window="1m", at="t", step=1, weight=10)
    assert ok.verdict == "Pass"
    no_errors = evaluate(
        canary=routes(2, ("/a", 0.0), ("/a", 0.1)), slo=PER_ROUTE, window="1m", at="t", step=1, weight=10
    )
    assert no_errors.verdict == "Pass"  # no route had a 5xx series: each judged route's error rate is 0
    partial = evaluate(canary=routes(2, None, ("/a", 0.1)), slo=PER_ROUTE, window="1m", at="t", step=1, weight=10)
    assert partial.verdict == "NoData"  # routes judged but no worst route: a partial answer, never a pass


@pytest.mark.parametrize(
    ("sample", "words"),
    [
        (routes(None, None, None), "no route had 5 requests"),
        (routes(2, None, None), "no latency histogram by route"),
    ],
)
def test_per_route_checks_that_cannot_be_evaluated_hold(sample: Sample, words: str) -> None:
    r = evaluate(canary=sample, slo=PER_ROUTE, window="1m", at="t", step=1, weight=10)
    assert r.verdict == "NoData"
    assert words in r.message


def test_route_series_are_read_with_their_route_label() -> None:
    series = [
        ({"asgi_check": "requests"}, 1000.0),
        ({"asgi_check": "error_rate"}, 0.02),
        ({"asgi_check": "latency_p99"}, 0.05),
        ({"asgi_check": "routes_judged"}, 3.0),
        ({"asgi_check": "route_error_rate", "handler": "/checkout"}, 1.0),
        ({"asgi_check": "route_latency_p99", "handler": "/report"}, 0.9),
    ]
    s = Sample.from_series(series, "handler")
    assert s == routes(3.0, ("/checkout", 1.0), ("/report", 0.9))


def test_per_route_queries_judge_only_routes_with_enough_requests() -> None:
    from asgi_operator.rollout.queries import RouteCheck

    q = combined(profile_for(MetricsProfile.FASTAPI_INSTRUMENTATOR, None), TARGET, RouteCheck(5, latency=True))
    assert q.count("label_replace(") == 6
    judged = "sum by (handler) (increase(http_requests_total{"
    assert judged in q and ">= 5)" in q
    assert "topk(1, ((sum by (handler) (rate(http_requests_total{" in q
    assert ") or on (handler) (0 * (sum by (handler) (increase(http_requests_total{" in q  # 0 without errors
    assert "and on (handler)" in q
    # the per-handler histogram (coarse buckets) is the one with the route label
    assert "sum by (handler, le) (rate(http_request_duration_seconds_bucket{" in q
    no_p99 = combined(profile_for(MetricsProfile.STARLETTE_EXPORTER, None), TARGET, RouteCheck(5, latency=False))
    assert no_p99.count("label_replace(") == 5
    assert "sum by (path) (rate(starlette_requests_total{" in no_p99


def test_custom_route_queries_are_wrapped_the_same_way() -> None:
    from asgi_operator.rollout.queries import RouteCheck

    custom = CustomQueries.model_validate(
        {
            "requests": "r",
            "errorRate": "e",
            "latencyP99": "p",
            "routeLabel": "route",
            "routeRequests": "sum by (route) (increase(x{ {{ selector }} }[{{ window }}]))",
            "routeErrorRate": "route_errors",
        }
    )
    q = combined(profile_for(MetricsProfile.CUSTOM, custom), TARGET, RouteCheck(7, latency=False))
    assert 'and on (route) ((sum by (route) (increase(x{ namespace="shop"' in q
    assert ">= 7)" in q and "topk(1, ((route_errors) or on (route) (0 * (sum by (route)" in q


# ------------------------------------------------------------------ windows in canonical form
def test_analysis_window_is_canonical_and_holds_enough_scrapes() -> None:
    from asgi_operator.api.models import AsgiServiceSpec
    from asgi_operator.rollout.analysis import analysis_window

    def window(**rollout: object) -> str:
        spec = AsgiServiceSpec.model_validate(
            {"image": "i", "app": "m:a", "metrics": {"interval": "15s"}, "rollout": rollout}
        )
        return analysis_window(spec)

    assert window(interval="1.5m") == "1m30s"
    assert window(interval="20s") == "1m"  # at least 4 scrapes of 15s
    assert window(slo={"window": "0.5h"}) == "30m"
    assert window(slo={"window": "90s"}) == "1m30s"
