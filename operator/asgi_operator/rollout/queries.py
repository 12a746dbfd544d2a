"""PromQL for the canary analysis, per metrics profile (one small interface, one class per library).

Series are selected by the labels the operator puts on pods (`asgi.dev/name`, `asgi.dev/track`,
`asgi.dev/revision`), as Prometheus sees them after a PodMonitor's podTargetLabels or the usual
`labelmap` relabeling: `asgi_dev_name`, `asgi_dev_track`, `asgi_dev_revision`, plus `namespace`.
Probe and metrics endpoints are left out, so kubelet probes are never mistaken for traffic.

The numbers of one track (requests in the window, error rate, p99 latency and, with `slo.perRoute`, the
worst route by error rate and by p99 and how many routes had enough requests to be judged) come back from ONE
query: each is tagged with an `asgi_check` label and joined with `or`. An analysis therefore costs one query
for the canary and, only when relative thresholds are set, one for stable. Each tag is at most one series in
the answer (`checks`); an answer with more, or with series for other tags, is ambiguous (`ambiguity`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final, Protocol

from ..api.models import CustomQueries, MetricsProfile

CHECK_LABEL: Final = "asgi_check"
REQUESTS: Final = "requests"
ERROR_RATE: Final = "error_rate"
LATENCY_P99: Final = "latency_p99"
ROUTES_JUDGED: Final = "routes_judged"
ROUTE_ERROR_RATE: Final = "route_error_rate"
ROUTE_LATENCY_P99: Final = "route_latency_p99"
ALL_CHECKS: Final = (REQUESTS, ERROR_RATE, LATENCY_P99, ROUTES_JUDGED, ROUTE_ERROR_RATE, ROUTE_LATENCY_P99)

LABEL_NAMESPACE: Final = "namespace"
LABEL_NAME: Final = "asgi_dev_name"
LABEL_TRACK: Final = "asgi_dev_track"
LABEL_REVISION: Final = "asgi_dev_revision"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Target:
    """Which pods' series to read: one track of one AsgiService, at one revision."""

    namespace: str
    name: str
    track: str
    revision: str
    window: str  # a PromQL range in canonical form (durations.canonical), e.g. "1m30s"
    excluded_paths: tuple[str, ...] = ()  # probe and metrics paths

    def selector(self) -> str:
        return ",".join(
            f"{label}={_quote(value)}"
            for label, value in (
                (LABEL_NAMESPACE, self.namespace),
                (LABEL_NAME, self.name),
                (LABEL_TRACK, self.track),
                (LABEL_REVISION, self.revision),
            )
        )

    def excluded(self, label: str) -> str:
        if not self.excluded_paths:
            return ""
        alternatives = "|".join(re.escape(p) for p in sorted(set(self.excluded_paths)))
        return f",{label}!~{_quote(alternatives)}"


class Profile(Protocol):
    def requests(self, t: Target) -> str: ...
    def error_rate(self, t: Target) -> str: ...
    def latency_p99(self, t: Target) -> str: ...

    # per route (slo.perRoute): one series per route, labelled by `route_label`
    @property
    def route_label(self) -> str | None: ...
    def route_requests(self, t: Target) -> str: ...
    def route_error_rate(self, t: Target) -> str: ...
    def route_latency_p99(self, t: Target) -> str: ...


