"""The pre-deploy gate (spec.rollout.preDeploy): no pod of a revision starts before its Job succeeded. Pure.

One Job per revision and attempt, under a deterministic name: the attempt is decided (and written to status)
first, the Job is created under that name, so a restart at any moment finds the same Job again and never makes
a second one for the same attempt. A new attempt is made only for a new revision, or by a person's retry after
a failure. A Job that existed and disappeared before its outcome was seen (deleted by hand) fails the attempt
rather than running the command again unasked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from ..api.hooks import PreDeploySpec
from ..api.models import PreDeployStatus
from ..api.patterns import DNS_LABEL_MAX_LENGTH
from ..api.vocabulary import EventReason as R
from .state import Event, JobRun, iso

JOB_INFIX: Final = "pre"
LOG_TAIL_CHARS: Final = 1500  # of the Job's log in a failure message (an event's message is at most 1 KiB)


@dataclass
class Gate:
    open: bool  # the revision's pods may start
    state: PreDeployStatus | None
    events: list[Event] = field(default_factory=list)
    failure: str | None = None  # the attempt failed in this pass: why (the rollout fails with this)
    opened_now: bool = False  # the Job's success was seen in this pass
    message: str = ""  # what a closed gate waits for


def job_name(owner: str, revision: str, attempt: int) -> str:
    """`<name>-pre-<revision>-<attempt>`, the name cut so that the whole is a DNS label (the Job controller puts
    the Job's name in a label of its pods). The revision hash is unique per owner."""
    suffix = f"-{JOB_INFIX}-{revision}-{attempt}"
    return f"{owner[: DNS_LABEL_MAX_LENGTH - len(suffix)].rstrip('-')}{suffix}"


def gate(
    hook: PreDeploySpec | None,
    state: PreDeployStatus | None,
    *,
    owner: str,
    revision: str,
    job: JobRun | None,
    now: datetime,
    retry: bool = False,
) -> Gate:
    if hook is None:
        return Gate(True, state)
    if (
        state is not None
        and state.revision != revision
        and state.phase in ("Pending", "Running")
        and job is not None
        and job.name == state.job
        and not (job.succeeded or job.failed)
    ):
        # a superseded revision's Job still runs: it is not killed halfway, and two never run at once
        return Gate(False, state, message=f"waiting for the pre-deploy Job {state.job} of a superseded revision to end")
    if state is None or state.revision != revision or (retry and state.phase == "Failed"):
        attempt = state.attempt + 1 if state is not None and state.revision == revision else 1
        name = job_name(owner, revision, attempt)
        new = PreDeployStatus(revision=revision, attempt=attempt, job=name, phase="Pending", started_at=iso(now))
        command = " ".join(hook.command)
        return Gate(
            False,
            new,
            [Event(R.PRE_DEPLOY_STARTED, f"Job {name} runs `{command}` before any pod of {revision} starts")],
            message=f"waiting for the pre-deploy Job {name}",
        )
    if state.phase == "Succeeded":
        return Gate(True, state)
    if state.phase == "Failed":
        return Gate(False, state)
    s = state.model_copy()
    if job is None or job.name != s.job:
        if s.phase == "Running":
            return _failed(s, now, f"Job {s.job} was deleted before its outcome was seen", hint=False)
        return Gate(False, s, message=f"waiting for the pre-deploy Job {s.job}")  # created once this is written
    if job.succeeded:
        s.phase, s.finished_at, s.message = "Succeeded", iso(now), ""
        return Gate(True, s, [Event(R.PRE_DEPLOY_SUCCEEDED, f"Job {s.job} succeeded")], opened_now=True)
    if job.failed:
        why = f"Job {s.job} failed: {job.reason or 'Failed'}" + (f": {job.message}" if job.message else "")
        if job.log_tail:
            why += f"; last lines of its log: {job.log_tail[-LOG_TAIL_CHARS:].strip()}"
        return _failed(s, now, why)
    s.phase = "Running"
    return Gate(False, s, message=f"waiting for the pre-deploy Job {s.job}")


def _failed(s: PreDeployStatus, now: datetime, why: str, hint: bool = True) -> Gate:
    s.phase, s.finished_at, s.message = "Failed", iso(now), why
    more = f" (kubectl logs job/{s.job})" if hint else ""
    return Gate(False, s, failure=f"pre-deploy {why}{more}; `kubectl asgi retry` runs it again")
