"""One reconcile of one AsgiService: read, decide (pure), persist the decision, act, report.

Order matters for restarts at any moment: a new rollout position is written to `.status` BEFORE anything
acts on it (weights, canary size), and the events it announces are kept in status as pending until they
are posted under deterministic names. A SIGKILL anywhere therefore resumes from the last written position,
never skipping or repeating a step.

Idle costs nothing: children are read and compared with the desired manifests; only a child that is
missing, stale (its config hash differs) or drifted (a field the operator owns was changed) is written,
and status is written only when it differs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pydantic import ValidationError

from ..api import keys
from ..api.durations import seconds
from ..api.models import (
    AnalysisResult,
    AsgiService,
    AsgiServiceSpec,
    AsgiServiceStatus,
    PendingEvent,
    StableBaseline,
)
from ..kube.api import (
    ASGI_SERVICE,
    DEPLOYMENT,
    HTTP_ROUTE,
    JSON_PATCH,
    KINDS,
    POD_MONITOR,
    ApiError,
    Body,
    KubeApi,
    kind_of,
)
from ..kube.events import EventSpec, post_event
from ..prom.client import PrometheusError, PrometheusPool, QueryRejected
from ..reconcile.observe import annotation, is_paused, workload
from ..reconcile.plan import Plan, plan
from ..reconcile.status import Problem, compute, converged_before
from ..render.children import revision_of
from ..render.drift import holds
from ..render.meta import Owner, selector
from ..render.scaling import fixed_replicas
from ..rollout.analysis import Sample, analysis_window, evaluate, needs_before_rollout, stable_reference
from ..rollout.machine import Decision, Observation, advance, iso, parse_time, rolling_update
from ..rollout.queries import RouteCheck, Target, combined, profile_for
from ..routers.base import RouterError
from . import telemetry
from .namespaces import TerminatingNamespaces
from .queue import Key, RetryLater
from .settings import Settings

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Outcome:
    requeue_after: float | None = None
    writes: int = 0


class Reconciler:
    def __init__(
        self,
        api: KubeApi,
        settings: Settings,
        prometheus: PrometheusPool | None = None,
        terminating: TerminatingNamespaces | None = None,
    ) -> None:
        self.api = api
        self.settings = settings
        self.prometheus = prometheus or PrometheusPool()
        self.terminating = terminating or TerminatingNamespaces()
        self.clock = utcnow
        self._posted: set[str] = set()  # pending events already posted by this process

    # ------------------------------------------------------------------ entry point
    def reconcile(self, key: Key) -> Outcome:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = self._reconcile(key)
            outcome = "changed" if result.writes else "unchanged"
            return result
        finally:
            telemetry.RECONCILES.labels(outcome).inc()
            telemetry.RECONCILE_SECONDS.observe(time.perf_counter() - started)

    def _reconcile(self, key: Key) -> Outcome:
        namespace, name = key
        if namespace in self.terminating:
            return Outcome()  # the namespace controller is deleting everything in it: never fight it
        body = self.api.get(ASGI_SERVICE, namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            telemetry.forget(namespace, name)
            return Outcome()  # children go with it (owner references + garbage collection)
        try:
            obj = AsgiService.model_validate(body)
        except ValidationError as e:
            return self._invalid(body, e)
        try:
            return _Pass(self, body, obj).run()
        except ApiError as e:
            if not e.namespace_terminating:
                raise
            if self.terminating.mark(namespace):
                log.info("namespace %s is being deleted: its AsgiServices are left alone", namespace)
            return Outcome()

    def _invalid(self, body: Body, error: ValidationError) -> Outcome:
        """A spec the CRD let through but the operator cannot run: say so, do not crash or retry."""
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"] for e in error.errors()
        )
        problem = Problem("InvalidSpec", f"the spec cannot be run: {details}", stalled=True)
        previous = AsgiServiceStatus.model_validate(body.get("status") or {})
        status = compute(
            previous=previous,
            generation=int(body["metadata"].get("generation", 0)),
            revision=previous.revision,
            rollout=previous.rollout,
            stable=None,
            canary=None,
            desired_replicas=0,
            selector=previous.selector or "",
            image=previous.image,
            problem=problem,
            now=iso(self.clock()),
        )
        outcome = Outcome()
        if self.write_status(body, status, outcome):
            post_event(self.api, body, EventSpec("InvalidSpec", problem.message, "Warning"))
            outcome.writes += 1
        return outcome

    # ------------------------------------------------------------------ shared I/O helpers
    def write_status(self, body: Body, status: AsgiServiceStatus, outcome: Outcome) -> bool:
        """Replace `.status` if it differs, only if nobody wrote the object since we read it (else 409)."""
        new = status.model_dump(by_alias=True, exclude_none=True, mode="json")
        if new == (body.get("status") or {}):
            return False
        meta = body["metadata"]
        ops = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
            {"op": "add", "path": "/status", "value": new},
        ]
        updated = self.api.patch(
            ASGI_SERVICE, meta["namespace"], meta["name"], ops, content_type=JSON_PATCH, subresource="status"
        )
        telemetry.API_WRITES.labels("AsgiService", "patch-status").inc()
        outcome.writes += 1
        body["metadata"] = updated["metadata"]
        body["status"] = updated.get("status", new)
        return True

    def analyze(self, namespace: str, name: str, spec: AsgiServiceSpec, decision: Decision) -> AnalysisResult:
        rollout = decision.rollout
        prom_spec, slo = spec.rollout.prometheus, spec.rollout.slo
        window = analysis_window(spec)
        now = self.clock()
        step, weight = rollout.step_index + 1, rollout.canary_weight
        verdict = partial(evaluate, slo=slo, window=window, at=iso(now), step=step, weight=weight)
        address = prom_spec.address or self.settings.prometheus_url
        if not address:
            return verdict(
                canary=None,
                error="no address: set spec.rollout.prometheus.address or the operator's --prometheus-url",
            )
        profile = profile_for(prom_spec.profile, prom_spec.queries)
        routes = (
            RouteCheck(slo.per_route.min_requests, slo.per_route.max_latency_p99 is not None)
            if slo.per_route is not None
            else None
        )
        excluded = (
            spec.probes.path,
            spec.metrics.path,
            *(p.path for p in (spec.probes.readiness, spec.probes.liveness, spec.probes.startup) if p.path),
        )
        client = self.prometheus.get(address, seconds(prom_spec.timeout))

        def sample(track: str, revision: str, at: datetime | None = None) -> Sample:
            target = Target(namespace, name, track, revision, window, excluded)
            began = time.perf_counter()
            try:
                series = client.query(combined(profile, target, routes if track == keys.TRACK_CANARY else None), at)
            except PrometheusError:
                telemetry.PROM_QUERIES.labels("error").inc()
                raise
            finally:
                telemetry.PROM_QUERY_SECONDS.observe(time.perf_counter() - began)
            telemetry.PROM_QUERIES.labels("ok").inc()
            return Sample.from_series(((s.labels, s.value) for s in series), profile.route_label)

        stable: StableBaseline | None = None
        try:
            canary = sample(keys.TRACK_CANARY, rollout.canary_revision or "")
            stable_revision = rollout.stable_revision
            if slo.relative is not None and stable_revision:
                current = sample(keys.TRACK_STABLE, stable_revision)
                before, before_at = None, None
                started = parse_time(rollout.started_at)
                stored = rollout.stable_baseline
                if started is not None and needs_before_rollout(current, stored, stable_revision, slo.min_requests):
                    # stable serves nothing now and nothing was kept: the window that ended when the rollout
                    # started, when stable had all the traffic
                    before, before_at = sample(keys.TRACK_STABLE, stable_revision, started), iso(started)
                stable = stable_reference(
                    revision=stable_revision,
                    current=current,
                    current_at=iso(now),
                    window=window,
                    stored=stored,
                    before_rollout=before,
                    before_rollout_at=before_at,
                    min_requests=slo.min_requests,
                )
        except PrometheusError as e:
            result = verdict(canary=None, error=str(e), rejected=isinstance(e, QueryRejected))
        else:
            result = verdict(canary=canary, stable=stable)
        telemetry.ANALYSES.labels(namespace, name, result.verdict).inc()
        for check, value in (
            ("requests", result.requests),
            ("error_rate", result.error_rate),
            ("latency_p99_seconds", result.latency_p99_seconds),
        ):
            if value is not None:
                telemetry.ANALYSIS_VALUE.labels(namespace, name, check).set(value)
        return result


class _Pass:
    """The state of one reconcile pass."""

    def __init__(self, r: Reconciler, body: Body, obj: AsgiService) -> None:
        self.r, self.api, self.body, self.obj = r, r.api, body, obj
        meta = body["metadata"]
        self.namespace, self.name = meta["namespace"], meta["name"]
        self.owner = Owner(self.name, self.namespace, meta["uid"])
        self.spec = obj.spec
        self.generation = int(meta.get("generation", 0))
        self.outcome = Outcome()
        self.applied: dict[tuple[str, str], Body] = {}

    def run(self) -> Outcome:
        spec, status = self.spec, self.obj.status
        now = self.r.clock()
        revision = revision_of(self.owner, spec)
        stable_live = self.api.get(DEPLOYMENT, self.namespace, self.name)
        canary_live = self.api.get(DEPLOYMENT, self.namespace, f"{self.name}-canary")
        default_replicas = fixed_replicas(spec) or (spec.autoscaling.min_replicas if spec.autoscaling else 1)
        obs = Observation(
            now=now,
            revision=revision,
            spec=self.body["spec"],
            stable=workload(stable_live),
            canary=workload(canary_live),
            default_replicas=default_replicas,
            paused=is_paused(self.body),
            request=annotation(self.body, keys.ANNOTATION_REQUEST),
        )
        decision = self.decide(obs, status)
        if decision.needs_analysis:
            result = self.r.analyze(self.namespace, self.name, spec, decision)
            decision = self.decide(replace(obs, analysis=result), status)

        problem: Problem | None = None
        try:
            the_plan = plan(self.owner, spec, revision, decision, pod_monitor_crd=self.api.served(POD_MONITOR))
        except RouterError as e:
            return self.fail(Problem("RouterError", str(e), stalled=True), decision, obs, revision)

        # 1. persist the new rollout position (and the events it announces) before acting on it
        rollout = decision.rollout
        if decision.events:
            rollout = rollout.model_copy(deep=True)
            for event in decision.events:
                rollout.event_seq += 1
                rollout.pending_events.append(
                    PendingEvent(
                        name=f"{self.name}.{self.owner.uid[:8]}.{rollout.event_seq:04d}",
                        reason=event.reason,
                        message=event.message,
                        type=event.type,
                    )
                )
            decision = replace(decision, rollout=rollout)
        if _position(decision.rollout) != _position(status.rollout):
            # only the rollout's position: the conditions keep saying what is observed until the children
            # have been written (the full status follows below)
            live = AsgiServiceStatus.model_validate(self.body.get("status") or {})
            self.r.write_status(self.body, live.model_copy(update={"rollout": decision.rollout}), self.outcome)

        # 2. act: children, traffic
        try:
            self.sync_children(the_plan, decision)
        except (ApiError, RouterError) as e:
            if isinstance(e, ApiError) and e.namespace_terminating:
                raise  # nothing to report: the namespace and everything in it are going away
            problem = self.problem(e)

        # a Deployment just written is judged by what the API server returned (new generation, not yet
        # observed): Ready never reports the pods of the spec before the change
        stable_now = self.applied.get(("Deployment", self.name))
        canary_now = self.applied.get(("Deployment", f"{self.name}-canary"))
        obs = replace(
            obs,
            stable=workload(stable_now) if stable_now else obs.stable,
            canary=workload(canary_now) if canary_now else obs.canary,
        )

        # 3. announce (exactly once), 4. report
        self.post_pending(decision)
        self.write_status(decision, obs, revision, problem, approximate=the_plan.router.approximate)
        self.record(decision)
        if problem is not None and not problem.stalled:
            raise RetryableError(problem.message)
        if decision.wake_at is not None:
            self.outcome.requeue_after = max(0.5, (decision.wake_at - self.r.clock()).total_seconds() + 0.5)
        return self.outcome

    # ------------------------------------------------------------------ deciding
    def decide(self, obs: Observation, status: AsgiServiceStatus) -> Decision:
        in_flight = status.rollout.phase in ("Progressing", "Promoting")
        if self.spec.rollout.strategy == "RollingUpdate" and not in_flight:
            return rolling_update(status.rollout, obs)
        return advance(self.spec.rollout, status.rollout, obs)

    # ------------------------------------------------------------------ acting
    def sync_children(self, the_plan: Plan, decision: Decision) -> None:
        created: list[str] = []
        updated: list[str] = []
        repaired: list[str] = []
        for manifest in the_plan.children.apply:
            kind = kind_of(manifest)
            if not self.api.served(kind):
                raise RouterError(
                    f"{manifest['kind']} ({kind.api_version}) is not served by this cluster: "
                    "install its CRDs, or change spec.expose"
                )
            live = self.api.get(kind, self.namespace, manifest["metadata"]["name"])
            if live is not None and holds(manifest, live):
                continue
            handover = self.replicas_handover(manifest, live)
            if handover is not None and live is not None:
                self._apply(handover, keys.REPLICAS_FIELD_MANAGER)  # before the main manager lets go
            self._apply(manifest, keys.FIELD_MANAGER)
            if handover is not None and live is None:
                self._apply(handover, keys.REPLICAS_FIELD_MANAGER)  # the HPA's minimum from the start
            ref = f"{kind.kind}/{manifest['metadata']['name']}"
            if live is None:
                # deleted by somebody after the last reconcile had written it: a repair
                (repaired if converged_before(self.obj.status, self.generation) else created).append(ref)
            elif _config_hash(live) == _config_hash(manifest):
                repaired.append(ref)  # our manifest did not change: somebody changed the object
            else:
                updated.append(ref)
        for api_version, kind_name, child in the_plan.children.delete:
            kind = KINDS[(api_version, kind_name)]
            if not self.api.served(kind):
                continue
            live = self.api.get(kind, self.namespace, child)
            if live is None or not _owned_by(live, self.owner.uid):
                continue
            self.api.delete(kind, self.namespace, child, uid=live["metadata"]["uid"])
            telemetry.API_WRITES.labels(kind.kind, "delete").inc()
            self.outcome.writes += 1
            updated.append(f"{kind.kind}/{child} (deleted)")
        expose = self.spec.expose
        if expose is not None and expose.http_route is not None:
            live_route = self.api.get(HTTP_ROUTE, self.namespace, expose.http_route.name)
            ops = the_plan.router.patch_existing(self.owner, self.spec, live_route, decision.canary_weight)
            if ops:
                self.api.patch(HTTP_ROUTE, self.namespace, expose.http_route.name, ops, content_type=JSON_PATCH)
                telemetry.API_WRITES.labels("HTTPRoute", "patch").inc()
                self.outcome.writes += 1
        # rollout-driven changes (weights, canary size) are told by the rollout's own events
        spec_changed = self.obj.status.observed_generation != self.body["metadata"].get("generation")
        for reason, refs in (
            ("Created", created),
            ("Updated", updated if spec_changed else []),
            ("DriftRepaired", repaired),
        ):
            if refs:
                message = f"{reason.lower() if reason != 'DriftRepaired' else 'put back'} {', '.join(refs)}"
                if reason == "DriftRepaired":
                    message += " (changed or deleted outside the operator)"
                self.event(EventSpec(reason, message))

    def _apply(self, manifest: Body, field_manager: str) -> None:
        self.applied[(manifest["kind"], manifest["metadata"]["name"])] = self.api.apply(
            manifest, field_manager=field_manager
        )
        telemetry.API_WRITES.labels(manifest["kind"], "apply").inc()
        self.outcome.writes += 1

    def replicas_handover(self, manifest: Body, live: Body | None) -> Body | None:
        """A Deployment whose replicas the HPA owns is applied without `replicas`. Server-side apply would
        then reset a field nobody else owns to its default (1 pod): so a second field manager sets it once,
        to the HPA's minimum on creation, or to the current count when autoscaling is switched on."""
        if manifest["kind"] != "Deployment" or "replicas" in manifest["spec"] or self.spec.autoscaling is None:
            return None
        if live is None:
            replicas = self.spec.autoscaling.min_replicas
        elif _manages_replicas(live, keys.FIELD_MANAGER):
            replicas = int(live["spec"].get("replicas", self.spec.autoscaling.min_replicas))
        else:
            return None
        meta = manifest["metadata"]
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "spec": {"replicas": replicas},
        }

    def problem(self, error: Exception) -> Problem:
        if isinstance(error, RouterError):
            return Problem("RouterError", str(error), stalled=True)
        assert isinstance(error, ApiError)
        if error.rbac_denied:
            return Problem("Forbidden", f"the operator lacks a permission: {error.message}", stalled=False)
        if error.forbidden:  # admission (quota, pod security, a webhook), not RBAC
            return Problem("AdmissionDenied", f"the API server refused a child object: {error.message}", stalled=False)
        if error.status == 422:
            return Problem("InvalidChild", f"the API server rejected a child object: {error.message}", stalled=True)
        return Problem("ApiError", f"{error.status} {error.reason}: {error.message}", stalled=False)

    def fail(self, problem: Problem, decision: Decision, obs: Observation, revision: str) -> Outcome:
        self.write_status(decision, obs, revision, problem)
        return self.outcome

    # ------------------------------------------------------------------ reporting
    def event(self, event: EventSpec) -> None:
        try:
            post_event(self.api, self.body, event)
            telemetry.API_WRITES.labels("Event", "create").inc()
            self.outcome.writes += 1
        except ApiError as e:
            if e.namespace_terminating:
                raise
            log.warning("could not post event %s on %s/%s: %s", event.reason, self.namespace, self.name, e)

    def post_pending(self, decision: Decision) -> None:
        pending = decision.rollout.pending_events
        if not pending:
            return
        for item in pending:
            if item.name in self.r._posted:
                continue
            post_event(self.api, self.body, EventSpec(item.reason, item.message, item.type, name=item.name))
            telemetry.API_WRITES.labels("Event", "create").inc()
            self.outcome.writes += 1
            self.r._posted.add(item.name)
        decision.rollout.pending_events = []

    def write_status(
        self,
        decision: Decision,
        obs: Observation,
        revision: str,
        problem: Problem | None,
        *,
        approximate: bool = False,
    ) -> None:
        previous = self.obj.status
        live_status = self.body.get("status")
        if live_status:
            previous = AsgiServiceStatus.model_validate(live_status)
        stable_spec = decision.rollout.stable_spec or obs.spec
        status = compute(
            previous=previous,
            generation=int(self.body["metadata"].get("generation", 0)),
            revision=revision,
            rollout=decision.rollout,
            stable=obs.stable,
            canary=obs.canary,
            desired_replicas=obs.default_replicas,
            selector=",".join(f"{k}={v}" for k, v in selector(self.owner).items()),
            image=str(stable_spec.get("image")) if stable_spec.get("image") else None,
            problem=problem,
            now=iso(self.r.clock()),
            approximate_split=approximate and decision.canary_weight > 0,
        )
        before = self.body.get("status") or {}
        if self.r.write_status(self.body, status, self.outcome) and problem is not None:
            old_ready: dict[str, Any] = next((c for c in before.get("conditions", []) if c.get("type") == "Ready"), {})
            if old_ready.get("message") != status.conditions[0].message:
                self.event(EventSpec(problem.reason, problem.message, "Warning"))

    def record(self, decision: Decision) -> None:
        telemetry.CANARY_WEIGHT.labels(self.namespace, self.name).set(decision.canary_weight)
        for phase in telemetry.PHASES:
            telemetry.ROLLOUT_PHASE.labels(self.namespace, self.name, phase).set(
                1 if decision.rollout.phase == phase else 0
            )
        for event in decision.events:
            if event.reason in ("Promoted", "SLOViolated", "Aborted", "ProgressDeadlineExceeded"):
                result = "promoted" if event.reason == "Promoted" else event.reason
                telemetry.ROLLOUTS.labels(self.namespace, self.name, result).inc()


class RetryableError(RetryLater):
    """The pass hit a transient problem (reported in status); the work queue retries with backoff."""


def _position(rollout: Any) -> dict[str, Any]:
    data: dict[str, Any] = rollout.model_dump(by_alias=True, exclude_none=True, mode="json")
    data.pop("pendingEvents", None)
    data.pop("approximateSplit", None)
    return data


def _manages_replicas(live: Body, manager: str) -> bool:
    return any(
        entry.get("manager") == manager
        and entry.get("operation") == "Apply"
        and "f:replicas" in entry.get("fieldsV1", {}).get("f:spec", {})
        for entry in live["metadata"].get("managedFields", [])
    )


def _config_hash(manifest: Body) -> str | None:
    value = manifest.get("metadata", {}).get("annotations", {}).get(keys.ANNOTATION_CONFIG_HASH)
    return str(value) if value is not None else None


def _owned_by(live: Body, uid: str) -> bool:
    return any(ref.get("uid") == uid and ref.get("controller") for ref in live["metadata"].get("ownerReferences", []))


__all__ = ["Outcome", "Reconciler", "RetryableError"]
