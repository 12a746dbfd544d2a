"""Sampling Prometheus for one analysis of a canary: the I/O half of the analysis (the verdict is pure, in
rollout.analysis). One query per track: the canary always; stable only with relative thresholds, and once more
for the window before the rollout when stable has no numbers now and none were kept. An answer either track
cannot read unambiguously makes the analysis an Error (UnreadableAnswer) that says whose and what came back."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

from ..api import keys
from ..api.durations import seconds
from ..api.models import AnalysisResult, AsgiServiceSpec, RolloutStatus, StableBaseline
from ..prom.client import (
    AuthRejected,
    Prometheus,
    PrometheusError,
    PrometheusPool,
    QueryRejected,
    UnreadableAnswer,
)
from ..rollout.analysis import Sample, analysis_window, evaluate, needs_before_rollout, stable_reference
from ..rollout.queries import AmbiguousAnswer, Profile, RouteCheck, Target, checks, combined, profile_for
from ..rollout.state import iso, parse_time
from . import telemetry
from .credentials import Credentials, CredentialsError
from .settings import Settings


class _Unreadable(Exception):
    """An answer that cannot be read unambiguously; the message says to which query, from where, and what."""


class Sampler:
    def __init__(
        self,
        pool: PrometheusPool,
        settings: Settings,
        clock: Callable[[], datetime],
        credentials: Credentials | None = None,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.clock = clock
        # without a way to read Secrets (unit tests): only an AsgiService without auth can be analysed
        self.credentials = credentials or Credentials(lambda *_: None, settings.prometheus_auth)

    def analyze(self, namespace: str, name: str, spec: AsgiServiceSpec, rollout: RolloutStatus) -> AnalysisResult:
        """One analysis of the canary: one query for it, and for stable only with relative thresholds."""
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
        try:
            access = self.credentials.resolve(namespace, prom_spec)
        except CredentialsError as e:
            return verdict(canary=None, error=f"{e}: fix it and the next analysis uses it", auth_failed=True)
        client = self.pool.get(address, seconds(prom_spec.timeout), access.auth)

        def sample(track: str, revision: str, at: datetime | None = None) -> Sample:
            target = Target(namespace, name, track, revision, window, excluded)
            return _read(client, profile, target, routes if track == keys.TRACK_CANARY else None, at)

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
        except _Unreadable as e:
            result = verdict(canary=None, error=str(e), unreadable=True)
        except AuthRejected as e:
            result = verdict(canary=None, error=f"{e} (sent: {access.describe()})", auth_failed=True)
        except PrometheusError as e:
            result = verdict(canary=None, error=str(e), rejected=isinstance(e, QueryRejected))
        else:
            result = verdict(canary=canary, stable=stable)
        telemetry.record_analysis(
            namespace,
            name,
            result.verdict,
            {
                "requests": result.requests,
                "error_rate": result.error_rate,
                "latency_p99_seconds": result.latency_p99_seconds,
            },
        )
        return result


def _read(
    client: Prometheus, profile: Profile, target: Target, routes: RouteCheck | None, at: datetime | None
) -> Sample:
    """One track's numbers from one query; `_Unreadable` when the answer cannot be read unambiguously."""
    whose = "the canary's query" if target.track == keys.TRACK_CANARY else "stable's query"
    if at is not None:
        whose += " for the window before the rollout"
    began = time.perf_counter()
    outcome = "error"
    try:
        series = client.query(combined(profile, target, routes), at)
        read = Sample.from_series(((s.labels, s.value) for s in series), profile.route_label, checks(profile, routes))
        outcome = "ok"
    except UnreadableAnswer as e:
        raise _Unreadable(f"unreadable answer to {whose} from {e.where}: {e.what}") from None
    except AmbiguousAnswer as e:
        raise _Unreadable(f"unreadable answer to {whose} from {client.where}: {e}") from None
    finally:
        telemetry.PROM_QUERIES.labels(outcome).inc()
        telemetry.PROM_QUERY_SECONDS.observe(time.perf_counter() - began)
    return read
