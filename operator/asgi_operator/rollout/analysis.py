"""SLO verdicts from numbers: Pass, Fail, NoData or Error. Pure.

No data is its own verdict. Too few requests, a NaN, or a profile matching no series never passes, and
never fails a canary by itself either: the step holds until data arrives or the progress deadline ends it.
Prometheus being unreachable, refusing the query, or giving an answer that cannot be read unambiguously (two
series for one check, a series for a check not asked: `Sample.from_series` refuses it) is `Error`, which holds
the same way.

Every check that is configured must be evaluated for a Pass: a relative check without stable numbers, or a
per-route check without a route that had enough requests, holds as NoData (a Fail elsewhere still fails).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ..api.durations import canonical, format_seconds, seconds
from ..api.models import WINDOW_SCRAPES, AnalysisResult, AsgiServiceSpec, RouteResult, SLOSpec, StableBaseline
from ..api.vocabulary import EventReason as R
from ..api.vocabulary import Verdict
from .queries import (
    ALL_CHECKS,
    CHECK_LABEL,
    ERROR_RATE,
    LATENCY_P99,
    REQUESTS,
    ROUTE_ERROR_RATE,
    ROUTE_LATENCY_P99,
    ROUTES_JUDGED,
    AmbiguousAnswer,
    ambiguity,
)


def analysis_window(spec: AsgiServiceSpec) -> str:
    """The PromQL range of an analysis, canonical: slo.window, else the analysis interval but at least
    WINDOW_SCRAPES scrapes."""
    if spec.rollout.slo.window:
        return canonical(spec.rollout.slo.window)
    return canonical(max(seconds(spec.rollout.interval), WINDOW_SCRAPES * seconds(spec.metrics.interval)))


@dataclass(frozen=True)
class Sample:
    """One track's numbers over the analysis window, as Prometheus gave them: None when the series was
    absent, NaN or +Inf when Prometheus computed that."""

    requests: float | None
    error_rate: float | None
    latency_p99: float | None
    routes_judged: float | None = None
    worst_route: tuple[str, float] | None = None  # (route, error rate)
    slowest_route: tuple[str, float] | None = None  # (route, p99 seconds)

    @classmethod
    def from_series(
        cls,
        series: Iterable[tuple[Mapping[str, str], float]],
        route_label: str | None = None,
        asked: Collection[str] = ALL_CHECKS,
    ) -> Sample:
        """From the series of a `queries.combined` answer, told apart by their asgi_check label: at most one for
        each check `asked` (queries.checks) and none other, else AmbiguousAnswer naming what came back."""
        read = list(series)
        found = Counter(labels.get(CHECK_LABEL) or None for labels, _ in read)
        problem = ambiguity(found, asked)
        if problem is not None:
            raise AmbiguousAnswer(problem)
        values: dict[str, float] = {}
        routes: dict[str, tuple[str, float]] = {}
        for labels, value in read:
            check = labels.get(CHECK_LABEL, "")
            values[check] = value
            if route_label and check in (ROUTE_ERROR_RATE, ROUTE_LATENCY_P99):
                routes[check] = (labels.get(route_label, ""), value)
        return cls(
            requests=values.get(REQUESTS),
            error_rate=values.get(ERROR_RATE),
            latency_p99=values.get(LATENCY_P99),
            routes_judged=values.get(ROUTES_JUDGED),
            worst_route=routes.get(ROUTE_ERROR_RATE),
            slowest_route=routes.get(ROUTE_LATENCY_P99),
        )

    def conclusive(self, min_requests: int) -> bool:
        """Enough requests and finite numbers: good enough to compare another track with."""
        return (
            _finite(self.requests)
            and self.requests is not None
            and self.requests >= max(1, min_requests)
            and _rate(self.error_rate)
            and _finite(self.latency_p99)
            and self.latency_p99 is not None
            and self.latency_p99 >= 0
        )


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _rate(value: float | None) -> bool:
    """A number an error rate can be: finite and not negative (a negative one is garbage, never a pass)."""
    return _finite(value) and value is not None and value >= 0


def _stored(value: float | None) -> float | None:
    """Status holds JSON numbers: NaN and infinities are kept out (the message says what they were)."""
    return value if _finite(value) else None


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


def _ms(value: float) -> str:
    return f"{value * 1000:.0f}ms"


def stable_reference(
    *,
    revision: str,
    current: Sample | None,
    current_at: str,
    window: str,
    stored: StableBaseline | None,
    before_rollout: Sample | None,
    before_rollout_at: str | None,
    min_requests: int,
) -> StableBaseline | None:
    """What a relative check compares the canary with: stable measured in the same window while it still
    serves traffic; else its last conclusive numbers from this rollout; else the window that ended when the
    rollout started (stable had all the traffic then); else nothing, and the relative check cannot be
    evaluated."""

    def baseline(s: Sample | None, at: str, source: Literal["SameWindow", "BeforeRollout"]) -> StableBaseline | None:
        known = _known(s) if s is not None and s.conclusive(min_requests) else None
        if known is None:
            return None
        return StableBaseline(
            revision=revision,
            source=source,
            at=at,
            window=window,
            requests=known.requests,
            error_rate=known.error_rate,
            latency_p99_seconds=known.latency_p99,
        )

    now = baseline(current, current_at, "SameWindow")
    if now is not None:
        return now
    if stored is not None and stored.revision == revision:
        return stored
    return baseline(before_rollout, before_rollout_at, "BeforeRollout") if before_rollout_at else None


def needs_before_rollout(
    current: Sample | None, stored: StableBaseline | None, revision: str, min_requests: int
) -> bool:
    """Only when stable has no numbers now and none were kept: then ask Prometheus about the window that ended
    when the rollout started."""
    fresh = current is not None and current.conclusive(min_requests)
    return not fresh and (stored is None or stored.revision != revision)


@dataclass(frozen=True)
class _Known:
    """A track's numbers once none is missing (NaN and +Inf p99 may still be in them)."""

    requests: float
    error_rate: float
    latency_p99: float


