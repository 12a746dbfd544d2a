"""`status`: written by the operator only. Phases and verdicts are typed with the StrEnums of `vocabulary`, so
the CRD enumerates their values and the API server refuses any other.

Reasons (of the rollout, of an analysis, of an event) are written from `vocabulary.EventReason` but stored as
free strings, as kstatus does for conditions: a reason added by a newer operator must not make an older CRD
refuse the whole status, nor an operator rolled back fail to read it. (A unit test checks that every reason
the code emits is an EventReason.)"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .vocabulary import EventReason, RolloutPhase, ServicePhase, Verdict


class StatusModel(BaseModel):
    """Status is written by the operator only; unknown fields are ignored so older operators can read it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Condition(StatusModel):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


class StableBaseline(StatusModel):
    """Stable's numbers that a relative check compared the canary with, and where they come from."""

    revision: str
    source: Literal["SameWindow", "EarlierAnalysis", "BeforeRollout"] = Field(
        description="SameWindow: measured with the canary; EarlierAnalysis: kept from an earlier analysis of "
        "this rollout while stable still served traffic; BeforeRollout: the window ending when the rollout started."
    )
    at: str = Field(description="The end of the window stable was measured in.")
    window: str
    requests: float
    error_rate: float
    latency_p99_seconds: float = Field(alias="latencyP99Seconds")


class RouteResult(StatusModel):
    """The per-route check: the worst route by error rate and by p99, among routes with enough requests."""

    judged: int = Field(0, description="Routes with at least minRequests requests in the window.")
    min_requests: int
    max_error_rate: float
    max_latency_p99_seconds: float | None = Field(None, alias="maxLatencyP99Seconds")
    worst_route: str | None = None
    worst_route_error_rate: float | None = None
    slowest_route: str | None = None
    slowest_route_latency_p99_seconds: float | None = Field(None, alias="slowestRouteLatencyP99Seconds")


class AnalysisResult(StatusModel):
    """One analysis of the canary, with the numbers behind the verdict."""

    verdict: Verdict
    reason: str | None = Field(
        None,
        description=f"Why an analysis held: {EventReason.NO_DATA} (Prometheus answered, without enough data), "
        f"{EventReason.QUERY_REJECTED} (Prometheus refused the query) or {EventReason.PROMETHEUS_UNAVAILABLE} "
        "(no answer).",
    )
    at: str
    step: int
    weight: int
    requests: float | None = None
    error_rate: float | None = None
    latency_p99_seconds: float | None = Field(None, alias="latencyP99Seconds")
    max_error_rate: float
    max_latency_p99_seconds: float = Field(alias="maxLatencyP99Seconds")
    min_requests: int
    stable_error_rate: float | None = None
    stable_latency_p99_seconds: float | None = Field(None, alias="stableLatencyP99Seconds")
    stable_baseline: StableBaseline | None = None
    routes: RouteResult | None = None
    message: str = ""


class PendingEvent(StatusModel):
    name: str
    reason: str
    message: str
    type: Literal["Normal", "Warning"] = "Normal"


class RolloutStatus(StatusModel):
    """The rollout's whole position, so an operator restart resumes exactly where it was."""

    id: int = Field(0, description="Increments with every rollout started; names its events.")
    phase: RolloutPhase = RolloutPhase.IDLE
    stable_revision: str | None = None
    canary_revision: str | None = None
    step_index: int = 0
    canary_weight: int = 0
    consecutive_failures: int = 0
    paused: bool = False
    started_at: str | None = None
    step_started_at: str | None = None
    canary_ready_at: str | None = None
    next_analysis_at: str | None = None
    finished_at: str | None = None
    reason: str = Field("", description="Why the rollout is where it is (an EventReason).")
    message: str = ""
    last_analysis: AnalysisResult | None = None
    last_request: str | None = Field(None, description="The last asgi.dev/request handled.")
    failed_revision: str | None = None
    approximate_split: bool = False
    stable_baseline: StableBaseline | None = Field(
        None,
        description="Stable's last conclusive numbers in this rollout, for relative checks once stable serves "
        "no traffic.",
    )
    stable_spec: dict[str, Any] | None = Field(
        None, description="The spec of the stable revision, so its pods can be rendered while a canary runs."
    )
    event_seq: int = Field(0, description="Number of rollout events emitted; names them.")
    pending_events: list[PendingEvent] = Field(
        default_factory=list, description="Events decided and not yet confirmed posted."
    )


class AsgiServiceStatus(StatusModel):
    observed_generation: int | None = None
    phase: ServicePhase = ServicePhase.PENDING
    conditions: list[Condition] = Field(default_factory=list)
    revision: str | None = Field(None, description="Hash of the pod template the spec renders.")
    stable_revision: str | None = None
    canary_weight: int = 0
    image: str | None = Field(None, description="The image the stable revision runs.")
    replicas: int = 0
    ready_replicas: int = 0
    updated_replicas: int = 0
    canary_replicas: int = 0
    canary_ready_replicas: int = 0
    selector: str | None = None
    rollout: RolloutStatus = Field(default_factory=RolloutStatus)
