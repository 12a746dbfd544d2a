"""`status`: written by the operator only. Phases and verdicts are typed with the StrEnums of `vocabulary`, so
the CRD enumerates their values and the API server refuses any other.

Reasons (of the rollout, of an analysis, of an event) are written from `vocabulary.EventReason` but stored as
free strings, as kstatus does for conditions: a reason added by a newer operator must not make an older CRD
refuse the whole status, nor an operator rolled back fail to read it. (A unit test checks that every reason
the code emits is an EventReason.)"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .vocabulary import EventReason, RolloutPhase, ServicePhase, Verdict

# The schema of every timestamp in status: RFC 3339 (the API server checks it; clients may parse it as a time).
TIMESTAMP: Final[dict[str, Any]] = {"format": "date-time"}


class StatusModel(BaseModel):
    """Status is written by the operator only; unknown fields are ignored so older operators can read it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Condition(StatusModel):
    """A condition in kstatus form, read by `kubectl wait --for=condition=Ready`, Argo CD and Flux."""

    type: str = Field(description="Ready, Reconciling or Stalled.")
    status: Literal["True", "False", "Unknown"] = Field(description="Whether the condition holds.")
    reason: str = Field("", description="Why, in one CamelCase word (an EventReason).")
    message: str = Field("", description="Why, for people (at most 1024 characters).")
    last_transition_time: str | None = Field(
        None, description="When status last changed (RFC 3339, UTC).", json_schema_extra=TIMESTAMP
    )
    observed_generation: int | None = Field(None, description="The metadata.generation the condition describes.")


class StableBaseline(StatusModel):
    """Stable's numbers that a relative check compared the canary with, and where they come from."""

    revision: str = Field(description="The stable revision measured.")
    source: Literal["SameWindow", "EarlierAnalysis", "BeforeRollout"] = Field(
        description="SameWindow: measured with the canary; EarlierAnalysis: kept from an earlier analysis of "
        "this rollout while stable still served traffic; BeforeRollout: the window ending when the rollout started."
    )
    at: str = Field(description="The end of the window stable was measured in.", json_schema_extra=TIMESTAMP)
    window: str = Field(description="The range the rates were computed over, e.g. 1m.")
    requests: float = Field(description="Stable's requests in the window.")
    error_rate: float = Field(description="Stable's share of failed (5xx) requests, from 0 to 1.")
    latency_p99_seconds: float = Field(alias="latencyP99Seconds", description="Stable's p99 latency, in seconds.")


class RouteResult(StatusModel):
    """The per-route check: the worst route by error rate and by p99, among routes with enough requests."""

    judged: int = Field(0, description="Routes with at least minRequests requests in the window.")
    min_requests: int = Field(description="The threshold applied: slo.perRoute.minRequests.")
    max_error_rate: float = Field(description="The threshold applied: slo.perRoute.maxErrorRate.")
    max_latency_p99_seconds: float | None = Field(
        None,
        alias="maxLatencyP99Seconds",
        description="The threshold applied: slo.perRoute.maxLatencyP99, in seconds. Unset: no per-route latency check.",
    )
    worst_route: str | None = Field(None, description="The judged route with the highest error rate.")
    worst_route_error_rate: float | None = Field(None, description="Its share of failed requests, from 0 to 1.")
    slowest_route: str | None = Field(
        None, description="The judged route with the highest p99 latency (with maxLatencyP99 only)."
    )
    slowest_route_latency_p99_seconds: float | None = Field(
        None, alias="slowestRouteLatencyP99Seconds", description="Its p99 latency, in seconds."
    )


