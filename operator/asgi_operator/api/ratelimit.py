"""`spec.expose.rateLimit`: requests per client IP, enforced at the edge.

There is no standard Gateway API rate limit: with a Gateway (or an HTTPRoute you own) the operator renders the
policy object of the implementation you name (Envoy Gateway's BackendTrafficPolicy, NGINX Gateway Fabric's
RateLimitPolicy), and with ingress-nginx its annotations on the main Ingress. What an implementation cannot do
is refused at apply time with the reason (facts: envoyproxy/gateway v1.9 api/v1alpha1/ratelimit_types.go and
internal/gatewayapi/backendtrafficpolicy.go, nginx-gateway-fabric's RateLimitPolicy CRD, ingress-nginx's
annotations.md).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final

from pydantic import Field

from .base import Model
from .patterns import is_ip_or_cidr
from .rules import Rule, cel_string


class RateLimitUnit(StrEnum):
    SECOND = "Second"
    MINUTE = "Minute"
    HOUR = "Hour"


class RateLimitScope(StrEnum):
    GLOBAL = "Global"  # one counter per client shared by every proxy replica (Envoy Gateway: through Redis)
    PER_PROXY = "PerProxy"  # each proxy replica counts on its own


class RateLimitImplementation(StrEnum):
    ENVOY_GATEWAY = "EnvoyGateway"
    NGINX_GATEWAY_FABRIC = "NginxGatewayFabric"


_EG: Final = cel_string(RateLimitImplementation.ENVOY_GATEWAY)
_NGF: Final = cel_string(RateLimitImplementation.NGINX_GATEWAY_FABRIC)
_INGRESS_NGINX: Final = cel_string("ingressNginx")  # Router.INGRESS_NGINX (api.rollout imports nothing of ours)
_REPLICAS: Final = cel_string("replicas")


class RateLimitSpec(Model):
    """At most `requests` per `per` from each client IP, e.g. {requests: 100, per: Minute, scope: Global,
    implementation: EnvoyGateway}."""

    requests: int = Field(ge=1, le=1_000_000, description="Requests allowed per client IP in each `per`.")
    per: RateLimitUnit = Field(
        description="The window: Second, Minute or Hour (Hour: Envoy Gateway only; NGINX Gateway Fabric and "
        "ingress-nginx count per second or per minute)."
    )
    scope: RateLimitScope = Field(
        description="Global: one count per client shared by every proxy replica (Envoy Gateway only, through "
        "the Redis its platform configured). PerProxy: each proxy replica counts on its own, so a client may get "
        "up to `requests` times the number of replicas."
    )
    implementation: RateLimitImplementation | None = Field(
        None,
        description="The Gateway API implementation whose policy is rendered: EnvoyGateway (BackendTrafficPolicy) "
        "or NginxGatewayFabric (RateLimitPolicy), targeting the HTTPRoute. Required with expose.gateway and "
        "expose.httpRoute; unset with expose.ingress (ingress-nginx annotations).",
    )
    exempt: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=32,
        description="Client IPs or CIDRs never limited (ingress-nginx's limit-allowlist). ingress-nginx only: "
        "Envoy Gateway takes one source CIDR per rule and NGINX Gateway Fabric has no allow-list.",
    )
    burst: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Requests a client may send at once before the rate applies. Unset: `requests` (a strict N "
        "per window). NGINX Gateway Fabric and ingress-nginx only (with ingress-nginx a multiple of requests: "
        "limit-burst-multiplier); Envoy Gateway counts fixed windows.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!has(self.exempt) || self.exempt.all(c, isIP(c) || isCIDR(c))",
            "exempt entries must be IP addresses or CIDRs such as 10.0.0.0/8",
            lambda r: all(c != "*" and is_ip_or_cidr(c) for c in r.exempt),
            ".exempt",
        ),
        Rule(
            f"!has(self.implementation) || self.implementation != {_NGF} || "
            f"self.scope != {cel_string(RateLimitScope.GLOBAL)}",
            "scope Global is not possible with NGINX Gateway Fabric: its RateLimitPolicy is local only, each NGINX "
            "replica counts on its own; use scope: PerProxy, or Envoy Gateway for a shared count",
            lambda r: (
                not (
                    r.implementation == RateLimitImplementation.NGINX_GATEWAY_FABRIC
                    and r.scope == RateLimitScope.GLOBAL
                )
            ),
            ".scope",
        ),
        Rule(
            f"!has(self.implementation) || self.implementation != {_NGF} || "
            f"self.per != {cel_string(RateLimitUnit.HOUR)}",
            "per Hour is not possible with NGINX Gateway Fabric: it takes rates per second or per minute (r/s, r/m)",
            lambda r: (
                not (r.implementation == RateLimitImplementation.NGINX_GATEWAY_FABRIC and r.per == RateLimitUnit.HOUR)
            ),
            ".per",
        ),
        Rule(
            "!has(self.implementation) || !has(self.exempt) || self.exempt.size() == 0",
            "exempt is only possible with ingress-nginx (limit-allowlist): Envoy Gateway takes one source CIDR per "
            "rate limit rule (the per-client one) and NGINX Gateway Fabric has no allow-list",
            lambda r: r.implementation is None or not r.exempt,
            ".exempt",
        ),
        Rule(
            f"!has(self.burst) || !has(self.implementation) || self.implementation != {_EG}",
            "burst is not possible with Envoy Gateway: it counts `requests` per fixed window; remove burst",
            lambda r: r.burst is None or r.implementation != RateLimitImplementation.ENVOY_GATEWAY,
            ".burst",
        ),
    )


def _expose(spec: Any) -> Any:
    return spec.expose


def _rate_limit(spec: Any) -> RateLimitSpec | None:
    expose = _expose(spec)
    return expose.rate_limit if expose is not None else None


def _on_route(spec: Any) -> bool:
    return spec.expose.gateway is not None or spec.expose.http_route is not None


_HAS: Final = "has(self.expose) && has(self.expose.rateLimit)"
_ROUTE: Final = "(has(self.expose.gateway) || has(self.expose.httpRoute))"

# Rules on the whole spec: what the exposure and the traffic router can carry.
SPEC_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        f"!({_HAS}) || !has(self.rollout.router) || self.rollout.router != {_REPLICAS}",
        "expose.rateLimit is rendered with the HTTPRoute (gatewayAPI router) or the ingress-nginx Ingress "
        "(ingressNginx router); it is not possible with rollout.router replicas",
        lambda s: _rate_limit(s) is None or s.rollout.router != "replicas",
        ".expose.rateLimit",
    ),
    Rule(
        f"!({_HAS}) || !{_ROUTE} || has(self.expose.rateLimit.implementation)",
        "expose.rateLimit.implementation is required with Gateway API: there is no standard rate limit, name the "
        "implementation whose policy to render (EnvoyGateway or NginxGatewayFabric)",
        lambda s: _rate_limit(s) is None or not _on_route(s) or s.expose.rate_limit.implementation is not None,
        ".expose.rateLimit.implementation",
    ),
    Rule(
        f"!({_HAS}) || !has(self.expose.ingress) || !has(self.expose.rateLimit.implementation)",
        "expose.rateLimit.implementation is for Gateway API; with expose.ingress the rate limit is "
        "ingress-nginx's annotations: remove implementation",
        lambda s: _rate_limit(s) is None or s.expose.ingress is None or s.expose.rate_limit.implementation is None,
        ".expose.rateLimit.implementation",
    ),
    Rule(
        f"!({_HAS}) || !has(self.expose.ingress) || "
        f"(has(self.rollout.router) ? self.rollout.router == {_INGRESS_NGINX} : "
        "self.expose.ingress.className.contains('nginx'))",
        "expose.rateLimit with an Ingress needs ingress-nginx (an ingress className containing nginx, or "
        "rollout.router ingressNginx): other Ingress controllers ignore its annotations",
        lambda s: (
            _rate_limit(s) is None
            or s.expose.ingress is None
            or (
                s.rollout.router == "ingressNginx"
                if s.rollout.router is not None
                else "nginx" in s.expose.ingress.class_name
            )
        ),
        ".expose.rateLimit",
    ),
    Rule(
        f"!({_HAS}) || !has(self.expose.ingress) || self.expose.rateLimit.scope != {cel_string(RateLimitScope.GLOBAL)}",
        "scope Global is not possible with ingress-nginx: each controller replica counts on its own (global rate "
        "limiting was removed in v1.12); use scope: PerProxy",
        lambda s: _rate_limit(s) is None or s.expose.ingress is None or s.expose.rate_limit.scope != "Global",
        ".expose.rateLimit.scope",
    ),
    Rule(
        f"!({_HAS}) || !has(self.expose.ingress) || self.expose.rateLimit.per != {cel_string(RateLimitUnit.HOUR)}",
        "per Hour is not possible with ingress-nginx: it counts per second or per minute (limit-rps, limit-rpm)",
        lambda s: _rate_limit(s) is None or s.expose.ingress is None or s.expose.rate_limit.per != "Hour",
        ".expose.rateLimit.per",
    ),
    Rule(
        f"!({_HAS}) || !has(self.expose.ingress) || !has(self.expose.rateLimit.burst) || "
        "self.expose.rateLimit.burst % self.expose.rateLimit.requests == 0",
        "with ingress-nginx, burst must be a multiple of requests (it is rendered as limit-burst-multiplier)",
        lambda s: (
            _rate_limit(s) is None
            or s.expose.ingress is None
            or s.expose.rate_limit.burst is None
            or s.expose.rate_limit.burst % s.expose.rate_limit.requests == 0
        ),
        ".expose.rateLimit.burst",
    ),
)
