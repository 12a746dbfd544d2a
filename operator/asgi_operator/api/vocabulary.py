"""The words the operator writes into status and events, as StrEnums.

Phases and verdicts type the status models, so the generated CRD enumerates them and mypy checks the code
that writes them; reasons are written from EventReason but stored as free strings (see api/status.py). A member
is a `str`: it compares equal to its value, and `model_dump(mode="json")` writes the plain value.

(Comments rather than docstrings on the classes: pydantic copies an enum's docstring into the schema of every
field typed with it.)
"""

from enum import StrEnum
from typing import Final


# status.rollout.phase: where the rollout state machine (rollout/machine.py) is.
class RolloutPhase(StrEnum):
    IDLE = "Idle"
    PROGRESSING = "Progressing"
    PROMOTING = "Promoting"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


# status.rollout.lastAnalysis.verdict: the outcome of one analysis of the canary.
class Verdict(StrEnum):
    PASS = "Pass"  # noqa: S105 (not a password)
    FAIL = "Fail"
    NO_DATA = "NoData"
    ERROR = "Error"


# status.phase: the one-word summary of the whole AsgiService (reconcile/status.py).
class ServicePhase(StrEnum):
    PENDING = "Pending"
    DEPLOYING = "Deploying"
    READY = "Ready"
    CANARY = "Canary"
    PAUSED = "Paused"
    PROMOTING = "Promoting"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"
    ERROR = "Error"


# The verb of an `asgi.dev/request: <verb>/<id>` annotation.
class RequestVerb(StrEnum):
    PROMOTE = "promote"
    PROMOTE_FULL = "promote-full"
    ABORT = "abort"
    RETRY = "retry"


# What each request verb does (the reference docs and `kubectl asgi` say it this way).
REQUEST_HELP: Final[dict[RequestVerb, str]] = {
    RequestVerb.PROMOTE: "next step without analysis",
    RequestVerb.PROMOTE_FULL: "to stable now",
    RequestVerb.ABORT: "roll back now",
    RequestVerb.RETRY: "run a rolled-back revision again",
}


# Every reason the operator puts on an Event, in status.rollout.reason, in lastAnalysis.reason, in a pending
# event or in a condition. A value appears once even when several places use it.
class EventReason(StrEnum):
    # rollout events (rollout/machine.py)
    DEPLOYED = "Deployed"
    UPDATED = "Updated"  # also the reconciler's "children updated" event
    ROLLOUT_STARTED = "RolloutStarted"
    RETRYING = "Retrying"
    SUPERSEDED = "Superseded"
    STEP_STARTED = "StepStarted"
    ANALYSIS_PASSED = "AnalysisPassed"
    ANALYSIS_FAILED = "AnalysisFailed"
    PROMOTING = "Promoting"  # also a Ready/Reconciling condition reason
    PROMOTED = "Promoted"
    SLO_VIOLATED = "SLOViolated"
    PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
    ABORTED = "Aborted"
    PROMOTED_BY_REQUEST = "PromotedByRequest"
    STEP_PROMOTED_BY_REQUEST = "StepPromotedByRequest"
    RETURNED_TO_STABLE = "ReturnedToStable"
    UNKNOWN_REQUEST = "UnknownRequest"
    REQUEST_IGNORED = "RequestIgnored"
    PRE_DEPLOY_STARTED = "PreDeployStarted"
    PRE_DEPLOY_SUCCEEDED = "PreDeploySucceeded"
    PRE_DEPLOY_FAILED = "PreDeployFailed"

    # status.rollout.reason only (rollout/machine.py)
    CANARY_STARTED = "CanaryStarted"
    STEP_ADVANCED = "StepAdvanced"
    WAITING_FOR_CANARY = "WaitingForCanary"
    PRE_DEPLOY_RUNNING = "PreDeployRunning"
    PAUSED = "Paused"
    STABLE = "Stable"

    # why an analysis held (lastAnalysis.reason, and then status.rollout.reason; rollout/analysis.py)
    NO_DATA = "NoData"
    PROMETHEUS_UNAVAILABLE = "PrometheusUnavailable"
    QUERY_REJECTED = "QueryRejected"
    # an answer that cannot be read unambiguously: more than one series for a check, a series for a check not
    # asked, a key or label set twice, another result type than a vector, or too large to read
    UNREADABLE_ANSWER = "UnreadableAnswer"
    # the credentials spec.rollout.prometheus.auth names cannot be read, or Prometheus refused them (also a
    # Warning event and the Ready condition's reason)
    PROMETHEUS_AUTH_FAILED = "PrometheusAuthFailed"
    # the gateway did not accept the generated HTTPRoute (its status.parents: Accepted or ResolvedRefs False): a
    # hold; or its GatewayClass lacks a feature a generated object uses: that object is not written (Stalled). A
    # canary's analysis holds with either reason
    ROUTE_NOT_ACCEPTED = "RouteNotAccepted"
    GATEWAY_FEATURE_MISSING = "GatewayFeatureMissing"

    # rollout.interval under 4 scrapes without a slo.window: analyses re-read old samples (reconcile/advice.py)
    ANALYSIS_WINDOW_OVERLAPS = "AnalysisWindowOverlaps"

    # the reconciler's events about the children it wrote (reconcile/changes.py)
    CREATED = "Created"
    DRIFT_REPAIRED = "DriftRepaired"

    # problems: a Warning event and the reason of the Ready condition (controller/reconciler.py, controller/problems.py)
    INVALID_SPEC = "InvalidSpec"
    STABLE_SPEC_INVALID = "StableSpecInvalid"
    ROUTER_ERROR = "RouterError"
    FORBIDDEN = "Forbidden"
    ADMISSION_DENIED = "AdmissionDenied"
    INVALID_CHILD = "InvalidChild"
    API_ERROR = "ApiError"
    # a reconcile raised for an unexpected reason (a bug, or input nobody foresaw): retried with backoff
    RECONCILE_ERROR = "ReconcileError"
    # no answer from the API server at all (refused, reset, timed out): counted, waited out, never in status
    API_UNREACHABLE = "ApiUnreachable"
    CERT_MANAGER_MISSING = "CertManagerMissing"  # expose.tls.issuerRef without cert-manager's CRD

    # condition reasons (reconcile/status.py)
    CANARY_IN_PROGRESS = "CanaryInProgress"
    WAITING_FOR_PODS = "WaitingForPods"
    AVAILABLE = "Available"
    CONVERGED = "Converged"
    NOT_STALLED = "NotStalled"
