"""What `kubectl asgi` prints, as plain text: the status view, the one-line progress of a watch, the rows of
`list` and `history`. Pure functions of the objects read (and the time, for ages)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ..api.vocabulary import EventReason, RequestVerb, RolloutPhase


def _ago(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "-"
    then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    seconds = int((then - now).total_seconds())
    return f"in {seconds}s" if seconds >= 0 else f"{-seconds}s ago"


def render_status(obj: dict[str, Any], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    status = obj.get("status") or {}
    rollout = status.get("rollout") or {}
    spec_rollout = (obj.get("spec") or {}).get("rollout") or {}
    steps = spec_rollout.get("steps", [])
    ready: dict[str, Any] = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), {})
    lines = [
        f"Name:        {obj['metadata']['namespace']}/{obj['metadata']['name']}",
        f"Phase:       {status.get('phase', 'Pending')}  (Ready={ready.get('status', 'Unknown')}: "
        f"{ready.get('message', '')})",
        f"Stable:      {rollout.get('stableRevision', '-')}  image {status.get('image', '-')}  "
        f"{status.get('readyReplicas', 0)}/{status.get('replicas', 0)} ready",
    ]
    phase = rollout.get("phase", RolloutPhase.IDLE)
    if phase != RolloutPhase.IDLE or rollout.get("canaryRevision"):
        split = ""
        if rollout.get("approximateSplit"):  # no router: the split is the canary's share of the ready pods
            pods = status.get("readyReplicas", 0) + status.get("canaryReadyReplicas", 0)
            share = round(100 * status.get("canaryReadyReplicas", 0) / pods) if pods else 0
            split = f" (approximate, by pod count: about {share}% now)"
        step = rollout.get("stepIndex", 0)
        lines += [
            f"Canary:      {rollout.get('canaryRevision', '-')}  {status.get('canaryReadyReplicas', 0)}/"
            f"{status.get('canaryReplicas', 0)} ready",
            f"Rollout:     {phase}{' (paused)' if rollout.get('paused') else ''}  step {step + 1}/{len(steps)} "
            f"of {'/'.join(map(str, steps))}%  weight {status.get('canaryWeight', 0)}%{split}",
            f"             {rollout.get('reason', '')}: {rollout.get('message', '')}",
        ]
        if phase == RolloutPhase.PROGRESSING:
            lines.append(
                f"Next check:  {_ago(rollout.get('nextAnalysisAt'), now)}  "
                f"(failed in a row: {rollout.get('consecutiveFailures', 0)}/"
                f"{spec_rollout.get('failureThreshold', '-')})"
            )
    last = rollout.get("lastAnalysis")
    if last:

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{v * 100:.2f}%"

        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v * 1000:.0f}ms"

        lines += [
            f"Analysis:    {last['verdict']} at {last['at']} (step {last['step']}, {last['weight']}%)",
            f"  error rate {pct(last.get('errorRate'))}  max {pct(last.get('maxErrorRate'))}",
            f"  p99        {ms(last.get('latencyP99Seconds'))}  max {ms(last.get('maxLatencyP99Seconds'))}",
            f"  requests   {'-' if last.get('requests') is None else round(last['requests'])}  "
            f"min {last.get('minRequests')}",
            f"  {last.get('message', '')}",
        ]
    return "\n".join(lines)


def refusal(obj: dict[str, Any], verb: str) -> str | None:
    """Why a request would do nothing (the operator acts on it only in the right phase), or None."""
    status = obj.get("status") or {}
    rollout = status.get("rollout") or {}
    phase = rollout.get("phase", RolloutPhase.IDLE)
    name = obj["metadata"]["name"]
    if verb == RequestVerb.RETRY:
        failed = rollout.get("failedRevision")
        if phase in (RolloutPhase.ROLLED_BACK, RolloutPhase.FAILED) and failed and failed == status.get("revision"):
            return None
        return (
            f"nothing to retry: {name} has no rolled-back or failed revision to run again (rollout phase {phase}); "
            "retry applies after a rollback or failure, while the spec still renders that revision"
        )
    if verb == RequestVerb.PROMOTE and rollout.get("paused") and phase == RolloutPhase.PROGRESSING:
        return (
            f"{name} is paused: a promote would be ignored; `kubectl asgi resume {name}` first, "
            "or `promote --full` to make the canary stable now"
        )
    if verb in (RequestVerb.PROMOTE, RequestVerb.PROMOTE_FULL, RequestVerb.ABORT):
        spec_not_seen = status.get("observedGeneration") != obj["metadata"].get("generation")
        if phase == RolloutPhase.PROGRESSING or spec_not_seen:
            return None
        what = "abort" if verb == RequestVerb.ABORT else "promote"
        return f"nothing to {what}: {name} has no canary in progress (rollout phase {phase})"
    return None


def progress_line(obj: dict[str, Any]) -> str:
    """One line of where the rollout stands: what a watch prints at each change when the output is not a
    terminal (a CI log), so it must say everything on its own."""
    status = obj.get("status") or {}
    rollout = status.get("rollout") or {}
    phase = rollout.get("phase", RolloutPhase.IDLE)
    parts = [
        f"phase {status.get('phase', 'Pending')}",
        f"rollout {phase}{' (paused)' if rollout.get('paused') else ''}",
    ]
    if phase in (RolloutPhase.PROGRESSING, RolloutPhase.PROMOTING):
        steps = ((obj.get("spec") or {}).get("rollout") or {}).get("steps") or []
        parts.append(f"step {rollout.get('stepIndex', 0) + 1}/{len(steps)} weight {status.get('canaryWeight', 0)}%")
        parts.append(f"canary {rollout.get('canaryRevision', '-')}")
    parts.append(f"stable {rollout.get('stableRevision') or '-'}")
    parts.append(f"ready {status.get('readyReplicas', 0)}/{status.get('replicas', 0)}")
    said = f"{rollout.get('reason', '')}: {rollout.get('message', '')}".strip(": ")
    return "  ".join(parts) + (f"  {said}" if said else "")


def _age(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "-"
    seconds = max(0, int((now - datetime.fromisoformat(stamp.replace("Z", "+00:00"))).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


LIST_HEADER: Final = ("NAME", "PHASE", "STABLE", "CANARY", "WEIGHT", "STEP", "READY", "AGE")


def list_row(obj: dict[str, Any], now: datetime) -> tuple[str, ...]:
    status = obj.get("status") or {}
    rollout = status.get("rollout") or {}
    phase = rollout.get("phase", RolloutPhase.IDLE)
    in_flight = phase in (RolloutPhase.PROGRESSING, RolloutPhase.PROMOTING)
    steps = ((obj.get("spec") or {}).get("rollout") or {}).get("steps") or []
    return (
        obj["metadata"]["name"],
        str(status.get("phase", "Pending")) + (" (paused)" if rollout.get("paused") else ""),
        rollout.get("stableRevision") or "-",
        (rollout.get("canaryRevision") or "-") if in_flight or rollout.get("failedRevision") else "-",
        f"{status.get('canaryWeight', 0)}%",
        f"{rollout.get('stepIndex', 0) + 1}/{len(steps)}" if in_flight else "-",
        f"{status.get('readyReplicas', 0) + status.get('canaryReadyReplicas', 0)}/"
        f"{status.get('replicas', 0) + status.get('canaryReplicas', 0)}",
        _age(obj["metadata"].get("creationTimestamp"), now),
    )


def columns(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as kubectl prints them: left-aligned columns, three spaces apart, no trailing blanks."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))] if rows else []
    return ["   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


# ------------------------------------------------------------------------------------------------ history
_REVISION: Final = re.compile(r"\b[0-9a-f]{10}\b")
_STARTS: Final = {EventReason.DEPLOYED, EventReason.ROLLOUT_STARTED, EventReason.RETRYING}
_OUTCOMES: Final = {
    EventReason.PROMOTED: "promoted",
    EventReason.SLO_VIOLATED: "rolled back",
    EventReason.ABORTED: "rolled back (aborted)",
    EventReason.PROGRESS_DEADLINE_EXCEEDED: "failed",
    EventReason.PRE_DEPLOY_FAILED: "failed",
    EventReason.SUPERSEDED: "superseded",
    EventReason.RETURNED_TO_STABLE: "dropped (spec back at stable)",
}


@dataclass
class Release:
    """One revision's way through the rollout, as the events tell it."""

    revision: str
    started: str
    how: str  # Deployed (a first revision), RolloutStarted, Retrying, Updated (rolling update)
    outcome: str = "in progress"
    ended: str = "-"
    message: str = ""


