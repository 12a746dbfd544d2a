"""`spec.rollout`: how a new revision is rolled out, the SLOs a canary must hold and where its metrics are."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Final, Literal

from pydantic import Field

from .base import Model, nested
from .durations import Duration, seconds
from .hooks import PreDeploySpec
from .patterns import PROM_LABEL_PATTERN
from .prom_auth import PrometheusAuth
from .rules import Rule, cel_string

# rate() needs two samples in its range, so the analysis window holds at least this many scrapes ...
MIN_WINDOW_SCRAPES: Final = 2
# ... and, when not set, at least this many (4 is the usual rule).
WINDOW_SCRAPES: Final = 4
MIN_INTERVAL: Final = "1s"


class Router(StrEnum):
    GATEWAY_API = "gatewayAPI"
    INGRESS_NGINX = "ingressNginx"
    REPLICAS = "replicas"


class MetricsProfile(StrEnum):
    FASTAPI_INSTRUMENTATOR = "fastapiInstrumentator"
    STARLETTE_EXPORTER = "starletteExporter"
    CUSTOM = "custom"


_CUSTOM: Final = cel_string(MetricsProfile.CUSTOM.value)


class RelativeSLOSpec(Model):
    """Thresholds relative to the stable revision. Stable is measured in the same window while it serves
    traffic; when it serves none (the 100 % step), the canary is compared with stable's baseline: its last
    conclusive measurement in this rollout, else the window that ended when the rollout started. A relative
    check that has neither never passes: the step holds (NoData) until the progress deadline."""

    max_error_rate_increase: float | None = Field(
        None,
        ge=0,
        le=1,
        description="The canary's error rate may exceed stable's by at most this (0.01 = 1 pt).",
    )
    max_latency_p99_increase_percent: int | None = Field(
        None,
        ge=0,
        le=10000,
        alias="maxLatencyP99IncreasePercent",
        description="p99 may be this % above stable.",
    )


class RouteSLOSpec(Model):
    """The worst single route (fastapiInstrumentator: the `handler` label, starletteExporter: `path`, custom:
    queries.routeLabel) must hold these. Routes with fewer than minRequests requests in the window are not
    judged; when no route has that many, the check cannot be evaluated and the step holds (NoData)."""

    max_error_rate: float = Field(ge=0, le=1, description="Highest share of 5xx responses of any one route.")
    max_latency_p99: Duration | None = Field(
        None,
        alias="maxLatencyP99",
        description="Highest p99 latency of any one route. fastapiInstrumentator's per-handler histogram has "
        "only the buckets 0.1, 0.5 and 1s unless the app configures more: use a bucket boundary.",
    )
    min_requests: int = Field(10, ge=1, le=1000000, description="Requests a route needs in the window to be judged.")


class SLOSpec(Model):
    """What the canary must hold at every step."""

    max_error_rate: float = Field(0.005, ge=0, le=1, description="Highest share of 5xx responses (0.005 = 0.5 %).")
    max_latency_p99: Duration = Field("200ms", alias="maxLatencyP99", description="Highest p99 latency.")
    min_requests: int = Field(
        20,
        ge=0,
        description="Fewer requests than this in the window is 'no data': the step holds, it neither passes nor fails.",
    )
    window: Duration | None = Field(
        None,
        description=f"The range the rates are computed over. At least {MIN_WINDOW_SCRAPES} scrapes "
        f"({MIN_WINDOW_SCRAPES} x metrics.interval: rate() needs two samples); {WINDOW_SCRAPES} or more are safer. "
        f"Unset: rollout.interval, but at least {WINDOW_SCRAPES} x metrics.interval.",
    )
    relative: RelativeSLOSpec | None = Field(None, description="Thresholds relative to the stable revision.")
    per_route: RouteSLOSpec | None = Field(
        None,
        description="Checks on the worst route, so errors or slowness concentrated on one rarely used route "
        "are not averaged away by the others.",
    )


class CustomQueries(Model):
    """PromQL templates for the `custom` profile. Variables: {{ namespace }}, {{ name }}, {{ track }},
    {{ revision }}, {{ window }}, and {{ selector }} (the label matchers for the track)."""

    error_rate: str = Field(
        min_length=1,
        max_length=4096,
        description="Returns the share of failed requests: one series (aggregate with sum(...)); an answer with "
        "several is an Error verdict, never a pass.",
    )
    latency_p99: str = Field(
        min_length=1, max_length=4096, alias="latencyP99", description="Returns p99 seconds: one series."
    )
    requests: str = Field(
        min_length=1, max_length=4096, description="Returns the request count in the window: one series."
    )
    route_label: str | None = Field(
        None,
        max_length=128,
        pattern=PROM_LABEL_PATTERN,
        description="The label naming the route in the route queries (slo.perRoute).",
    )
    route_requests: str | None = Field(
        None, max_length=4096, description="slo.perRoute: the request count in the window, one series per route."
    )
    route_error_rate: str | None = Field(
        None, max_length=4096, description="slo.perRoute: the share of failed requests, one series per route."
    )
    route_latency_p99: str | None = Field(
        None, max_length=4096, alias="routeLatencyP99", description="slo.perRoute: p99 seconds, one series per route."
    )


class PrometheusSpec(Model):
    address: str | None = Field(
        None,
        max_length=512,
        pattern=r"^https?://",
        description="Prometheus' base URL. Unset: the operator's --prometheus-url.",
    )
    profile: MetricsProfile = Field(
        MetricsProfile.FASTAPI_INSTRUMENTATOR, description="Which metric names and labels the app exposes."
    )
    queries: CustomQueries | None = None
    timeout: Duration = Field("5s", description="Timeout of each query.")
    auth: PrometheusAuth | None = Field(
        None,
        description="Credentials, headers and TLS settings for a Prometheus that needs them, from Secrets in this "
        "namespace, read at each analysis. Unset: none with `address`; the operator's own default credentials "
        "without it (they are never sent to an address set here). Over an http:// address credentials travel in "
        "clear text.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            f"(self.profile == {_CUSTOM}) == has(self.queries)",
            "queries are required with profile custom, and only used with it",
            lambda p: (p.profile == MetricsProfile.CUSTOM) == (p.queries is not None),
            ".queries",
        ),
        Rule(
            "!has(self.auth) || !has(self.auth.tls) || !has(self.address) || self.address.startsWith('https://')",
            "auth.tls needs an https:// address",
            lambda p: p.auth is None or p.auth.tls is None or p.address is None or p.address.startswith("https://"),
            ".auth.tls",
        ),
    )


def _route_queries_complete(r: RolloutSpec) -> bool:
    per_route, q = r.slo.per_route, r.prometheus.queries
    if per_route is None or r.prometheus.profile != MetricsProfile.CUSTOM:
        return True
    if q is None or not (q.route_label and q.route_requests and q.route_error_rate):
        return False
    return per_route.max_latency_p99 is None or bool(q.route_latency_p99)


class RolloutSpec(Model):
    """How a new revision (any change to the pod template) is rolled out."""

    strategy: Literal["Canary", "RollingUpdate"] = Field(
        "Canary",
        description="Canary: traffic moves in steps while Prometheus checks the SLOs. RollingUpdate: a plain "
        "rolling update of the Deployment (maxUnavailable 0), no analysis.",
    )
    steps: list[int] = Field(
        default_factory=lambda: [10, 50, 100],
        min_length=1,
        max_length=20,
        description="Canary traffic percentages, strictly increasing, ending at 100.",
        json_schema_extra={"items": {"type": "integer", "minimum": 1, "maximum": 100}},
    )
    interval: Duration = Field(
        "1m",
        description="Time between analyses of a step (Canary): at least metrics.interval, one scrape, so that each "
        f"analysis has new samples; {WINDOW_SCRAPES} scrapes or more are better (with fewer, each analysis re-reads "
        "mostly the samples the one before read).",
    )
    failure_threshold: int = Field(
        2, ge=1, le=100, description="Consecutive failed analyses that roll the canary back."
    )
    progress_deadline: Duration = Field(
        "10m",
        description="Longest a step may wait for ready canary pods or for conclusive metrics before it fails.",
    )
    router: Router | None = Field(
        None,
        description=f"How traffic is split. Unset: {Router.GATEWAY_API} with expose.gateway or expose.httpRoute, "
        f"{Router.INGRESS_NGINX} with an nginx ingress, else {Router.REPLICAS} (an approximate split by pod count).",
    )
    slo: SLOSpec = nested(SLOSpec, "The service level objectives the canary must hold.")
    prometheus: PrometheusSpec = nested(PrometheusSpec, "Where and how to query the canary's metrics.")
    pre_deploy: PreDeploySpec | None = Field(
        None,
        description="A command (a database migration, typically) run once per revision as a Job before any pod "
        "of the revision starts; the rollout waits for its success.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "self.steps.all(s, s >= 1 && s <= 100)",
            "every step must be a percentage from 1 to 100",
            lambda r: all(1 <= s <= 100 for s in r.steps),
            ".steps",
        ),
        Rule(
            "self.steps.size() == 0 || self.steps[self.steps.size() - 1] == 100",
            "the last step must be 100",
            lambda r: not r.steps or r.steps[-1] == 100,
            ".steps",
        ),
        Rule(
            "self.steps.isSorted() && self.steps.all(s, self.steps.exists_one(t, t == s))",
            "steps must be strictly increasing",
            lambda r: all(a < b for a, b in zip(r.steps, r.steps[1:], strict=False)),
            ".steps",
        ),
        Rule(
            f"duration(self.interval) >= duration('{MIN_INTERVAL}')",
            f"interval must be at least {MIN_INTERVAL}",
            lambda r: seconds(r.interval) >= seconds(MIN_INTERVAL),
            ".interval",
        ),
        Rule(
            "duration(self.progressDeadline) > duration(self.interval)",
            "progressDeadline must be longer than interval",
            lambda r: seconds(r.progress_deadline) > seconds(r.interval),
            ".progressDeadline",
        ),
        Rule(
            f"!has(self.slo.perRoute) || self.prometheus.profile != {_CUSTOM} || (has(self.prometheus.queries) && "
            "has(self.prometheus.queries.routeLabel) && has(self.prometheus.queries.routeRequests) && "
            "has(self.prometheus.queries.routeErrorRate) && (!has(self.slo.perRoute.maxLatencyP99) || "
            "has(self.prometheus.queries.routeLatencyP99)))",
            "slo.perRoute with the custom profile needs prometheus.queries.routeLabel, routeRequests and "
            "routeErrorRate (and routeLatencyP99 with perRoute.maxLatencyP99)",
            _route_queries_complete,
            ".slo.perRoute",
        ),
    )
