"""What the operator tells about a spec it runs as written but that does not do what its author likely means.
Pure. Told once per spec generation, as a Warning event under a deterministic name (controller.reconciler): a
reconcile that changes nothing posts nothing."""

from __future__ import annotations

from ..api.durations import canonical, seconds
from ..api.models import WINDOW_SCRAPES, AsgiServiceSpec
from ..api.vocabulary import EventReason
from ..rollout.analysis import analysis_window
from ..rollout.state import Event


def overlapping_analyses(spec: AsgiServiceSpec) -> Event | None:
    """rollout.interval under WINDOW_SCRAPES scrapes, without a slo.window: each analysis reads a window of
    WINDOW_SCRAPES scrapes (rollout.analysis.analysis_window), longer than the time since the analysis before, so
    it re-reads samples that one already counted (a bad minute weighs in several verdicts in a row)."""
    rollout = spec.rollout
    if rollout.strategy == "RollingUpdate" or rollout.slo.window:
        return None
    interval, scrape = seconds(rollout.interval), seconds(spec.metrics.interval)
    if interval >= WINDOW_SCRAPES * scrape:
        return None
    window = analysis_window(spec)
    message = (
        f"spec.rollout.interval {rollout.interval} is under {WINDOW_SCRAPES} x spec.metrics.interval "
        f"{spec.metrics.interval}: each analysis reads the last {window} ({WINDOW_SCRAPES} scrapes), so it re-reads "
        f"samples the analysis before it already counted. Set spec.rollout.interval to at least "
        f"{canonical(WINDOW_SCRAPES * scrape)}, or spec.rollout.slo.window to choose the window"
    )
    return Event(EventReason.ANALYSIS_WINDOW_OVERLAPS, message, "Warning")
