"""`spec.expose.rateLimit` as the implementation named takes it: a policy object of a Gateway API implementation
(Envoy Gateway's BackendTrafficPolicy, NGINX Gateway Fabric's RateLimitPolicy) targeting the HTTPRoute, Traefik's
RateLimit Middleware named by an ExtensionRef filter on the generated HTTPRoute's weighted rule, or
ingress-nginx's annotations for the main Ingress (whichever router renders it: render.network.ingress).

The policies count per client IP: Envoy Gateway with a `Distinct` source CIDR (one counter per address), one
rule for IPv4 clients and one for IPv6 clients; NGINX Gateway Fabric with the key `$binary_remote_addr`; Traefik
with the connection's remote address (`ipStrategy.depth: 0`: X-Forwarded-For is not read, as the others).
Each allows `requests` at once and `requests` per window (a strict N per window; `burst` widens the bucket where
the implementation has one), but Traefik: its bucket is at most what refills in a second (api.ratelimit), so N per
Minute is one request every 60/N seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..api.exposure import ExposeSpec
from ..api.kinds import BACKEND_TRAFFIC_POLICY, NGF_RATE_LIMIT_POLICY, TRAEFIK_MIDDLEWARE
from ..api.ratelimit import (
    RateLimitImplementation,
    RateLimitScope,
    RateLimitSpec,
    RateLimitUnit,
    traefik_burst_ceiling,
)
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
    Child(TRAEFIK_MIDDLEWARE, rate_limit_name),
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
        return None  # none, ingress-nginx's annotations (nginx_rate_limit) or Traefik's Middleware (traefik_*)
    return _POLICIES[limit.implementation](owner, limit, route)


# Traefik reads `period` as a Go duration (or whole seconds)
_TRAEFIK_PERIOD: Final = {RateLimitUnit.SECOND: "1s", RateLimitUnit.MINUTE: "1m", RateLimitUnit.HOUR: "1h"}


def _traefik(expose: ExposeSpec) -> RateLimitSpec | None:
    limit = expose.rate_limit
    return limit if limit is not None and limit.implementation == RateLimitImplementation.TRAEFIK else None


def traefik_middleware(owner: Owner, expose: ExposeSpec) -> Manifest | None:
    """Traefik's RateLimit Middleware, when the rate limit names Traefik: a token bucket per client address of
    `burst` requests (default: what refills in a second), refilled at `requests` per `per`. Traefik holds a request
    whose token is due within half a request's interval (at most 0.5 s) and answers the others 429, with
    Retry-After (a fixed status: the middleware has no setting for it)."""
    limit = _traefik(expose)
    if limit is None:
        return None
    rate_limit = {
        "average": limit.requests,
        "period": _TRAEFIK_PERIOD[limit.per],
        "burst": limit.burst or traefik_burst_ceiling(limit.requests, limit.per),
        "sourceCriterion": {"ipStrategy": {"depth": 0}},  # the remote address (Traefik's default), stated
    }
    return {
        "apiVersion": TRAEFIK_MIDDLEWARE.api_version,
        "kind": TRAEFIK_MIDDLEWARE.kind,
        "metadata": metadata(owner, rate_limit_name(owner)),
        "spec": {"rateLimit": rate_limit},
    }


def with_traefik_filter(owner: Owner, expose: ExposeSpec, route: Manifest) -> Manifest:
    """The generated HTTPRoute with an ExtensionRef filter naming the Middleware on its weighted rule (the one with
    the stable and canary backendRefs: both are limited alike), after the route's own filters (a filter type may
    appear once per rule, ExtensionRef may repeat), when the rate limit names Traefik."""
    if _traefik(expose) is None:
        return route
    ref = {"group": TRAEFIK_MIDDLEWARE.group, "kind": TRAEFIK_MIDDLEWARE.kind, "name": rate_limit_name(owner)}
    limit: Manifest = {"type": "ExtensionRef", "extensionRef": ref}
    rules = [
        {**rule, "filters": [*rule.get("filters", []), limit]} if rule.get("backendRefs") else rule
        for rule in route["spec"]["rules"]
    ]
    return {**route, "spec": {**route["spec"], "rules": rules}}


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
