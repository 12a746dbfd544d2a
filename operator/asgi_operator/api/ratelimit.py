"""`spec.expose.rateLimit`: requests per client IP, enforced at the edge.

There is no standard rate limit, in Gateway API or for an Ingress, so the user names the implementation that
enforces it: with a Gateway (or an HTTPRoute you own) the operator renders that implementation's policy object
(Envoy Gateway's BackendTrafficPolicy, NGINX Gateway Fabric's RateLimitPolicy) targeting the route, or with a
Gateway served by Traefik a Middleware that the generated route's weighted rule runs (an ExtensionRef filter: so
not on a route you own, which the operator changes only in its weights); with an Ingress served by ingress-nginx,
that controller's annotations on the main Ingress. Nothing is guessed from a class name: other NGINX-based
Ingress controllers (F5's NGINX Ingress Controller, nginx-plus) ignore ingress-nginx's annotations.
What an implementation cannot do is refused at apply time with the reason (facts: envoyproxy/gateway v1.9
api/v1alpha1/ratelimit_types.go and internal/gatewayapi/backendtrafficpolicy.go, nginx-gateway-fabric's
RateLimitPolicy CRD, ingress-nginx's annotations.md, traefik/traefik v3.7 pkg/config/dynamic/middlewares.go,
pkg/middlewares/ratelimiter and pkg/provider/kubernetes/gateway/httproute.go).

Traefik's RateLimit is a token bucket per client (`average` per `period` refills it, `burst` is its size), kept
in each Traefik instance's memory (its Redis option needs endpoints and credentials in the Middleware, which the
operator does not render: PerProxy only). It forgets a client after one to two seconds without requests (for
rates of one request per second or more; about one request's interval for slower rates) and starts it full
again, so a bucket larger than what refills in a second would come back after every short pause: `burst` is at
most the requests per second (at least 1), which is also its default. A strict `N per Minute` is therefore one
request every 60/N seconds, not N at once.

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
    TRAEFIK = "Traefik"  # Traefik Proxy's Gateway API provider, with its Kubernetes CRD provider (Middleware)


# Which exposure each implementation serves: a policy targeting the HTTPRoute, or annotations on the Ingress
GATEWAY_API: Final = (
    RateLimitImplementation.ENVOY_GATEWAY,
    RateLimitImplementation.NGINX_GATEWAY_FABRIC,
    RateLimitImplementation.TRAEFIK,
)
INGRESS: Final = (RateLimitImplementation.INGRESS_NGINX,)

SECONDS: Final = {RateLimitUnit.SECOND: 1, RateLimitUnit.MINUTE: 60, RateLimitUnit.HOUR: 3600}


def _names(implementations: tuple[RateLimitImplementation, ...], conjunction: str = "or") -> str:
    *first, last = implementations
    return f"{', '.join(first)} {conjunction} {last}" if first else last


def _cel_list(implementations: tuple[RateLimitImplementation, ...]) -> str:
    return "[" + ", ".join(cel_string(i) for i in implementations) + "]"


_EG: Final = cel_string(RateLimitImplementation.ENVOY_GATEWAY)
_NGF: Final = cel_string(RateLimitImplementation.NGINX_GATEWAY_FABRIC)
_IN: Final = cel_string(RateLimitImplementation.INGRESS_NGINX)
_TRAEFIK: Final = cel_string(RateLimitImplementation.TRAEFIK)
_REPLICAS: Final = cel_string("replicas")  # Router.REPLICAS (api.rollout imports nothing of ours)
# the requests per second, in whole requests (CEL's int division is Python's // for these positive numbers)
_PER_SECOND: Final = (
    f"(self.per == {cel_string(RateLimitUnit.SECOND)} ? self.requests : "
    f"(self.per == {cel_string(RateLimitUnit.MINUTE)} ? self.requests / 60 : self.requests / 3600))"
)
_TRAEFIK_CEILING: Final = f"({_PER_SECOND} > 1 ? {_PER_SECOND} : 1)"


def traefik_burst_ceiling(requests: int, per: RateLimitUnit) -> int:
    """The largest bucket Traefik keeps for a client that pauses: what refills in a second, at least 1."""
    return max(1, requests // SECONDS[per])


# (a messageExpression naming the numbers would need string(int), whose estimated cost the API server refuses)
_TRAEFIK_BURST: Final = (
    "burst is more than Traefik keeps: at most the requests per second (requests with per Second, requests / 60 "
    "with per Minute, requests / 3600 with per Hour, rounded down) and at least 1, because Traefik forgets a "
    "client after one to two seconds without requests and gives it a full bucket again, so a larger burst would "
    "come back after every short pause; remove burst or lower it"
)


class RateLimitSpec(Model):
    """At most `requests` per `per` from each client IP, enforced by the implementation named, e.g. {requests: 100,
    per: Minute, scope: Global, implementation: EnvoyGateway}."""

    requests: int = Field(ge=1, le=1_000_000, description="Requests allowed per client IP in each `per`.")
    per: RateLimitUnit = Field(
        description="The window: Second, Minute or Hour (Hour: Envoy Gateway and Traefik; NGINX Gateway Fabric "
        "and ingress-nginx count per second or per minute)."
    )
    scope: RateLimitScope = Field(
        description="Global: one count per client shared by every proxy replica (Envoy Gateway only, through "
        "the Redis its platform configured). PerProxy: each proxy replica counts on its own, so a client may get "
        "up to `requests` times the number of replicas (NGINX Gateway Fabric, ingress-nginx and Traefik: PerProxy "
        "only)."
    )
    implementation: RateLimitImplementation | None = Field(
        None,
        description="Who enforces the limit, required (there is no standard rate limit, and the operator does not "
        "guess from a class name). With expose.gateway or expose.httpRoute, the Gateway API implementation whose "
        "policy is rendered targeting the HTTPRoute: EnvoyGateway (BackendTrafficPolicy) or NginxGatewayFabric "
        "(RateLimitPolicy); with expose.gateway only, Traefik: a Middleware run by an ExtensionRef filter on the "
        "generated HTTPRoute (Traefik's kubernetesCRD provider must be enabled next to its Gateway API provider). "
        "With expose.ingress, IngressNginx: the Ingress class is served by the ingress-nginx "
        "controller (kubernetes/ingress-nginx), whose annotations go on the Ingress; other Ingress controllers, "
        "F5's NGINX Ingress Controller included, ignore them.",
    )
    exempt: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=32,
        description="Client IPs or CIDRs never limited (ingress-nginx's limit-allowlist). ingress-nginx only: "
        "Envoy Gateway takes one source CIDR per rule, NGINX Gateway Fabric and Traefik have no allow-list.",
    )
    burst: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Requests a client may send at once before the rate applies. Unset: `requests` (a strict N "
        "per window). NGINX Gateway Fabric, ingress-nginx (a multiple of requests: limit-burst-multiplier) and "
        "Traefik (at most the requests per second, at least 1, which is also its default: Traefik forgets an idle "
        "client's bucket within two seconds); Envoy Gateway counts fixed windows.",
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
            "rate limit rule (the per-client one), and NGINX Gateway Fabric and Traefik (its RateLimit middleware) "
            "have no allow-list",
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
        Rule(
            f"!has(self.implementation) || self.implementation != {_TRAEFIK} || "
            f"self.scope != {cel_string(RateLimitScope.GLOBAL)}",
            "scope Global is not possible with Traefik: its RateLimit middleware counts in each Traefik instance's "
            "memory (a shared count needs Redis endpoints and credentials in the Middleware, which the operator does "
            "not render); use scope: PerProxy",
            lambda r: not (r.implementation == RateLimitImplementation.TRAEFIK and r.scope == RateLimitScope.GLOBAL),
            ".scope",
        ),
        Rule(
            f"!has(self.implementation) || self.implementation != {_TRAEFIK} || !has(self.burst) || "
            f"self.burst <= {_TRAEFIK_CEILING}",
            _TRAEFIK_BURST,
            lambda r: (
                r.implementation != RateLimitImplementation.TRAEFIK
                or r.burst is None
                or r.burst <= traefik_burst_ceiling(r.requests, r.per)
            ),
            ".burst",
            explain=lambda r: f"{_TRAEFIK_BURST} to {traefik_burst_ceiling(r.requests, r.per)} (burst {r.burst})",
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
        f"{_names(GATEWAY_API, 'and')} are for expose.gateway and expose.httpRoute (Traefik: expose.gateway only)",
        lambda s: _rate_limit(s) is None or s.expose.ingress is None or s.expose.rate_limit.implementation in INGRESS,
        ".expose.rateLimit.implementation",
    ),
    Rule(
        f"!({_HAS}) || !has(self.expose.httpRoute) || !has(self.expose.rateLimit.implementation) || "
        f"self.expose.rateLimit.implementation != {_TRAEFIK}",
        "expose.rateLimit with implementation Traefik is not possible with expose.httpRoute: Traefik enforces a "
        "rate limit as a Middleware that an ExtensionRef filter in the route's rule names, and the operator "
        "changes nothing in an HTTPRoute you own but the weights of its backendRefs. Use expose.gateway (the "
        "generated route carries the filter), or add a Traefik RateLimit Middleware and the filter to your route "
        "yourself and remove expose.rateLimit",
        lambda s: (
            _rate_limit(s) is None
            or s.expose.http_route is None
            or s.expose.rate_limit.implementation != RateLimitImplementation.TRAEFIK
        ),
        ".expose.rateLimit.implementation",
    ),
    Rule(
        f"!({_HAS}) || !has(self.expose.rateLimit.implementation) || "
        f"self.expose.rateLimit.implementation != {_TRAEFIK} || !has(self.expose.cors) || "
        "self.expose.cors.enforcement == 'App'",
        "expose.cors with enforcement Edge is not possible on a Traefik Gateway (expose.rateLimit.implementation "
        "Traefik): Traefik v3.7 does not implement the HTTPRoute CORS filter and answers 500 to every request of a "
        "rule that has one; use cors.enforcement: App",
        lambda s: (
            _rate_limit(s) is None
            or s.expose.rate_limit.implementation != RateLimitImplementation.TRAEFIK
            or s.expose.cors is None
            or s.expose.cors.enforcement == "App"
        ),
        ".expose.cors.enforcement",
    ),
)
