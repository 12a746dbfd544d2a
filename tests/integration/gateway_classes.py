"""GatewayClass statuses as real gateway controllers write them, to test against without running them.

Traefik v3.7.13 (github.com/traefik/traefik/v3, pkg/provider/kubernetes/gateway/features.go `SupportedFeatures`,
built on sigs.k8s.io/gateway-api v1.6.1 pkg/features): the Core features of Gateway, HTTPRoute, ReferenceGrant,
BackendTLSPolicy, GRPCRoute and TLSRoute, and the Extended ones it lists, sorted by name as its provider writes
them into `status.supportedFeatures` (kubernetes.go). No HTTPRouteCORS: Traefik answers 500 to every request of
a rule with a CORS filter ("unsupported filter CORS") while it marks the route Accepted.
"""

from __future__ import annotations

from typing import Any, Final

TRAEFIK_CONTROLLER: Final = "traefik.io/gateway-controller"
TRAEFIK_V3_7_13_FEATURES: Final = (
    "BackendTLSPolicy",
    "GRPCRoute",
    "GRPCRouteNamedRouteRule",
    "Gateway",
    "GatewayPort8080",
    "HTTPRoute",
    "HTTPRoute303RedirectStatusCode",
    "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode",
    "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteDestinationPortMatching",
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
    "HTTPRouteNamedRouteRule",
    "HTTPRouteParentRefPort",
    "HTTPRoutePathRedirect",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteSchemeRedirect",
    "ReferenceGrant",
    "TLSRoute",
    "TLSRouteModeMixed",
    "TLSRouteModeTerminate",
)


def traefik_status() -> dict[str, Any]:
    """The status Traefik v3.7.13 writes on a GatewayClass whose controllerName is its own."""
    return {
        "conditions": [
            {
                "type": "Accepted",
                "status": "True",
                "reason": "Handled",
                "message": "Handled by Traefik controller",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "observedGeneration": 1,
            }
        ],
        "supportedFeatures": [{"name": name} for name in TRAEFIK_V3_7_13_FEATURES],
    }