class AnalysisResult(StatusModel):
    """One analysis of the canary, with the numbers behind the verdict."""

    verdict: Verdict = Field(
        description="Pass; Fail (counts towards rollout.failureThreshold); NoData (too few requests or no "
        "series: the step holds); Error (Prometheus failed, refused the query or gave an answer that cannot be read "
        "unambiguously: the step holds)."
    )
    reason: str | None = Field(
        None,
        description=f"Why an analysis held: {EventReason.NO_DATA} (Prometheus answered, without enough data), "
        f"{EventReason.QUERY_REJECTED} (Prometheus refused the query), {EventReason.UNREADABLE_ANSWER} (an answer "
        "that cannot be read unambiguously: not a vector, or not one series per check), "
        f"{EventReason.PROMETHEUS_UNAVAILABLE} "
        f"(no answer), {EventReason.PROMETHEUS_AUTH_FAILED} (a credential could not be read or was refused), "
        f"{EventReason.ROUTE_NOT_ACCEPTED} (the gateway did not accept the generated HTTPRoute: no traffic to count) "
        f"or {EventReason.GATEWAY_FEATURE_MISSING} (the GatewayClass lacks a feature the route uses).",
    )
    at: str = Field(description="When the analysis ran (RFC 3339, UTC).", json_schema_extra=TIMESTAMP)
    step: int = Field(description="The step analysed, counted from 1.")
    weight: int = Field(description="Percent of traffic on the canary during the analysis.")
    requests: float | None = Field(
        None, description="The canary's requests in the window. Unset: Prometheus gave no finite number."
    )
    error_rate: float | None = Field(
        None,
        description="The canary's share of failed (5xx) requests, from 0 to 1. Unset: Prometheus gave no finite "
        "number.",
    )
    latency_p99_seconds: float | None = Field(
        None,
        alias="latencyP99Seconds",
        description="The canary's p99 latency, in seconds. Unset: Prometheus gave no finite number (the message "
        "says what it was, e.g. above the largest bucket).",
    )
    max_error_rate: float = Field(description="The threshold applied: slo.maxErrorRate.")
    max_latency_p99_seconds: float = Field(
        alias="maxLatencyP99Seconds", description="The threshold applied: slo.maxLatencyP99, in seconds."
    )
    min_requests: int = Field(description="The threshold applied: slo.minRequests (fewer requests is NoData).")
    stable_error_rate: float | None = Field(
        None, description="Stable's error rate the relative check compared with. Unset: none known."
    )
    stable_latency_p99_seconds: float | None = Field(
        None,
        alias="stableLatencyP99Seconds",
        description="Stable's p99 latency in seconds the relative check compared with. Unset: none known.",
    )
    stable_baseline: StableBaseline | None = None
    routes: RouteResult | None = None
    message: str = Field("", description="The verdict in words, with the numbers behind it.")


class PreDeployStatus(StatusModel):
    """The pre-deploy Job of the revision in flight (spec.rollout.preDeploy)."""

    revision: str = Field(description="The revision the Job runs for.")
    attempt: int = Field(1, description="1, and one more for every `kubectl asgi retry` after a failure.")
    job: str = Field(description="The Job's name (deterministic: one Job per revision and attempt).")
    phase: Literal["Pending", "Running", "Succeeded", "Failed"] = Field(
        description="Pending: decided, the Job not seen yet; Running: the Job exists; Succeeded/Failed: its outcome."
    )
    started_at: str | None = Field(None, description="When the attempt was decided.", json_schema_extra=TIMESTAMP)
    finished_at: str | None = Field(None, description="When its outcome was seen.", json_schema_extra=TIMESTAMP)
    message: str = Field("", description="The Job's failure reason and the last lines of its log.")


class PendingEvent(StatusModel):
    """A rollout event decided and not yet confirmed posted. Posted under its name, so never twice."""

    name: str = Field(description="The Event's name: <asgiservice>.<first 8 of its uid>.<sequence number>.")
    reason: str = Field(description="The Event's reason (an EventReason).")
    message: str = Field(description="The Event's message.")
    type: Literal["Normal", "Warning"] = Field("Normal", description="The Event's type.")


