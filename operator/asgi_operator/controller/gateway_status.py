"""What the gateway says of the routes the operator generates, turned into what a reconcile does with it: a
condition, a generated object not written because the Gateway's class lacks a feature it uses, and an analysis
that holds instead of counting a canary's traffic that cannot flow.

Reads, and why each happens:
- the generated HTTPRoute `<name>` (and `<name>-redirect`): from the store, at every reconcile, for free. It is a
  watched child whose status.parents conditions the store keeps (reconcile.observe.trimmed), so a gateway
  writing its verdict wakes the AsgiService (a status-only change: a 1 s settle) and idle costs nothing.
- the Gateway and its GatewayClass: fresh GETs, at most once per pass (FeatureGate), and only when an object
  using an Extended feature (HSTS's ResponseHeaderModifier, the scheme redirect, CORS, a path rewrite, a
  ListenerSet) is about to be written, or before a canary analysis of such a route (at most once per
  rollout.interval). Never at idle: nothing to write, nothing read. The Gateway is the platform's, not a child:
  it is not watched, and a class's supportedFeatures change only with a gateway upgrade (an object waiting for
  one is looked at again every RECHECK_WITHHELD seconds, controller.reconciler).
"""

from __future__ import annotations

import logging

from ..api.durations import seconds
from ..api.kinds import GATEWAY, GATEWAY_CLASS, HTTP_ROUTE
from ..api.models import AnalysisResult, AsgiServiceSpec, RolloutStatus
from ..api.vocabulary import EventReason as R
from ..api.vocabulary import Verdict
from ..kube.api import ApiError, Body, KubeApi
from ..reconcile.gateway import (
    FeatureGap,
    RouteVerdict,
    Withheld,
    feature_gap,
    features_needed,
    features_of,
    route_verdict,
    withheld_message,
)
from ..reconcile.status import Hold, Problem
from ..render.meta import Owner
from ..render.tls import redirect_name
from ..routers import TrafficRouter
from .store import Reads

log = logging.getLogger(__name__)


class FeatureGate:
    """One pass's check, before a generated Gateway API object is written, that the Gateway's class supports the
    Extended features it uses. The Gateway and its class are read (fresh GETs) at most once per pass, and only
    when asked about an object that uses such a feature. An object whose features the class does not list is not
    written: the live one (the last good one) keeps serving, and where none exists none is written. Not known
    (no class, a class listing no features, a read that failed) is not missing: written as before."""

    def __init__(self, api: KubeApi, owner: Owner, spec: AsgiServiceSpec) -> None:
        self.api, self.owner = api, owner
        self.ref = spec.expose.gateway if spec.expose is not None else None
        self.withheld: list[Withheld] = []
        self._missing: set[str] = set()
        self._class: Body | None = None
        self._read = False

    @property
    def gateway(self) -> str:
        return f"{self.ref.namespace or self.owner.namespace}/{self.ref.name}" if self.ref is not None else ""

    def admits(self, manifest: Body, live: Body | None) -> bool:
        """May `manifest` (about to be written over `live`) be written? False: it was withheld (self.withheld)."""
        needed = features_of(manifest)
        if not needed or self.ref is None:
            return True
        gap = self.gap(needed)
        if gap is None:
            return True
        self.withheld.append(Withheld(str(manifest["kind"]), str(manifest["metadata"]["name"]), live is not None))
        self._missing.update(gap.missing)
        return False

    def gap(self, needed: list[str]) -> FeatureGap | None:
        """The features of `needed` the Gateway's class does not list (None: none, or nothing known)."""
        return feature_gap(self.gateway, self.gateway_class(), needed) if needed and self.ref is not None else None

    def problem(self) -> Problem | None:
        """What was withheld, as a problem a person must solve (change the spec or the gateway): Stalled."""
        gap = feature_gap(self.gateway, self.gateway_class(), sorted(self._missing)) if self.withheld else None
        if gap is None:
            return None
        return Problem(R.GATEWAY_FEATURE_MISSING, withheld_message(gap, self.withheld), stalled=True)

    def gateway_class(self) -> Body | None:
        if self._read or self.ref is None:
            return self._class
        self._read = True
        try:
            gateway = self.api.get(GATEWAY, self.ref.namespace or self.owner.namespace, self.ref.name)
            class_name = (gateway or {}).get("spec", {}).get("gatewayClassName")
            self._class = self.api.get(GATEWAY_CLASS, "", str(class_name)) if class_name else None
        except ApiError as e:  # not known is not missing
            log.info("Gateway %s or its class could not be read (%s): features not checked", self.gateway, e.reason)
        return self._class


class GatewayStatus:
    def __init__(self, api: KubeApi, reads: Reads) -> None:
        self.api, self.reads = api, reads

    def verdicts(self, owner: Owner, spec: AsgiServiceSpec) -> list[RouteVerdict]:
        """The gateway's verdicts on the generated routes (none for expose.httpRoute: that route is the user's)."""
        expose = spec.expose
        if expose is None or expose.gateway is None:
            return []
        out = [route_verdict(self.reads.get(HTTP_ROUTE, owner.namespace, owner.name), owner.namespace)]
        if expose.tls is not None and expose.tls.redirect and expose.gateway.http_section_name:
            live = self.reads.get(HTTP_ROUTE, owner.namespace, redirect_name(owner))
            out.append(route_verdict(live, owner.namespace))
        return out

    def refused(self, owner: Owner, spec: AsgiServiceSpec) -> Hold | None:
        """A route the gateway refused: a hold with the gateway's own words (Ready False, Reconciling True, never
        Stalled: the Gateway's owner may admit the route any moment, and the route's next status wakes us)."""
        refused = [v for v in self.verdicts(owner, spec) if v.accepted is False]
        if not refused:
            return None
        said = "; ".join(v.describe() for v in refused)
        return Hold(R.ROUTE_NOT_ACCEPTED, f"held until the gateway accepts the route: {said}")

    def hold(
        self,
        owner: Owner,
        spec: AsgiServiceSpec,
        rollout: RolloutStatus,
        router: TrafficRouter,
        gate: FeatureGate,
        *,
        at: str,
    ) -> AnalysisResult | None:
        """Before an analysis counts the canary's traffic: a result that holds the step when the traffic cannot
        flow as rendered (route refused, or a feature the class lacks: the route with the canary's weight is then
        not written either, FeatureGate), else None (analyse)."""
        expose = spec.expose
        if expose is None or expose.gateway is None:
            return None
        main = self.verdicts(owner, spec)[0]
        if main.accepted is False:
            return _held(spec, rollout, at, R.ROUTE_NOT_ACCEPTED, main.describe())
        gap = gate.gap(features_needed(router.manifests(owner, spec, rollout.canary_weight, True)))
        if gap is None:
            return None
        message = f"{gap.describe()}: the generated route needs it, so the canary's weights cannot move"
        return _held(spec, rollout, at, R.GATEWAY_FEATURE_MISSING, message)


def _held(spec: AsgiServiceSpec, rollout: RolloutStatus, at: str, reason: str, message: str) -> AnalysisResult:
    """An analysis that holds the step (verdict Error: never promotes, never rolls back on this alone)."""
    slo = spec.rollout.slo
    return AnalysisResult(
        verdict=Verdict.ERROR,
        reason=reason,
        at=at,
        step=rollout.step_index + 1,
        weight=rollout.canary_weight,
        max_error_rate=slo.max_error_rate,
        max_latency_p99_seconds=seconds(slo.max_latency_p99),
        min_requests=slo.min_requests,
        message=message,
    )
