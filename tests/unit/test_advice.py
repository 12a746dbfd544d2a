"""Advice on a spec the operator runs as written (reconcile.advice): an analysis interval under four scrapes
re-reads old samples, and says so with both fields, their values and the window actually used."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_operator.api.models import AsgiServiceSpec
from asgi_operator.reconcile.advice import overlapping_analyses
from asgi_operator.rollout.analysis import analysis_window


def spec(interval: str, scrape: str = "10s", **rollout: Any) -> AsgiServiceSpec:
    return AsgiServiceSpec.model_validate(
        {"image": "i", "app": "m:a", "metrics": {"interval": scrape}, "rollout": {"interval": interval, **rollout}}
    )


def test_an_interval_under_four_scrapes_is_told_with_both_fields_and_the_window_used() -> None:
    s = spec("15s", "10s")
    event = overlapping_analyses(s)
    assert event is not None and event.type == "Warning" and event.reason == "AnalysisWindowOverlaps"
    assert analysis_window(s) == "40s"
    assert event.message.startswith(
        "spec.rollout.interval 15s is under 4 x spec.metrics.interval 10s: each analysis reads the last 40s "
        "(4 scrapes), so it re-reads samples the analysis before it already counted."
    ), event.message
    assert "at least 40s" in event.message and "spec.rollout.slo.window" in event.message


@pytest.mark.parametrize(
    ("s", "why"),
    [
        (spec("40s", "10s"), "four scrapes exactly: each analysis reads only new samples"),
        (spec("1m"), "the defaults"),
        (spec("15s", "10s", slo={"window": "40s"}), "a window the author chose"),
        (spec("15s", "10s", strategy="RollingUpdate"), "no analysis at all"),
    ],
)
def test_nothing_to_tell(s: AsgiServiceSpec, why: str) -> None:
    assert overlapping_analyses(s) is None, why
