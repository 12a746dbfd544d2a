"""The operator's own metrics (prometheus_client), served on /metrics by `asgi-operator run`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..api.vocabulary import EventReason, RolloutPhase

RECONCILES: Final = Counter("asgi_operator_reconciles_total", "Reconciles of AsgiServices, by outcome.", ["outcome"])
RECONCILE_SECONDS: Final = Histogram(
    "asgi_operator_reconcile_duration_seconds",
    "Time spent in one reconcile.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RECONCILE_ERRORS: Final = Counter(
    "asgi_operator_reconcile_errors_total",
    "Reconciles that failed and will be retried, by the reason their AsgiService's Ready condition gives "
    "(ReconcileError: an unexpected exception; ApiUnreachable: no answer from the API server).",
    ["reason"],
)
API_WRITES: Final = Counter(
    "asgi_operator_api_writes_total",
    "Write requests sent to the Kubernetes API, by kind and verb.",
    ["kind", "verb"],
)
WATCH_RESTARTS: Final = Counter(
    "asgi_operator_watch_restarts_total",
    "Watches of the kinds the operator keeps, started again, by kind and why (ended: the server's timeout or a "
    "closed stream; expired: 410 Gone, listed again; unreachable: no answer; error: another failure).",
    ["kind", "reason"],
)
CANARY_WEIGHT: Final = Gauge(
    "asgi_operator_canary_weight_percent", "Share of traffic on the canary.", ["namespace", "name"]
)
ROLLOUT_PHASE: Final = Gauge(
    "asgi_operator_rollout_phase", "1 for the rollout's current phase.", ["namespace", "name", "phase"]
)
ANALYSES: Final = Counter(
    "asgi_operator_analyses_total", "Canary analyses, by verdict.", ["namespace", "name", "verdict"]
)
ANALYSIS_VALUE: Final = Gauge(
    "asgi_operator_analysis_value",
    "The last measured value of a canary check.",
    ["namespace", "name", "check"],
)
PROM_QUERIES: Final = Counter(
    "asgi_operator_prometheus_queries_total", "Queries sent to Prometheus, by outcome.", ["outcome"]
)
PROM_QUERY_SECONDS: Final = Histogram(
    "asgi_operator_prometheus_query_duration_seconds",
    "Duration of Prometheus queries.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ROLLOUTS: Final = Counter(
    "asgi_operator_rollouts_total", "Rollouts that ended, by result.", ["namespace", "name", "result"]
)
PHASES: Final = tuple(RolloutPhase)


def forget(namespace: str, name: str) -> None:
    """Drop the per-object series of a deleted AsgiService."""
    with contextlib.suppress(KeyError):
        CANARY_WEIGHT.remove(namespace, name)
    for phase in PHASES:
        with contextlib.suppress(KeyError):
            ROLLOUT_PHASE.remove(namespace, name, phase)
    for result in set(ENDINGS.values()):
        with contextlib.suppress(KeyError):
            ROLLOUTS.remove(namespace, name, result)


# the rollout events that end a rollout, and the result label each one counts as
ENDINGS: Final[dict[str, str]] = {
    EventReason.PROMOTED: "promoted",
    EventReason.SLO_VIOLATED: EventReason.SLO_VIOLATED.value,
    EventReason.ABORTED: EventReason.ABORTED.value,
    EventReason.PROGRESS_DEADLINE_EXCEEDED: EventReason.PROGRESS_DEADLINE_EXCEEDED.value,
}


def record_rollout(namespace: str, name: str, phase: str, weight: int, reasons: list[str]) -> None:
    """The per-object rollout gauges, and one count for each rollout that ended in this pass."""
    CANARY_WEIGHT.labels(namespace, name).set(weight)
    for known in PHASES:
        ROLLOUT_PHASE.labels(namespace, name, known).set(1 if phase == known else 0)
    for result in ENDINGS.values():
        # every result's series exists from the first reconcile, at 0: increase() over a window then sees the
        # first rollout that ends after a start (a series born at 1 has no increase to show)
        ROLLOUTS.labels(namespace, name, result)
    for reason in reasons:
        if reason in ENDINGS:
            ROLLOUTS.labels(namespace, name, ENDINGS[reason]).inc()


def record_analysis(namespace: str, name: str, verdict: str, values: dict[str, float | None]) -> None:
    ANALYSES.labels(namespace, name, verdict).inc()
    for check, value in values.items():
        if value is not None:
            ANALYSIS_VALUE.labels(namespace, name, check).set(value)


QUEUE_DEPTH: Final = Gauge("asgi_operator_queue_depth", "AsgiServices waiting for a reconcile worker.")


class StoreCollector(Collector):
    """The size of the operator's memory of the cluster, read when /metrics is scraped."""

    def __init__(self, stats: Callable[[], tuple[int, int]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        objects, size = self.stats()
        yield GaugeMetricFamily("asgi_operator_store_objects", "Objects kept in the operator's store.", value=objects)
        yield GaugeMetricFamily(
            "asgi_operator_store_bytes", "Bytes the store's objects take (compressed JSON).", value=size
        )


def watch(store_stats: Callable[[], tuple[int, int]], queue_depth: Callable[[], int]) -> None:
    """Report the store's size and the queue's depth (once per process: the registry is global)."""
    QUEUE_DEPTH.set_function(queue_depth)
    with contextlib.suppress(ValueError):  # already registered
        REGISTRY.register(StoreCollector(store_stats))
