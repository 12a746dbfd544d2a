"""One reconcile of one AsgiService: read, decide (pure), persist the decision, act, report.

Order matters for restarts at any moment: a new rollout position is written to `.status` BEFORE anything
acts on it (weights, canary size), and the events it announces are kept in status as pending until they
are posted under deterministic names. A SIGKILL anywhere therefore resumes from the last written position,
never skipping or repeating a step.

Idle costs nothing: children are read and compared with the desired manifests; only a child that is
missing, stale or drifted is written (controller.children), and status only when it differs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from pydantic import ValidationError

from ..api import keys
from ..api.kinds import ASGI_SERVICE, CERTIFICATE, DEPLOYMENT, POD_MONITOR
from ..api.models import AsgiService, AsgiServiceSpec, RolloutStatus
from ..api.vocabulary import EventReason
from ..kube.api import ApiError, ApiUnreachable, Body, KubeApi
from ..prom.client import PrometheusPool
from ..reconcile.advice import overlapping_analyses
from ..reconcile.announce import sequence
from ..reconcile.observe import annotation, is_paused, workload
from ..reconcile.plan import Plan, StableSpecInvalid, parse_stable_spec, plan
from ..reconcile.status import Problem, converged_before
from ..render.children import revision_of
from ..render.meta import Owner, canary_name
from ..render.scaling import fixed_replicas
from ..rollout.state import Decision, Observation
from ..rollout.strategy import decide
from ..routers import RouterError
from . import telemetry
from .children import ChildWriter, Written
from .credentials import Credentials
from .exposure import Exposure
from .gateway_status import FeatureGate
from .namespaces import TerminatingNamespaces
from .predeploy_jobs import PreDeployJobs
from .problems import ApiUnavailable, RetryableError, problem_of, unexpected
from .queue import Key, RetryLater
from .recall import Recall
from .reporting import Reporter
from .sampling import Sampler
from .settings import Settings
from .store import Reads, Store

log = logging.getLogger(__name__)
# a generated route withheld because the Gateway's class lacks a feature (controller.gateway_status.FeatureGate)
# is looked at again this often: a GatewayClass's status (a gateway upgrade) wakes nothing, it is not watched
RECHECK_WITHHELD = 300.0


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
        store: Store,
        prometheus: PrometheusPool | None = None,
        terminating: TerminatingNamespaces | None = None,
    ) -> None:
        self.api = api
        self.reads = Reads(store, api)
        self.clock = utcnow
        self.terminating = terminating or TerminatingNamespaces()
        self.reporter = Reporter(api, utcnow, self.reads.wrote)
        self.exposure = Exposure(api, self.reads, utcnow)
        self.jobs = PreDeployJobs(api, self.reads)
        self.recall = Recall()
        self.sampler = Sampler(
            prometheus or PrometheusPool(), settings, utcnow, Credentials(api.get, settings.prometheus_auth)
        )

    def reconcile(self, key: Key) -> Outcome:
        started, outcome = time.perf_counter(), "error"
        try:
            result = self._reconcile(key)
            outcome = "changed" if result.writes else "unchanged"
            self.recall.succeeded(key)
            return result
        except RetryableError as e:
            telemetry.RECONCILE_ERRORS.labels(e.reason).inc()
            raise
        finally:
            telemetry.RECONCILES.labels(outcome).inc()
            telemetry.RECONCILE_SECONDS.observe(time.perf_counter() - started)

    def _reconcile(self, key: Key) -> Outcome:
        namespace, name = key
        if namespace in self.terminating:
            return Outcome()  # the namespace controller is deleting everything in it: never fight it
        try:
            body = self.reads.get(ASGI_SERVICE, namespace, name)
        except ApiUnreachable as e:
            raise ApiUnavailable(e) from e
        except ApiError as e:
            raise RetryableError(problem_of(e).message) from e
        if body is None or body["metadata"].get("deletionTimestamp"):
            telemetry.forget(namespace, name)
            self.recall.forget(key)
            return Outcome()  # children go with it (owner references + garbage collection)
        writes_before = self.reporter.writes
        try:
            outcome = self._pass(body)
        except RetryLater:
            raise  # a problem the pass reported itself, or a stale read to redo at once
        except ApiUnreachable as e:
            raise ApiUnavailable(e) from e
        except ApiError as e:
            if not e.namespace_terminating:
                raise self._failed(body, problem_of(e)) from e
            if self.terminating.mark(namespace):
                log.info("namespace %s is being deleted: its AsgiServices are left alone", namespace)
            outcome = Outcome()
        except Exception as e:
            # a bug, or input nobody foresaw: told in status and an event, retried with backoff, never a crash loop
            # (the traceback goes to the log only: it is for the operator's developers)
            log.exception("reconcile of %s/%s raised %s", namespace, name, type(e).__name__)
            raise self._failed(body, Problem(EventReason.RECONCILE_ERROR, unexpected(e), stalled=False)) from e
        outcome.writes += self.reporter.writes - writes_before
        return outcome

    def _failed(self, body: Body, problem: Problem) -> RetryableError:
        """Tell `problem` in status and as an event if the API server lets us; the retry follows either way."""
        if not self.recall.tells(_key(body), problem):
            return RetryableError(problem.message, problem.reason)
        try:
            self.reporter.report_problem(body, problem)
        except (RetryLater, ApiError, ApiUnreachable) as e:  # the object changed meanwhile, or the API failed too
            meta = body["metadata"]
            log.warning("could not report %s on %s/%s: %s", problem.reason, meta["namespace"], meta["name"], e)
        return RetryableError(problem.message, problem.reason)

    def _pass(self, body: Body) -> Outcome:
        try:
            obj = AsgiService.model_validate(body)
        except ValidationError as e:  # a spec the CRD let through but the operator cannot run
            details = "; ".join(
                f"{'.'.join(str(p) for p in x['loc'])}: {x['msg']}" if x["loc"] else x["msg"] for x in e.errors()
            )
            self.reporter.report(
                body, None, None, Problem(EventReason.INVALID_SPEC, f"the spec cannot be run: {details}", stalled=True)
            )
            return Outcome()
        meta, spec, status = body["metadata"], obj.spec, obj.status
        owner = Owner(meta["name"], meta["namespace"], meta["uid"])
        generation = int(meta.get("generation", 0))
        served = frozenset(k.kind for k in (POD_MONITOR, CERTIFICATE) if self.api.served(k))

        # 1. read and decide
        gate = self.exposure.gate(owner, spec)  # what the Gateway's class supports: read once, only if needed
        obs, decision = self._decide(body, owner, spec, status.rollout, gate)
        try:
            stable_spec = parse_stable_spec(decision.stable_template_spec)
            the_plan = plan(
                owner,
                spec,
                obs.revision,
                decision,
                stable_spec,
                pod_monitor_crd=POD_MONITOR.kind in served,
                cert_manager_crd=CERTIFICATE.kind in served,
            )
        except StableSpecInvalid as e:
            message = f"the stable revision's spec kept in status no longer parses ({e}); its Deployment is left alone"
            self.reporter.report(body, decision, obs, Problem(EventReason.STABLE_SPEC_INVALID, message, stalled=True))
            return Outcome()
        except RouterError as e:
            self.reporter.report(body, decision, obs, problem_of(e))
            return Outcome()

        # 2. persist the new position (and the events it announces) before acting on it
        decision = sequence(decision, owner.name, owner.uid)
        # (a first deploy moves no traffic: its position needs no write of its own; its event names are
        # deterministic, so redoing it after a crash posts nothing twice)
        first_deploy = status.rollout.stable_revision is None
        if _position(decision.rollout) != _position(status.rollout) and not first_deploy:
            self.reporter.write_position(body, decision.rollout)

        # 3. act: children and traffic
        writer = ChildWriter(self.api, self.reads, owner, gate=gate.admits)
        converged = converged_before(status, generation)
        problem = self._write(
            writer, spec, the_plan, decision, obs.revision, gate=gate, converged=converged, served=served
        )
        held = self.exposure.held(owner, spec)
        written = writer.written
        obs = _as_written(obs, written, owner)

        # 4. announce (exactly once), 5. report (a transient problem only once it outlived its retry)
        reasons = [e.reason for e in decision.events]
        self.reporter.post_pending(body, decision.rollout)
        spec_changed = status.observed_generation != generation
        for event in written.changes.events(spec_changed=spec_changed):
            self.reporter.event(body, event)
        if spec_changed and (advice := overlapping_analyses(spec)) is not None:
            self.reporter.advise(body, advice, "window")
        telemetry.record_rollout(owner.namespace, owner.name, decision.rollout.phase, decision.canary_weight, reasons)
        if problem is None or self.recall.tells(_key(body), problem):
            self.reporter.report(body, decision, obs, problem, held=held, approximate=the_plan.router.approximate)
        if problem is not None and not problem.stalled:
            raise RetryableError(problem.message, problem.reason)
        outcome = Outcome(writes=written.writes)
        if decision.wake_at is not None:
            outcome.requeue_after = max(0.5, (decision.wake_at - self.clock()).total_seconds() + 0.5)
        if gate.withheld:
            outcome.requeue_after = min(outcome.requeue_after or RECHECK_WITHHELD, RECHECK_WITHHELD)
        return outcome

    def _write(
        self,
        writer: ChildWriter,
        spec: AsgiServiceSpec,
        the_plan: Plan,
        decision: Decision,
        revision: str,
        *,
        gate: FeatureGate,
        converged: bool,
        served: frozenset[str],
    ) -> Problem | None:
        """Write the children (and a pre-deploy Job); what keeps them from working, if anything."""
        owner = writer.owner
        key = (owner.namespace, owner.name)
        try:
            self.jobs.start(writer, owner, spec, decision.rollout, revision)
            new_kinds = self.recall.newly_served(key, served)
            writer.sync(the_plan, spec, decision.canary_weight, converged_before=converged, newly_served=new_kinds)
        except (ApiError, RouterError) as e:
            if isinstance(e, ApiError) and e.namespace_terminating:
                raise  # nothing to report: the namespace and everything in it are going away
            return problem_of(e)
        self.recall.wrote_every_child(key, served)
        # a route withheld (its Gateway's class lacks a feature it uses): Stalled until the spec or the gateway
        # changes; the other children were written
        return gate.problem() or self.exposure.problem(owner, spec)

    def _decide(
        self, body: Body, owner: Owner, spec: AsgiServiceSpec, rollout: RolloutStatus, gate: FeatureGate
    ) -> tuple[Observation, Decision]:
        obs = self._observe(body, owner, spec, rollout)
        decision = decide(spec.rollout, rollout, obs)
        if decision.needs_analysis:
            # a route the gateway refused carries no canary traffic, nor one that cannot be written (a feature its
            # class lacks): hold with that reason, never count
            analysis = self.exposure.hold_analysis(owner, spec, decision.rollout, gate) or self.sampler.analyze(
                owner.namespace, owner.name, spec, decision.rollout
            )
            decision = decide(spec.rollout, rollout, replace(obs, analysis=analysis))
        return obs, decision

    def _observe(self, body: Body, owner: Owner, spec: AsgiServiceSpec, rollout: RolloutStatus) -> Observation:
        stable_live = self.reads.get(DEPLOYMENT, owner.namespace, owner.name)
        canary_live = self.reads.get(DEPLOYMENT, owner.namespace, canary_name(owner))
        obs = Observation(
            now=self.clock(),
            revision=revision_of(owner, spec),
            spec=body["spec"],
            stable=workload(stable_live),
            canary=workload(canary_live),
            default_replicas=fixed_replicas(spec) or (spec.autoscaling.min_replicas if spec.autoscaling else 1),
            paused=is_paused(body),
            request=annotation(body, keys.ANNOTATION_REQUEST),
            name=owner.name,
            pre_deploy=self.jobs.observe(owner, rollout),
        )
        return obs


def _key(body: Body) -> Key:
    return body["metadata"]["namespace"], body["metadata"]["name"]


def _as_written(obs: Observation, written: Written, owner: Owner) -> Observation:
    """A Deployment just written is judged by what the API server returned (new generation, not yet observed):
    Ready never reports the pods of the spec before the change."""
    stable_now = written.applied.get(("Deployment", owner.name))
    canary_now = written.applied.get(("Deployment", canary_name(owner)))
    return replace(
        obs,
        stable=workload(stable_now) if stable_now else obs.stable,
        canary=workload(canary_now) if canary_now else obs.canary,
    )


def _position(rollout: RolloutStatus) -> dict[str, object]:
    data: dict[str, object] = rollout.model_dump(by_alias=True, exclude_none=True, mode="json")
    data.pop("pendingEvents", None)
    data.pop("approximateSplit", None)
    return data


__all__ = ["ApiUnavailable", "Outcome", "Reconciler", "RetryableError"]