def event_time(event: dict[str, Any]) -> str:
    return str(event.get("eventTime") or event.get("firstTimestamp") or event.get("lastTimestamp") or "")


def _sequence(event: dict[str, Any]) -> int:
    """Rollout events are named <name>.<uid8>.<sequence>: the order within one second."""
    tail = str(event.get("metadata", {}).get("name", "")).rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def ordered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda e: (event_time(e), _sequence(e)))


def releases(events: list[dict[str, Any]]) -> list[Release]:
    """The revisions and their outcomes, from the events in order (the API server keeps events for a limited
    time, one hour by default: older releases are gone)."""
    out: list[Release] = []
    for event in ordered(events):
        reason, message, at = event.get("reason", ""), event.get("message", ""), event_time(event)
        found = _REVISION.search(message)
        if reason in _STARTS or (reason == EventReason.UPDATED and "rolling update" in message):
            outcome = "deployed" if reason == EventReason.DEPLOYED else "in progress"
            if reason == EventReason.UPDATED:
                outcome = "rolled out (rolling update)"
            out.append(Release(found.group(0) if found else "-", at, reason, outcome, "-", ""))
            if outcome != "in progress":
                out[-1].ended = at
        elif reason in _OUTCOMES and out and out[-1].outcome == "in progress":
            out[-1].outcome, out[-1].ended, out[-1].message = _OUTCOMES[reason], at, message
    return out


RELEASE_HEADER: Final = ("REVISION", "STARTED", "HOW", "OUTCOME", "ENDED")
EVENT_HEADER: Final = ("TIME", "TYPE", "REASON", "MESSAGE")


def release_rows(items: list[Release]) -> list[tuple[str, ...]]:
    return [(r.revision, r.started, r.how, r.outcome, r.ended) for r in items]


def event_rows(events: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [
        (event_time(e) or "-", str(e.get("type", "")), str(e.get("reason", "")), str(e.get("message", "")))
        for e in ordered(events)
    ]
