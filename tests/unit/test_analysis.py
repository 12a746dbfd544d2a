"""SLO verdicts from numbers, and the PromQL each metrics profile sends."""

from __future__ import annotations

import pytest

from asgi_operator.api.models import CustomQueries, MetricsProfile, SLOSpec
from asgi_operator.rollout.analysis import Sample, evaluate
from asgi_operator.rollout.queries import Target, combined, profile_for

SLO = SLOSpec()  # max error rate 0.5 %, p99 200 ms, at least 20 requests


def verdict(canary: Sample | None, stable: Sample | None = None, slo: SLOSpec = SLO, error: str | None = None):  # type: ignore[no-untyped-def]
    return evaluate(canary=canary, stable=stable, slo=slo, window="1m", at="t", step=1, weight=10, error=error)


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
        (Sample(500, 0.0, None), "no p99 latency"),
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
    no_stable = verdict(Sample(500, 0.001, 0.13), Sample(None, None, None), slo)
    assert no_stable.verdict == "Pass"
    assert "relative checks skipped" in no_stable.message


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