@dataclass(frozen=True)
class CounterAndHistogram:
    """A library with a request counter labelled by status and a latency histogram."""

    counter: str
    status_label: str
    path_label: str
    histogram: str
    histogram_has_path: bool
    route_histogram: str  # a latency histogram labelled by path_label

    @property
    def route_label(self) -> str:
        return self.path_label

    def _m(self, t: Target) -> str:
        return t.selector() + t.excluded(self.path_label)

    def requests(self, t: Target) -> str:
        return f"sum(increase({self.counter}{{{self._m(t)}}}[{t.window}]))"

    def error_rate(self, t: Target) -> str:
        m = self._m(t)
        five = f'{self.status_label}=~"5.."'
        # a counter has no 5xx series until the first error: "or vector(0)", else no errors reads as no data
        errors = f"(sum(rate({self.counter}{{{m},{five}}}[{t.window}])) or vector(0))"
        return f"{errors} / sum(rate({self.counter}{{{m}}}[{t.window}]))"

    def latency_p99(self, t: Target) -> str:
        m = self._m(t) if self.histogram_has_path else t.selector()
        return f"histogram_quantile(0.99, sum by (le) (rate({self.histogram}_bucket{{{m}}}[{t.window}])))"

    def route_requests(self, t: Target) -> str:
        return f"sum by ({self.path_label}) (increase({self.counter}{{{self._m(t)}}}[{t.window}]))"

    def route_error_rate(self, t: Target) -> str:
        m, by = self._m(t), self.path_label
        five = f'{self.status_label}=~"5.."'
        # routes without a 5xx series drop out here; combined() gives them 0
        return (
            f"sum by ({by}) (rate({self.counter}{{{m},{five}}}[{t.window}])) / "
            f"sum by ({by}) (rate({self.counter}{{{m}}}[{t.window}]))"
        )

    def route_latency_p99(self, t: Target) -> str:
        by = self.path_label
        return (
            f"histogram_quantile(0.99, sum by ({by}, le) "
            f"(rate({self.route_histogram}_bucket{{{self._m(t)}}}[{t.window}])))"
        )


# prometheus-fastapi-instrumentator: `status` grouped as "5xx" by default (=~"5.." matches both forms);
# the fine-grained latency histogram has no labels at all (so no path filter), 21 buckets up to 60 s.
FASTAPI_INSTRUMENTATOR: Final = CounterAndHistogram(
    counter="http_requests_total",
    status_label="status",
    path_label="handler",
    histogram="http_request_duration_highr_seconds",
    histogram_has_path=False,
    route_histogram="http_request_duration_seconds",
)
# starlette-exporter: numeric `status_code`; 499 (client went away) does not match 5..
STARLETTE_EXPORTER: Final = CounterAndHistogram(
    counter="starlette_requests_total",
    status_label="status_code",
    path_label="path",
    histogram="starlette_request_duration_seconds",
    histogram_has_path=True,
    route_histogram="starlette_request_duration_seconds",
)

_VARIABLE = re.compile(r"\{\{\s*(namespace|name|track|revision|window|selector)\s*\}\}")


@dataclass(frozen=True)
class Custom:
    """PromQL templates written by the user, with {{ variables }}."""

    queries: CustomQueries

    @staticmethod
    def _fill(template: str, t: Target) -> str:
        values = {
            "namespace": t.namespace,
            "name": t.name,
            "track": t.track,
            "revision": t.revision,
            "window": t.window,
            "selector": t.selector(),
        }
        return _VARIABLE.sub(lambda m: values[m.group(1)], template)

    def requests(self, t: Target) -> str:
        return self._fill(self.queries.requests, t)

    def error_rate(self, t: Target) -> str:
        return self._fill(self.queries.error_rate, t)

    def latency_p99(self, t: Target) -> str:
        return self._fill(self.queries.latency_p99, t)

    @property
    def route_label(self) -> str | None:
        return self.queries.route_label

    def route_requests(self, t: Target) -> str:
        return self._fill(self.queries.route_requests or "", t)

    def route_error_rate(self, t: Target) -> str:
        return self._fill(self.queries.route_error_rate or "", t)

    def route_latency_p99(self, t: Target) -> str:
        return self._fill(self.queries.route_latency_p99 or "", t)


def profile_for(kind: MetricsProfile, custom: CustomQueries | None) -> Profile:
    if kind == MetricsProfile.CUSTOM:
        assert custom is not None, "the CRD requires queries with the custom profile"
        return Custom(custom)
    return FASTAPI_INSTRUMENTATOR if kind == MetricsProfile.FASTAPI_INSTRUMENTATOR else STARLETTE_EXPORTER