def _known(sample: Sample) -> _Known | None:
    if sample.requests is None or sample.error_rate is None or sample.latency_p99 is None:
        return None
    return _Known(sample.requests, sample.error_rate, sample.latency_p99)


@dataclass
class _Checks:
    failures: list[str]
    unevaluated: list[str]
    notes: list[str]


def _no_data(sample: Sample, slo: SLOSpec, window: str) -> str | None:
    """Why the canary's own numbers cannot be judged (None: they can)."""
    r = sample.requests
    if r is None:
        return (
            f"no request series for the canary in the last {window}: no series matched (is the metrics profile "
            "right, and does Prometheus scrape the canary's pods?), or the window held fewer than two scrapes"
        )
    if not math.isfinite(r):
        return f"the canary's request count in the last {window} is {r}: the requests query gave no number"
    if r < slo.min_requests:
        return f"only {r:.0f} requests in the last {window}; at least {slo.min_requests} are needed for a verdict"
    e = sample.error_rate
    if e is None:
        return f"no error rate for the canary in the last {window}: the error-rate query matched no series"
    if not math.isfinite(e):
        return (
            f"the canary's error rate in the last {window} is undefined ({e}): the request counter did not "
            "increase within the window"
        )
    if e < 0:
        return f"the canary's error rate in the last {window} is {e}: not a rate (the error-rate query is wrong)"
    p = sample.latency_p99
    if p is None:
        return (
            f"no latency histogram series for the canary in the last {window}: does the app expose the "
            "profile's histogram?"
        )
    if math.isnan(p):
        return (
            f"no latency observations for the canary in the last {window}: the histogram's series exist but "
            "did not change"
        )
    if p < 0:  # +Inf is a latency (beyond the largest bucket); -Inf or below zero is none
        return f"the canary's p99 in the last {window} is {p}: not a latency (the latency query is wrong)"
    return None


def _absolute(sample: _Known, slo: SLOSpec, checks: _Checks) -> None:
    max_p99 = seconds(slo.max_latency_p99)
    if sample.error_rate > slo.max_error_rate:
        checks.failures.append(f"error rate {_pct(sample.error_rate)} > {_pct(slo.max_error_rate)}")
    if math.isinf(sample.latency_p99):
        checks.failures.append(f"p99 above the latency histogram's largest bucket (max {format_seconds(max_p99)})")
    elif sample.latency_p99 > max_p99:
        checks.failures.append(f"p99 {_ms(sample.latency_p99)} > {format_seconds(max_p99)}")


def _relative(sample: _Known, slo: SLOSpec, stable: StableBaseline | None, checks: _Checks) -> None:
    relative = slo.relative
    if relative is None:
        return
    if stable is None:
        checks.unevaluated.append(
            f"relative checks: stable had fewer than {slo.min_requests} requests in this window, and no baseline "
            "was measured earlier in this rollout or before it started"
        )
        return
    if stable.source != "SameWindow":
        how = "kept from an earlier analysis" if stable.source == "EarlierAnalysis" else "before the rollout started"
        checks.notes.append(f"stable compared by its baseline {how} ({stable.window} ending {stable.at})")
    if (
        relative.max_error_rate_increase is not None
        and sample.error_rate - stable.error_rate > relative.max_error_rate_increase
    ):
        checks.failures.append(
            f"error rate {_pct(sample.error_rate)} exceeds stable's {_pct(stable.error_rate)} by more than "
            f"{_pct(relative.max_error_rate_increase)}"
        )
    pct = relative.max_latency_p99_increase_percent
    if pct is not None and sample.latency_p99 > stable.latency_p99_seconds * (1 + pct / 100):
        shown = "beyond the largest bucket" if math.isinf(sample.latency_p99) else _ms(sample.latency_p99)
        checks.failures.append(f"p99 {shown} is more than {pct}% above stable's {_ms(stable.latency_p99_seconds)}")


