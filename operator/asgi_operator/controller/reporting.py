"""Reporting to the cluster: the AsgiService's status (written only when it differs, and only if nobody wrote
the object since it was read), and its events (rollout events exactly once, by their deterministic names)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..api.kinds import ASGI_SERVICE
from ..api.models import AsgiServiceStatus, RolloutStatus
from ..kube.api import ApiError, Body, KubeApi
from ..kube.events import EventSpec, post_event
from ..reconcile.announce import advice_name
from ..reconcile.status import Hold, Problem, compute, with_problem
from ..render.meta import Owner, selector
from ..rollout.state import Decision, Event, Observation, iso
from . import telemetry
from .queue import RetryLater

log = logging.getLogger(__name__)


class StaleRead(RetryLater):
    """The object changed after it was read: the pass runs again at once, on the newer version."""

    def __init__(self, message: str) -> None:
        super().__init__(message, after=0.0)


class Reporter:
    def __init__(self, api: KubeApi, clock: Callable[[], datetime], wrote: Callable[[Body], None]) -> None:
        self.api = api
        self.clock = clock
        self.wrote = wrote  # the API server's answer to a write, for the store
        self._posted: set[str] = set()  # pending events this process has posted already
        self.writes = 0

    def write_status(self, body: Body, status: AsgiServiceStatus) -> bool:
        """Replace `.status` if it differs, only if nobody wrote the object since it was read: the decision was
        made on that version. A newer one (the read came from a store a watch event had not reached yet) is a
        retry of the whole pass on fresh data, never a write on stale data."""
        new = status.model_dump(by_alias=True, exclude_none=True, mode="json")
        if new == (body.get("status") or {}):
            return False
        meta = body["metadata"]
        request = {
            "apiVersion": body.get("apiVersion", ASGI_SERVICE.api_version),
            "kind": ASGI_SERVICE.kind,
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta},
            "status": new,
        }
        try:
            updated = self.api.replace_status(ASGI_SERVICE, request)
        except ApiError as e:
            if e.conflict:
                raise StaleRead(f"{meta['namespace']}/{meta['name']} changed since it was read") from e
            raise
        self._count("AsgiService", "update-status")
        body["metadata"] = updated["metadata"]
        body["status"] = updated.get("status", new)
        self.wrote(updated)
        return True

    def write_position(self, body: Body, rollout: RolloutStatus) -> bool:
        """Only the rollout's position: the conditions keep saying what is observed until the children have been
        written (the full status follows)."""
        live = AsgiServiceStatus.model_validate(body.get("status") or {})
        return self.write_status(body, live.model_copy(update={"rollout": rollout}))

    def event(self, body: Body, event: Event, name: str | None = None) -> None:
        """An informational event (under `name`: once, a repeat is a 409 ignored): a failure to post it is logged,
        never fails the pass (except in a namespace being deleted, which ends the pass)."""
        try:
            post_event(self.api, body, EventSpec(event.reason, event.message, event.type, name=name))
            self._count("Event", "create")
        except ApiError as e:
            if e.namespace_terminating:
                raise
            meta = body["metadata"]
            log.warning("could not post event %s on %s/%s: %s", event.reason, meta["namespace"], meta["name"], e)

    def advise(self, body: Body, event: Event, topic: str) -> None:
        """Advice on the spec of the object's generation (reconcile.advice), posted under a name of its own for that
        generation and topic: a retry or a restart posts nothing twice."""
        meta = body["metadata"]
        self.event(body, event, name=advice_name(meta["name"], meta["uid"], int(meta.get("generation", 0)), topic))

    def post_pending(self, body: Body, rollout: RolloutStatus) -> None:
        """Post the rollout's pending events under their names (a repeat after a restart is a 409, ignored), then
        clear them from the position to be written."""
        for item in rollout.pending_events:
            if item.name in self._posted:
                continue
            post_event(self.api, body, EventSpec(item.reason, item.message, item.type, name=item.name))
            self._count("Event", "create")
            self._posted.add(item.name)
        rollout.pending_events = []

    def report(
        self,
        body: Body,
        decision: Decision | None,
        obs: Observation | None,
        problem: Problem | None,
        *,
        held: Hold | None = None,
        approximate: bool = False,
    ) -> None:
        """Write the full status; a problem or a hold new in the Ready condition is also told as a Warning event."""
        meta = body["metadata"]
        previous = AsgiServiceStatus.model_validate(body.get("status") or {})
        owner = Owner(meta["name"], meta["namespace"], meta["uid"])
        if decision is None or obs is None:  # nothing observed (an invalid spec): keep what status said
            rollout, revision, image, label_selector = previous.rollout, previous.revision, previous.image, None
        else:
            stable_spec = decision.rollout.stable_spec or obs.spec
            rollout, revision = decision.rollout, obs.revision
            image = str(stable_spec["image"]) if stable_spec.get("image") else None
            label_selector = ",".join(f"{k}={v}" for k, v in selector(owner).items())
        status = compute(
            previous=previous,
            generation=int(meta.get("generation", 0)),
            revision=revision,
            rollout=rollout,
            stable=obs.stable if obs is not None else None,
            canary=obs.canary if obs is not None else None,
            desired_replicas=obs.default_replicas if obs is not None else 0,
            selector=label_selector or previous.selector or "",
            image=image,
            problem=problem,
            now=iso(self.clock()),
            approximate_split=approximate and decision is not None and decision.canary_weight > 0,
            held=held,
        )
        before = ready_message(body.get("status") or {})
        ready = status.conditions[0]
        told = next((t for t in (problem, held) if t is not None and t.reason == ready.reason), None)
        if self.write_status(body, status) and told is not None and before != ready.message:
            self.event(body, Event(told.reason, told.message, "Warning"))

    def report_problem(self, body: Body, problem: Problem) -> None:
        """A pass that failed half-way: the conditions tell `problem`, everything else in status stays as it was;
        a problem new in the Ready condition is also told as a Warning event (once, not at every retry)."""
        previous = AsgiServiceStatus.model_validate(body.get("status") or {})
        status = with_problem(previous, int(body["metadata"].get("generation", 0)), problem, iso(self.clock()))
        before = ready_message(body.get("status") or {})
        if self.write_status(body, status) and before != status.conditions[0].message:
            self.event(body, Event(problem.reason, problem.message, "Warning"))

    def _count(self, kind: str, verb: str) -> None:
        telemetry.API_WRITES.labels(kind, verb).inc()
        self.writes += 1


def ready_message(status: dict[str, Any]) -> str | None:
    ready: dict[str, Any] = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), {})
    message = ready.get("message")
    return str(message) if message is not None else None