@dataclass(frozen=True)
class RouteCheck:
    """What slo.perRoute asks of the query: routes need `min_requests` to be judged; p99 only if set."""

    min_requests: int
    latency: bool


def _tag(query: str, check: str) -> str:
    return f'label_replace(({query}), "{CHECK_LABEL}", "{check}", "", "")'


def _parts(profile: Profile, t: Target, routes: RouteCheck | None) -> list[tuple[str, str]]:
    """(asgi_check, PromQL) of each part of the combined query."""
    parts = [
        (REQUESTS, profile.requests(t)),
        (ERROR_RATE, profile.error_rate(t)),
        (LATENCY_P99, profile.latency_p99(t)),
    ]
    if routes is not None and profile.route_label:
        judged = f"(({profile.route_requests(t)}) >= {routes.min_requests})"
        on = f"and on ({profile.route_label}) {judged}"
        parts.append((ROUTES_JUDGED, f"count({judged})"))
        # a route without a 5xx series has no error rate: 0 for it, so a judged route always has one (and an
        # answer without a worst route is a partial one, never "no errors")
        zero = f"(0 * ({profile.route_requests(t)}))"
        rates = f"(({profile.route_error_rate(t)}) or on ({profile.route_label}) {zero})"
        parts.append((ROUTE_ERROR_RATE, f"topk(1, {rates} {on})"))
        if routes.latency:
            parts.append((ROUTE_LATENCY_P99, f"topk(1, ({profile.route_latency_p99(t)}) {on})"))
    return parts


def combined(profile: Profile, t: Target, routes: RouteCheck | None = None) -> str:
    """One instant query returning up to three series, tagged asgi_check=requests|error_rate|latency_p99,
    and with `routes` up to three more: routes_judged (how many routes had enough requests), and the worst
    route by error rate and by p99 among those, each carrying the route label."""
    return " or ".join(_tag(query, check) for check, query in _parts(profile, t, routes))


def checks(profile: Profile, routes: RouteCheck | None = None) -> tuple[str, ...]:
    """The asgi_check values `combined` asks for, each at most one series: every part is a single number (a
    sum, a count, a histogram_quantile of a sum by le) or the top one route (topk(1, ...)), so a second series
    for a check is an answer that did not come from this query as written."""
    return tuple(check for check, _ in _parts(profile, Target("", "", "", "", "1m"), routes))


class AmbiguousAnswer(ValueError):
    """An answer whose series do not give one number per check (the message says what came back): what a query
    without aggregation, a misconfigured recording rule or a proxy answering for Prometheus returns. Read
    anyway, any one of the series could make a bad canary pass."""


_SHOWN_CHECKS = 3  # unknown asgi_check values named in a message; the others are counted


def ambiguity(found: Counter[str | None], asked: Collection[str]) -> str | None:
    """What is wrong with an answer holding `found` series per asgi_check value (None: unlabelled); None when
    every check has at most one series and every series is for a check asked."""
    problems: list[str] = []
    if found[None]:
        problems.append(f"{found[None]:,} series without the {CHECK_LABEL} label")
    many = [(check, found[check]) for check in asked if found[check] > 1]
    if many:  # "3,333 series for requests, 3,334 for error_rate, expected 1 each"
        listed = ", ".join(f"{n:,}{' series' if i == 0 else ''} for {check}" for i, (check, n) in enumerate(many))
        problems.append(f"{listed}, expected 1{' each' if len(many) > 1 else ''}")
    unknown = [(check, n) for check, n in found.items() if check is not None and check not in asked]
    if unknown:
        named = [f"{n:,} for {_cut(check)}" for check, n in unknown[:_SHOWN_CHECKS]]
        more = len(unknown) - _SHOWN_CHECKS
        others = f" and {more:,} other {CHECK_LABEL} values" if more > 0 else ""
        problems.append(f"series for checks not asked ({', '.join(named)}{others})")
    return "; ".join(problems) if problems else None


def _cut(text: str, most: int = 40) -> str:
    return repr(text if len(text) <= most else text[: most - 3] + "...")