def _routes(sample: Sample, slo: SLOSpec, checks: _Checks) -> RouteResult | None:
    per_route = slo.per_route
    if per_route is None:
        return None
    max_p99 = seconds(per_route.max_latency_p99) if per_route.max_latency_p99 else None
    judged = int(sample.routes_judged) if _finite(sample.routes_judged) and sample.routes_judged else 0
    judged = max(judged, 0)
    result = RouteResult(
        judged=judged,
        min_requests=per_route.min_requests,
        max_error_rate=per_route.max_error_rate,
        max_latency_p99_seconds=max_p99,
    )
    if judged == 0:
        checks.unevaluated.append(f"per-route checks: no route had {per_route.min_requests} requests in the window")
        return result
    # every judged route has an error rate (0 without errors, queries.combined): none is a partial answer
    worst = sample.worst_route
    if worst is None:
        checks.unevaluated.append("per-route error rate: no worst route by error rate among the judged routes")
    elif not _rate(worst[1]):
        checks.unevaluated.append(f"per-route error rate: route {worst[0]} error rate is {worst[1]}, not a rate")
    else:
        result.worst_route, result.worst_route_error_rate = worst
        if worst[1] > per_route.max_error_rate:
            checks.failures.append(f"route {worst[0]} error rate {_pct(worst[1])} > {_pct(per_route.max_error_rate)}")
    if max_p99 is not None:
        slowest = sample.slowest_route
        if slowest is None or math.isnan(slowest[1]):
            checks.unevaluated.append("per-route p99: no latency histogram by route for the judged routes")
        elif slowest[1] < 0:
            checks.unevaluated.append(f"per-route p99: route {slowest[0]} p99 is {slowest[1]}, not a latency")
        else:
            result.slowest_route = slowest[0]
            result.slowest_route_latency_p99_seconds = _stored(slowest[1])
            if slowest[1] > max_p99:
                shown = "beyond the largest bucket" if math.isinf(slowest[1]) else _ms(slowest[1])
                checks.failures.append(f"route {slowest[0]} p99 {shown} > {format_seconds(max_p99)}")
    return result


def evaluate(
    *,
    canary: Sample | None,
    slo: SLOSpec,
    window: str,
    at: str,
    step: int,
    weight: int,
    stable: StableBaseline | None = None,
    error: str | None = None,
    rejected: bool = False,
    auth_failed: bool = False,
    unreadable: bool = False,
) -> AnalysisResult:
    """The verdict on one analysis of the canary, with every number and threshold behind it. `stable` is
    what relative checks compare with (see `stable_reference`); `error` means Prometheus gave no answer, or
    with `rejected` refused the query, with `auth_failed` could not be asked (a credential is missing or
    was refused: the message names where it comes from), with `unreadable` gave an answer that cannot be read
    unambiguously (the message names what came back)."""
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
        if rejected:
            return AnalysisResult(verdict=Verdict.ERROR, reason=R.QUERY_REJECTED, message=f"{error}", **base)
        if auth_failed:
            return AnalysisResult(verdict=Verdict.ERROR, reason=R.PROMETHEUS_AUTH_FAILED, message=f"{error}", **base)
        if unreadable:
            return AnalysisResult(verdict=Verdict.ERROR, reason=R.UNREADABLE_ANSWER, message=f"{error}", **base)
        return AnalysisResult(
            verdict=Verdict.ERROR, reason=R.PROMETHEUS_UNAVAILABLE, message=f"Prometheus unavailable: {error}", **base
        )
    numbers = {
        "requests": _stored(canary.requests),
        "error_rate": _stored(canary.error_rate),
        "latency_p99_seconds": _stored(canary.latency_p99),
        "stable_error_rate": stable.error_rate if stable else None,
        "stable_latency_p99_seconds": stable.latency_p99_seconds if stable else None,
        "stable_baseline": stable,
    }
    missing = _no_data(canary, slo, window)
    known = _known(canary)
    if missing is not None or known is None:
        return AnalysisResult(
            verdict=Verdict.NO_DATA, reason=R.NO_DATA, message=missing or "no data", **base, **numbers
        )

    checks = _Checks([], [], [])
    _absolute(known, slo, checks)
    _relative(known, slo, stable, checks)
    routes = _routes(canary, slo, checks)
    p99 = "above the largest bucket" if math.isinf(known.latency_p99) else _ms(known.latency_p99)
    summary = (
        f"{known.requests:.0f} requests, error rate {_pct(known.error_rate)} (max {_pct(slo.max_error_rate)}), "
        f"p99 {p99} (max {format_seconds(max_p99)})"
    )
    if routes is not None and routes.judged:
        summary += f"; {routes.judged} routes judged"
        if routes.worst_route is not None and routes.worst_route_error_rate is not None:
            summary += f", worst {routes.worst_route} at {_pct(routes.worst_route_error_rate)}"
    if checks.failures:
        verdict = Verdict.FAIL
        message = "; ".join(checks.failures)
    elif checks.unevaluated:
        verdict = Verdict.NO_DATA
        message = f"{summary}, but not every configured check could be evaluated: {'; '.join(checks.unevaluated)}"
    else:
        verdict, message = Verdict.PASS, summary
    if checks.notes:
        message += f" ({'; '.join(checks.notes)})"
    return AnalysisResult(
        verdict=verdict,
        reason=R.NO_DATA if verdict == Verdict.NO_DATA else None,
        message=message,
        routes=routes,
        **base,
        **numbers,
    )
