"""What the gateway says of the routes the operator generates, turned into what a reconcile does with it: a
condition, and an analysis that holds instead of counting a canary's traffic that cannot flow.

Reads, and why each happens:
- the generated HTTPRoute `<name>` (and `<name>-redirect`): from the store, at every reconcile, for free. It is a
  watched child whose status.parents conditions the store keeps (reconcile.observe.trimmed), so a gateway
  writing its verdict wakes the AsgiService (a status-only change: a 1 s settle) and idle costs nothing.
- the Gateway and its GatewayClass: fresh GETs, only before a canary analysis (at most once per
  rollout.interval, never between rollouts) and only when the route uses an Extended feature (HSTS's
  ResponseHeaderModifier, the scheme redirect, CORS, a path rewrite). The Gateway is the platform's, not a
  child: it is not watched, and a class's supportedFeatures change only with a gateway upgrade.
"""

from __future__ import annotations

import logging

from ..api.durations import seconds
from ..api.kinds import GATEWAY, GATEWAY_CLASS, HTTP_ROUTE
from ..api.models import AnalysisResult, AsgiServiceSpec, RolloutStatus
from ..api.vocabulary import EventReason as R
from ..api.vocabulary import Verdict
from ..kube.api import ApiError, KubeApi
from ..reconcile.gateway import RouteVerdict, features_needed, missing_features, route_verdict
from ..reconcile.status import Hold
from ..render.meta import Owner
from ..render.tls import redirect_name
from ..routers import TrafficRouter
from .store import Reads

log = logging.getLogger(__name__)


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
        self, owner: Owner, spec: AsgiServiceSpec, rollout: RolloutStatus, router: TrafficRouter, *, at: str
    ) -> AnalysisResult | None:
        """Before an analysis counts the canary's traffic: a result that holds the step when the traffic cannot
        flow as rendered (route refused, or a feature the class lacks), else None (analyse)."""
        expose = spec.expose
        if expose is None or expose.gateway is None:
            return None
        main = self.verdicts(owner, spec)[0]
        if main.accepted is False:
            return _held(spec, rollout, at, R.ROUTE_NOT_ACCEPTED, main.describe())
        needed = features_needed(router.manifests(owner, spec, rollout.canary_weight, True))
        if not needed:
            return None
        missing = missing_features(self._gateway_class(owner, spec), needed)
        if not missing:
            return None
        message = f"the GatewayClass of Gateway {expose.gateway.name} does not support {', '.join(missing)}"
        return _held(spec, rollout, at, R.GATEWAY_FEATURE_MISSING, f"{message}, which the generated route uses")

    def _gateway_class(self, owner: Owner, spec: AsgiServiceSpec) -> dict[str, object] | None:
        gw = spec.expose.gateway if spec.expose is not None else None
        if gw is None:
            return None
        try:
            gateway = self.api.get(GATEWAY, gw.namespace or owner.namespace, gw.name)
            class_name = (gateway or {}).get("spec", {}).get("gatewayClassName")
            return self.api.get(GATEWAY_CLASS, "", str(class_name)) if class_name else None
        except ApiError as e:  # not known is not missing: the analysis goes on
            log.info("Gateway %s or its class could not be read (%s): features not checked", gw.name, e.reason)
            return None


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
