"""SLO verdicts from numbers: Pass, Fail, NoData or Error. Pure.

No data is its own verdict. Too few requests, a NaN, or a profile matching no series never passes, and
never fails a canary by itself either: the step holds until data arrives or the progress deadline ends it.
Prometheus being unreachable is `Error`, which holds the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..api.durations import format_seconds, seconds
from ..api.models import AnalysisResult, SLOSpec

Verdict = Literal["Pass", "Fail", "NoData", "Error"]


@dataclass(frozen=True)
class Sample:
    """One track's numbers over the analysis window (None: no data)."""

    requests: float | None
    error_rate: float | None
    latency_p99: float | None

    @classmethod
    def from_checks(cls, checks: dict[str, float | None]) -> Sample:
        return cls(checks.get("requests"), checks.get("error_rate"), checks.get("latency_p99"))


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


def _ms(value: float) -> str:
    return f"{value * 1000:.0f}ms"


def evaluate(
    *,
    canary: Sample | None,
    stable: Sample | None,
    slo: SLOSpec,
    window: str,
    at: str,
    step: int,
    weight: int,
    error: str | None = None,
) -> AnalysisResult:
    """The verdict on one analysis of the canary, with every number and threshold behind it."""
    max_p99 = seconds(slo.max_latency_p99)
    base = {
        "at": at,
        "step": step,
        "weight": weight,
        "max_error_rate": slo.max_error_rate,
        "max_latency_p99_seconds": max_p99,
        "min_requests": slo.min_requests,
    }
    if error is not None or canary is None:
        return AnalysisResult(verdict="Error", message=f"Prometheus unavailable: {error}", **base)
    numbers = {
        "requests": canary.requests,
        "error_rate": canary.error_rate,
        "latency_p99_seconds": canary.latency_p99,
        "stable_error_rate": stable.error_rate if stable else None,
        "stable_latency_p99_seconds": stable.latency_p99 if stable else None,
    }
    if canary.requests is None:
        return AnalysisResult(
            verdict="NoData",
            message=f"no request series for the canary in the last {window}: is the metrics profile right, "
            "and does Prometheus scrape the canary's pods?",
            **base,
            **numbers,
        )
    if canary.requests < slo.min_requests:
        return AnalysisResult(
            verdict="NoData",
            message=f"only {canary.requests:.0f} requests in the last {window}; at least {slo.min_requests} "
            "are needed for a verdict",
            **base,
            **numbers,
        )
    if canary.error_rate is None or canary.latency_p99 is None:
        missing = "error rate" if canary.error_rate is None else "p99 latency (no histogram series)"
        return AnalysisResult(
            verdict="NoData", message=f"no {missing} for the canary in the last {window}", **base, **numbers
        )

    failures: list[str] = []
    if canary.error_rate > slo.max_error_rate:
        failures.append(f"error rate {_pct(canary.error_rate)} > {_pct(slo.max_error_rate)}")
    if canary.latency_p99 > max_p99:
        failures.append(f"p99 {_ms(canary.latency_p99)} > {format_seconds(max_p99)}")
    notes: list[str] = []
    relative = slo.relative
    if relative is not None:
        if stable is None or stable.error_rate is None or stable.latency_p99 is None:
            notes.append("relative checks skipped: no data for stable in the same window")
        else:
            if (
                relative.max_error_rate_increase is not None
                and canary.error_rate - stable.error_rate > relative.max_error_rate_increase
            ):
                failures.append(
                    f"error rate {_pct(canary.error_rate)} exceeds stable's {_pct(stable.error_rate)} by more "
                    f"than {_pct(relative.max_error_rate_increase)}"
                )
            pct = relative.max_latency_p99_increase_percent
            if pct is not None and canary.latency_p99 > stable.latency_p99 * (1 + pct / 100):
                failures.append(
                    f"p99 {_ms(canary.latency_p99)} is more than {pct}% above stable's {_ms(stable.latency_p99)}"
                )
    summary = (
        f"{canary.requests:.0f} requests, error rate {_pct(canary.error_rate)} (max {_pct(slo.max_error_rate)}), "
        f"p99 {_ms(canary.latency_p99)} (max {format_seconds(max_p99)})"
    )
    message = "; ".join(failures) if failures else summary
    if notes:
        message += f" ({'; '.join(notes)})"
    return AnalysisResult(verdict="Fail" if failures else "Pass", message=message, **base, **numbers)
