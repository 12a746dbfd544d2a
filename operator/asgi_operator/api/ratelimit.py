"""`spec.expose.rateLimit`: requests per client IP, enforced at the edge.

There is no standard rate limit, in Gateway API or for an Ingress, so the user names the implementation that
enforces it: with a Gateway (or an HTTPRoute you own) the operator renders that implementation's policy object
(Envoy Gateway's BackendTrafficPolicy, NGINX Gateway Fabric's RateLimitPolicy), and with an Ingress served by
ingress-nginx that controller's annotations on the main Ingress. Nothing is guessed from a class name: other
NGINX-based Ingress controllers (F5's NGINX Ingress Controller, nginx-plus) ignore ingress-nginx's annotations.
What an implementation cannot do is refused at apply time with the reason (facts: envoyproxy/gateway v1.9
api/v1alpha1/ratelimit_types.go and internal/gatewayapi/backendtrafficpolicy.go, nginx-gateway-fabric's
RateLimitPolicy CRD, ingress-nginx's annotations.md).

Adding an implementation: a member of RateLimitImplementation, its exposure in GATEWAY_API or INGRESS below, the
rules on what it cannot do, and its rendering in render/ratelimit.py.
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
    INGRESS_NGINX = "IngressNginx"  # the ingress-nginx controller (kubernetes/ingress-nginx)


# Which exposure each implementation serves: a policy targeting the HTTPRoute, or annotations on the Ingress
GATEWAY_API: Final = (RateLimitImplementation.ENVOY_GATEWAY, RateLimitImplementation.NGINX_GATEWAY_FABRIC)
INGRESS: Final = (RateLimitImplementation.INGRESS_NGINX,)


def _names(implementations: tuple[RateLimitImplementation, ...], conjunction: str = "or") -> str:
    return f" {conjunction} ".join(implementations)


def _cel_list(implementations: tuple[RateLimitImplementation, ...]) -> str:
    return "[" + ", ".join(cel_string(i) for i in implementations) + "]"


_EG: Final = cel_string(RateLimitImplementation.ENVOY_GATEWAY)
_NGF: Final = cel_string(RateLimitImplementation.NGINX_GATEWAY_FABRIC)
_IN: Final = cel_string(RateLimitImplementation.INGRESS_NGINX)
_REPLICAS: Final = cel_string("replicas")  # Router.REPLICAS (api.rollout imports nothing of ours)


class RateLimitSpec(Model):
    """At most `requests` per `per` from each client IP, enforced by the implementation named, e.g. {requests: 100,
    per: Minute, scope: Global, implementation: EnvoyGateway}."""

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
        description="Who enforces the limit, required (there is no standard rate limit, and the operator does not "
        "guess from a class name). With expose.gateway or expose.httpRoute, the Gateway API implementation whose "
        "policy is rendered targeting the HTTPRoute: EnvoyGateway (BackendTrafficPolicy) or NginxGatewayFabric "
        "(RateLimitPolicy). With expose.ingress, IngressNginx: the Ingress class is served by the ingress-nginx "
        "controller (kubernetes/ingress-nginx), whose annotations go on the Ingress; other Ingress controllers, "
        "F5's NGINX Ingress Controller included, ignore them.",
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
            f"!has(self.implementation) || self.implementation == {_IN} || !has(self.exempt) || "
            "self.exempt.size() == 0",
            "exempt is only possible with ingress-nginx (limit-allowlist): Envoy Gateway takes one source CIDR per "
            "rate limit rule (the per-client one) and NGINX Gateway Fabric has no allow-list",
            lambda r: r.implementation in (None, RateLimitImplementation.INGRESS_NGINX) or not r.exempt,
            ".exempt",
        ),
        Rule(
            f"!has(self.burst) || !has(self.implementation) || self.implementation != {_EG}",
            "burst is not possible with Envoy Gateway: it counts `requests` per fixed window; remove burst",
            lambda r: r.burst is None or r.implementation != RateLimitImplementation.ENVOY_GATEWAY,
            ".burst",
        ),
        Rule(
            f"!has(self.implementation) || self.implementation != {_IN} || "
            f"self.scope != {cel_string(RateLimitScope.GLOBAL)}",
            "scope Global is not possible with ingress-nginx: each controller replica counts on its own (global rate "
            "limiting was removed in v1.12); use scope: PerProxy",
            lambda r: (
                not (r.implementation == RateLimitImplementation.INGRESS_NGINX and r.scope == RateLimitScope.GLOBAL)
            ),
            ".scope",
        ),
        Rule(
            f"!has(self.implementation) || self.implementation != {_IN} || "
            f"self.per != {cel_string(RateLimitUnit.HOUR)}",
            "per Hour is not possible with ingress-nginx: it counts per second or per minute (limit-rps, limit-rpm)",
            lambda r: not (r.implementation == RateLimitImplementation.INGRESS_NGINX and r.per == RateLimitUnit.HOUR),
            ".per",
        ),
        Rule(
            f"!has(self.implementation) || self.implementation != {_IN} || !has(self.burst) || "
            "self.burst % self.requests == 0",
            "with ingress-nginx, burst must be a multiple of requests (it is rendered as limit-burst-multiplier)",
            lambda r: (
                r.implementation != RateLimitImplementation.INGRESS_NGINX
                or r.burst is None
                or r.burst % r.requests == 0
            ),
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

# Rules on the whole spec: which implementation serves the exposure, and what the traffic router can carry.
SPEC_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        f"!({_HAS}) || !{_ROUTE} || !has(self.rollout.router) || self.rollout.router != {_REPLICAS}",
        "expose.rateLimit with expose.gateway or expose.httpRoute is a policy on the HTTPRoute, rendered with the "
        "gatewayAPI router; it is not possible with rollout.router replicas",
        lambda s: _rate_limit(s) is None or not _on_route(s) or s.rollout.router != "replicas",
        ".expose.rateLimit",
    ),
    Rule(
        f"!({_HAS}) || !{_ROUTE} || (has(self.expose.rateLimit.implementation) && "
        f"self.expose.rateLimit.implementation in {_cel_list(GATEWAY_API)})",
        "expose.rateLimit.implementation is required with Gateway API: there is no standard rate limit, name the "
        f"implementation whose policy to render ({_names(GATEWAY_API)}; {_names(INGRESS)} is for expose.ingress)",
        lambda s: _rate_limit(s) is None or not _on_route(s) or s.expose.rate_limit.implementation in GATEWAY_API,
        ".expose.rateLimit.implementation",
    ),
    Rule(
        f"!({_HAS}) || !has(self.expose.ingress) || (has(self.expose.rateLimit.implementation) && "
        f"self.expose.rateLimit.implementation in {_cel_list(INGRESS)})",
        f"expose.rateLimit with expose.ingress needs implementation: {_names(INGRESS)}, saying that the Ingress class "
        "is served by the ingress-nginx controller (kubernetes/ingress-nginx), whose annotations carry the limit: "
        f"add implementation: {_names(INGRESS)} to expose.rateLimit if it is. Other Ingress controllers, F5's NGINX "
        "Ingress Controller among them, ignore those annotations, so no limit can be rendered for them; "
        f"{_names(GATEWAY_API, 'and')} are for expose.gateway and expose.httpRoute",
        lambda s: _rate_limit(s) is None or s.expose.ingress is None or s.expose.rate_limit.implementation in INGRESS,
        ".expose.rateLimit.implementation",
    ),
)
