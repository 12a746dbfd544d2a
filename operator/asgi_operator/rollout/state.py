"""What the rollout state machine sees and decides: observations of the Deployments, the decision, events.
Pure data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..api.models import AnalysisResult, RolloutStatus

EventType = Literal["Normal", "Warning"]


@dataclass(frozen=True)
class Workload:
    """What the operator observes of one Deployment."""

    replicas: int  # desired (spec.replicas)
    ready: int
    available: int
    updated: int
    total: int  # status.replicas: includes pods of older templates
    current: bool  # the controller has seen the latest spec (observedGeneration)
    revision: str | None  # the asgi.dev/revision label of its pod template

    def serves(self, revision: str, replicas: int) -> bool:
        """Fully rolled out to `revision` with at least `replicas` pods ready and nothing older left."""
        return (
            self.current
            and self.revision == revision
            and self.updated >= replicas
            and self.ready >= replicas
            and self.available >= replicas
            and self.total <= max(self.updated, replicas)
        )


@dataclass(frozen=True)
class JobRun:
    """What the operator observes of a pre-deploy Job (rollout.predeploy)."""

    name: str
    succeeded: bool = False
    failed: bool = False
    reason: str = ""  # of the Job's Failed condition: BackoffLimitExceeded, DeadlineExceeded, ...
    message: str = ""
    log_tail: str = ""  # the failed container's termination message (FallbackToLogsOnError: its log's tail)


@dataclass(frozen=True)
class Observation:
    now: datetime
    revision: str  # what the spec renders to now
    spec: dict[str, Any]  # the spec itself (becomes stableSpec when it goes stable)
    stable: Workload | None
    canary: Workload | None
    default_replicas: int  # the stable size when there is no stable Deployment yet
    paused: bool = False
    request: str | None = None  # the asgi.dev/request annotation, "<verb>/<id>"
    analysis: AnalysisResult | None = None  # only when `needs_analysis` asked for one
    name: str = ""  # the AsgiService's (names its pre-deploy Jobs)
    pre_deploy: JobRun | None = None  # the Job of status.rollout.preDeploy, if it exists


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    type: EventType = "Normal"


@dataclass
class Decision:
    rollout: RolloutStatus  # the new position, stableSpec included
    stable_template_spec: dict[str, Any]  # the spec whose pod template the stable Deployment runs now
    canary_replicas: int
    canary_weight: int  # percent of traffic for the canary
    events: list[Event] = field(default_factory=list)
    wake_at: datetime | None = None  # look again then, even if nothing changes in the cluster
    needs_analysis: bool = False  # call again with an analysis of the canary
    hold_workload: bool = False  # first deploy waiting for its pre-deploy Job: no Deployment yet


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def canary_size(stable_replicas: int, weight: int) -> int:
    """The canary's pods for a traffic weight: the stable's CURRENT size times the weight, at least one."""
    if weight <= 0:
        return 0
    return max(1, math.ceil(stable_replicas * weight / 100))
