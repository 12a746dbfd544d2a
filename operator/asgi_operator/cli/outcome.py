"""Has the rollout `kubectl asgi status` waits for ended, and how? Pure: a function of the AsgiService as read.

The rollout waited for is the one of the object's CURRENT spec and requests, never an earlier one:
- a spec the operator has not observed yet (metadata.generation > status.observedGeneration) is waited for,
  so a previous rollout's RolledBack cannot end a wait for the spec just applied;
- an `asgi.dev/request` the operator has not taken yet (it differs from status.rollout.lastRequest) is waited
  for too, so `kubectl asgi retry NAME && kubectl asgi status NAME --timeout 5m` waits for the retry;
- RolledBack and Failed count only for the revision the spec renders now (status.revision ==
  status.rollout.failedRevision); success is that revision stable (rollout Idle) and Ready=True;
- a canary held by `asgi.dev/paused` ends the wait at once (Exit.PAUSED): the annotation still says so and the
  operator has taken it (status.rollout.paused), so a pause just lifted (`resume`) is waited through.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from ..api import keys
from ..api.vocabulary import RolloutPhase, ServicePhase


class Exit(IntEnum):
    """The plugin's exit codes (README, `kubectl asgi --help`)."""

    OK = 0
    ERROR = 1  # bad usage, not found, API error, refused request; for `diff`: differences found
    ROLLED_BACK = 2  # the rollout of the current revision was rolled back (SLO violated or aborted)
    FAILED = 3  # it failed (progress deadline, pre-deploy Job) or the operator is stalled on the spec
    TIMEOUT = 4  # --timeout passed before the rollout ended
    PAUSED = 5  # -w/--timeout: the rollout waited for is held by asgi.dev/paused (said at once, not at the deadline)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


DIFF_ERROR: Final = 2  # `diff` follows `kubectl diff`: 0 no differences, 1 differences, >1 an error

EXIT_CODES_HELP: Final = """\b
Exit codes:
  0    status: the current revision is stable and Ready (with -w/--timeout: the rollout
       ended so); without -w also while a rollout is in progress. Other commands: done.
  1    error: bad usage, not found, API unreachable or refused, request refused
  2    status: the current revision was rolled back (SLO violated, or aborted)
  3    status: the current revision failed (progress deadline, pre-deploy Job), or the
       operator cannot run the spec (Stalled, phase Error)
  4    status --timeout: the deadline passed before the rollout ended
  5    status -w/--timeout: the rollout is paused (asgi.dev/paused), said at once: it
       moves again only once someone resumes it (kubectl asgi resume NAME)
  130  interrupted (Ctrl-C)
  diff follows kubectl diff: 0 no differences, 1 differences, 2 error"""


@dataclass(frozen=True)
class Judgement:
    done: bool  # the rollout waited for has ended (or there is none in flight)
    code: Exit
    why: str  # one line for people


def _condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), {})


def judge(obj: dict[str, Any]) -> Judgement:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    rollout = status.get("rollout") or {}
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if observed is None or (generation is not None and observed < generation):
        seen = "it has seen none" if observed is None else f"it has seen {observed}"
        return Judgement(False, Exit.OK, f"waiting for the operator to observe generation {generation} ({seen})")
    request = (meta.get("annotations") or {}).get(keys.ANNOTATION_REQUEST)
    if request and request != rollout.get("lastRequest"):
        return Judgement(False, Exit.OK, f"waiting for the operator to take the request {request}")
    revision = status.get("revision") or rollout.get("canaryRevision")
    phase = rollout.get("phase", RolloutPhase.IDLE)
    said = f"{rollout.get('reason', '')}: {rollout.get('message', '')}".strip(": ")
    if revision and rollout.get("failedRevision") == revision:
        if phase == RolloutPhase.ROLLED_BACK:
            return Judgement(True, Exit.ROLLED_BACK, f"revision {revision} rolled back ({said})")
        if phase == RolloutPhase.FAILED:
            return Judgement(True, Exit.FAILED, f"revision {revision} failed ({said})")
    stalled, ready = _condition(status, "Stalled"), _condition(status, "Ready")
    if status.get("phase") == ServicePhase.ERROR and stalled.get("status") == "True":
        why = f"{stalled.get('reason', '')}: {stalled.get('message', '')}".strip(": ")
        return Judgement(True, Exit.FAILED, f"the operator cannot run this spec ({why})")
    if phase == RolloutPhase.PROGRESSING and rollout.get("paused") and _pause_asked(meta):
        why = f"the rollout of revision {revision} is paused ({said}); `kubectl asgi resume {meta.get('name')}`"
        return Judgement(True, Exit.PAUSED, f"{why} lets it go on")
    if phase == RolloutPhase.IDLE and revision and rollout.get("stableRevision") == revision:
        if ready.get("status") == "True":
            return Judgement(True, Exit.OK, f"revision {revision} is stable and Ready")
        why = ready.get("message") or "waiting for Ready"
        return Judgement(False, Exit.OK, f"revision {revision} is stable, not Ready yet: {why}")
    paused = " (paused)" if rollout.get("paused") else ""
    return Judgement(False, Exit.OK, f"rollout {phase}{paused}: {said or 'waiting for the operator'}")


def _pause_asked(meta: dict[str, Any]) -> bool:
    """The operator's reading of asgi.dev/paused (reconcile.observe.is_paused)."""
    return str((meta.get("annotations") or {}).get(keys.ANNOTATION_PAUSED) or "").strip().lower() == "true"


def exit_code_now(obj: dict[str, Any]) -> Exit:
    """`status` without waiting: non-zero only when the current revision has already rolled back or failed (a
    paused rollout is one in progress: 0)."""
    judged = judge(obj)
    return judged.code if judged.done and judged.code != Exit.PAUSED else Exit.OK
