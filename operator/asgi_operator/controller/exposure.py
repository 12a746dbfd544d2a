"""The exposure's checks a reconcile makes besides writing the children: whether a generated Gateway API object
may be written at all (the Gateway's class supports the features it uses: FeatureGate), what keeps the exposure
from working although every child was written (no cert-manager for the Certificate: a problem to fix; a route the
gateway refused: a hold), and, before a canary's analysis counts its traffic, whether that traffic can flow as
rendered (controller.gateway_status)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..api.kinds import CERTIFICATE
from ..api.models import AnalysisResult, AsgiServiceSpec, RolloutStatus
from ..api.vocabulary import EventReason
from ..kube.api import KubeApi
from ..reconcile.status import Hold, Problem
from ..render.meta import Owner
from ..render.tls import wants_certificate
from ..rollout.state import iso
from ..routers import RouterError, router_for
from .gateway_status import FeatureGate, GatewayStatus
from .store import Reads


class Exposure:
    def __init__(self, api: KubeApi, reads: Reads, clock: Callable[[], datetime]) -> None:
        self.api, self.clock = api, clock
        self.gateway = GatewayStatus(api, reads)

    def gate(self, owner: Owner, spec: AsgiServiceSpec) -> FeatureGate:
        """One pass's check of the features the Gateway's class supports (it reads only when asked)."""
        return FeatureGate(self.api, owner, spec)

    def problem(self, owner: Owner, spec: AsgiServiceSpec) -> Problem | None:
        """What a person must fix although every child was written: no cert-manager for the Certificate."""
        if wants_certificate(spec) and not self.api.served(CERTIFICATE):
            missing = "the API server does not serve certificates.cert-manager.io/v1"
            message = f"expose.tls.issuerRef needs cert-manager: {missing} (install it, or use expose.tls.secretName)"
            return Problem(EventReason.CERT_MANAGER_MISSING, message, stalled=True)
        return None

    def held(self, owner: Owner, spec: AsgiServiceSpec) -> Hold | None:
        """What the exposure waits for although every child was written: a route the gateway has not accepted."""
        return self.gateway.refused(owner, spec)

    def hold_analysis(
        self, owner: Owner, spec: AsgiServiceSpec, rollout: RolloutStatus, gate: FeatureGate
    ) -> AnalysisResult | None:
        """An analysis result that holds the step when the canary's traffic cannot flow as rendered, else None."""
        try:
            router = router_for(spec)
        except RouterError:
            return None  # reported by the plan
        return self.gateway.hold(owner, spec, rollout, router, gate, at=iso(self.clock()))