class RolloutStatus(StatusModel):
    """The rollout's whole position, so an operator restart resumes exactly where it was."""

    id: int = Field(0, description="Increments with every rollout started; names its events.")
    phase: RolloutPhase = Field(
        RolloutPhase.IDLE,
        description="Idle: no rollout in flight. Progressing: the canary goes through the steps. Promoting: the "
        "stable Deployment rolls out the canary's revision. RolledBack: the SLOs were violated, or an abort was "
        "requested. Failed: a progress deadline passed, or the preDeploy Job failed. RolledBack and Failed hold "
        "until the spec changes or a retry is requested.",
    )
    stable_revision: str | None = Field(None, description="The revision that serves as stable.")
    canary_revision: str | None = Field(None, description="The revision of the current or last rollout.")
    step_index: int = Field(0, description="The current step, counted from 0 (an index into rollout.steps).")
    canary_weight: int = Field(0, description="Percent of traffic on the canary.")
    consecutive_failures: int = Field(
        0, description="Failed analyses in a row; rollout.failureThreshold of them roll the canary back."
    )
    paused: bool = Field(False, description="The rollout is held by the asgi.dev/paused annotation.")
    started_at: str | None = Field(
        None, description="When the current or last rollout started (RFC 3339, UTC).", json_schema_extra=TIMESTAMP
    )
    step_started_at: str | None = Field(
        None,
        description="When the current step (or promotion) started or resumed after a pause: its "
        "rollout.progressDeadline counts from then.",
        json_schema_extra=TIMESTAMP,
    )
    canary_ready_at: str | None = Field(
        None,
        description="When the canary last had its pods ready and took its step's traffic.",
        json_schema_extra=TIMESTAMP,
    )
    next_analysis_at: str | None = Field(
        None, description="When the next analysis is due. Unset: none planned.", json_schema_extra=TIMESTAMP
    )
    finished_at: str | None = Field(
        None,
        description="When the last rollout ended: promoted, rolled back, failed or dropped.",
        json_schema_extra=TIMESTAMP,
    )
    reason: str = Field("", description="Why the rollout is where it is (an EventReason).")
    message: str = Field("", description="Where the rollout is, in words.")
    last_analysis: AnalysisResult | None = None
    last_request: str | None = Field(None, description="The last asgi.dev/request handled.")
    failed_revision: str | None = Field(
        None,
        description="The revision rolled back or failed: it is not tried again until the spec changes or a retry "
        "is requested (asgi.dev/request: retry/<id>).",
    )
    approximate_split: bool = Field(
        False,
        description="true: the canary's share of traffic is approximated by its share of pods (the replicas "
        "router), not set exactly.",
    )
    stable_baseline: StableBaseline | None = Field(
        None,
        description="Stable's last conclusive numbers in this rollout, for relative checks once stable serves "
        "no traffic.",
    )
    pre_deploy: PreDeployStatus | None = Field(
        None, description="The pre-deploy Job of the latest revision that has one (spec.rollout.preDeploy)."
    )
    stable_spec: dict[str, Any] | None = Field(
        None, description="The spec of the stable revision, so its pods can be rendered while a canary runs."
    )
    event_seq: int = Field(0, description="Number of rollout events emitted; names them.")
    pending_events: list[PendingEvent] = Field(
        default_factory=list, description="Events decided and not yet confirmed posted."
    )


class AsgiServiceStatus(StatusModel):
    """Written by the operator only, in kstatus form: observedGeneration and the conditions Ready, Reconciling
    and Stalled."""

    observed_generation: int | None = Field(None, description="The metadata.generation this status describes.")
    phase: ServicePhase = Field(
        ServicePhase.PENDING,
        description="A one-word summary. Pending: not reconciled yet. Deploying: waiting for the stable pods (or "
        "the preDeploy Job). "
        "Ready: serving. Canary: a canary rollout is in progress (Paused: held by asgi.dev/paused). Promoting: "
        "the stable Deployment takes the canary's revision. RolledBack, Failed: the rollout stopped, traffic is on "
        "stable. Error: the operator cannot converge (see the Ready condition).",
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Reconciling and Stalled (kstatus conventions), at most one of each type.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    revision: str | None = Field(None, description="Hash of the pod template the spec renders.")
    stable_revision: str | None = Field(
        None, description="The revision serving as stable (a hash of its pod template)."
    )
    canary_weight: int = Field(0, description="Percent of traffic on the canary; 0 outside a rollout.")
    step: int = Field(
        0,
        description="The step of spec.rollout.steps the canary is at, counted from 1, while a rollout progresses or "
        "promotes; 0 otherwise.",
    )
    failed_checks: int = Field(
        0,
        description="Failed analyses in a row (rollout.consecutiveFailures): rollout.failureThreshold of them roll "
        "the canary back.",
    )
    image: str | None = Field(None, description="The image the stable revision runs.")
    replicas: int = Field(0, description="Pods of the stable Deployment, older templates included.")
    ready_replicas: int = Field(0, description="Ready pods of the stable Deployment.")
    updated_replicas: int = Field(0, description="Pods of the stable Deployment running its current template.")
    canary_replicas: int = Field(0, description="Pods of the canary Deployment.")
    canary_ready_replicas: int = Field(0, description="Ready pods of the canary Deployment.")
    selector: str | None = Field(
        None, description="The label selector of the AsgiService's pods, stable and canary, e.g. asgi.dev/name=shop."
    )
    rollout: RolloutStatus = Field(default_factory=RolloutStatus)
