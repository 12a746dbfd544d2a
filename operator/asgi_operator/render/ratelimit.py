"""`spec.expose.rateLimit` as the implementation named takes it: a policy object of a Gateway API implementation
(Envoy Gateway's BackendTrafficPolicy, NGINX Gateway Fabric's RateLimitPolicy) targeting the HTTPRoute, or
ingress-nginx's annotations for the main Ingress (whichever router renders it: render.network.ingress).

The policies count per client IP: Envoy Gateway with a `Distinct` source CIDR (one counter per address), one
rule for IPv4 clients and one for IPv6 clients; NGINX Gateway Fabric with the key `$binary_remote_addr`.
Each allows `requests` at once and `requests` per window (a strict N per window; `burst` widens the bucket where
the implementation has one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..api.exposure import ExposeSpec
from ..api.kinds import BACKEND_TRAFFIC_POLICY, NGF_RATE_LIMIT_POLICY
from ..api.ratelimit import RateLimitImplementation, RateLimitScope, RateLimitSpec, RateLimitUnit
from .meta import Child, Manifest, Owner, metadata

ANNOTATION_PREFIX: Final = "nginx.ingress.kubernetes.io/"
# one counter per client address, for each address family (a source CIDR matches one family)
CLIENT_RANGES: Final = ("0.0.0.0/0", "::/0")
NGINX_CLIENT_KEY: Final = "$binary_remote_addr"
REJECT_CODE: Final = 429  # Too Many Requests (nginx's default is 503)


def rate_limit_name(owner: Owner) -> str:
    return f"{owner.name}-ratelimit"


# Every policy object a rate limit may be (the routers that render them declare these in their `owns`)
RATE_LIMIT_CHILDREN: Final = (
    Child(BACKEND_TRAFFIC_POLICY, rate_limit_name),
    Child(NGF_RATE_LIMIT_POLICY, rate_limit_name),
)


def _target(route: str) -> list[Manifest]:
    return [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": route}]


# Global: shared counters through the rate limit service (Redis) the platform configured; local: per Envoy replica
_ENVOY_SCOPE: Final = {RateLimitScope.GLOBAL: "global", RateLimitScope.PER_PROXY: "local"}


def _envoy_gateway(owner: Owner, limit: RateLimitSpec, route: str) -> Manifest:
    scope = _ENVOY_SCOPE[limit.scope]
    rules = [
        {
            "clientSelectors": [{"sourceCIDR": {"type": "Distinct", "value": cidr}}],
            "limit": {"requests": limit.requests, "unit": limit.per.value},
        }
        for cidr in CLIENT_RANGES
    ]
    return {
        "apiVersion": BACKEND_TRAFFIC_POLICY.api_version,
        "kind": BACKEND_TRAFFIC_POLICY.kind,
        "metadata": metadata(owner, rate_limit_name(owner)),
        "spec": {"targetRefs": _target(route), "rateLimit": {scope: {"rules": rules}}},
    }


_NGINX_RATE: Final = {RateLimitUnit.SECOND: "s", RateLimitUnit.MINUTE: "m"}


def _nginx_gateway_fabric(owner: Owner, limit: RateLimitSpec, route: str) -> Manifest:
    rule = {
        "key": NGINX_CLIENT_KEY,
        "rate": f"{limit.requests}r/{_NGINX_RATE[limit.per]}",
        "burst": limit.burst or limit.requests,
        "noDelay": True,
        "rejectCode": REJECT_CODE,
    }
    return {
        "apiVersion": NGF_RATE_LIMIT_POLICY.api_version,
        "kind": NGF_RATE_LIMIT_POLICY.kind,
        "metadata": metadata(owner, rate_limit_name(owner)),
        "spec": {"targetRefs": _target(route), "rateLimit": {"local": {"rules": [rule]}}},
    }


# The Gateway API implementations' policies (api.ratelimit.GATEWAY_API)
_POLICIES: Final[dict[RateLimitImplementation, Callable[[Owner, RateLimitSpec, str], Manifest]]] = {
    RateLimitImplementation.ENVOY_GATEWAY: _envoy_gateway,
    RateLimitImplementation.NGINX_GATEWAY_FABRIC: _nginx_gateway_fabric,
}


def rate_limit_policy(owner: Owner, expose: ExposeSpec, route: str) -> Manifest | None:
    """The policy object for the HTTPRoute `route` (the generated one, or the user's), if a rate limit is set."""
    limit = expose.rate_limit
    if limit is None or limit.implementation is None or limit.implementation not in _POLICIES:
        return None  # none, or ingress-nginx's annotations (nginx_rate_limit)
    return _POLICIES[limit.implementation](owner, limit, route)


def nginx_rate_limit(expose: ExposeSpec) -> dict[str, str]:
    """ingress-nginx's rate limit annotations (main Ingress only: a canary Ingress ignores them), when the rate
    limit names ingress-nginx as its implementation."""
    limit = expose.rate_limit
    if limit is None or limit.implementation != RateLimitImplementation.INGRESS_NGINX:
        return {}
    per = "limit-rps" if limit.per == RateLimitUnit.SECOND else "limit-rpm"
    out = {
        f"{ANNOTATION_PREFIX}{per}": str(limit.requests),
        # the default multiplier 5 would let a client send 5 x requests at once
        f"{ANNOTATION_PREFIX}limit-burst-multiplier": str((limit.burst or limit.requests) // limit.requests),
    }
    if limit.exempt:
        out[f"{ANNOTATION_PREFIX}limit-allowlist"] = ",".join(limit.exempt)
    return out
