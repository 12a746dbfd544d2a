"""`spec.expose`: how the app is reached from outside the cluster."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

from pydantic import Field

from .base import Model, cel_regex
from .cors import CORSSpec
from .patterns import DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN, HOSTNAME_PATTERN, QUALIFIED_NAME_PATTERN, is_ip_or_cidr
from .ratelimit import RateLimitSpec
from .rules import Rule
from .tls import TLSSpec


class GatewayRef(Model):
    """The Gateway (Gateway API) the generated HTTPRoute attaches to."""

    name: str = Field(min_length=1, max_length=253, description="The Gateway's name.")
    namespace: str | None = Field(
        None, max_length=63, pattern=DNS_LABEL_PATTERN, description="The Gateway's namespace. Unset: the AsgiService's."
    )
    section_name: str | None = Field(
        None,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="A listener of the Gateway (with expose.tls: its HTTPS listener).",
    )
    http_section_name: str | None = Field(
        None,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="With expose.tls and its redirect: the Gateway's plain HTTP listener, where the route "
        "<name>-redirect answers with a 301 to HTTPS.",
    )
    listener_set: bool = Field(
        False,
        description="With expose.tls: a ListenerSet <name> attached to the Gateway, with an HTTPS listener on port "
        "443 for host serving the TLS Secret, and the route attached to it: the app's namespace owns its listener "
        "and certificate (no ReferenceGrant). The Gateway must admit it (spec.allowedListeners) and its class "
        "support the ListenerSet feature. sectionName is then not used.",
    )


class IngressSpec(Model):
    """A generated Ingress of this class, for host and path."""

    class_name: str = Field(
        min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="The IngressClass, e.g. nginx."
    )
    annotations: dict[str, Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=dict,
        max_length=64,
        description="Annotations of the generated Ingress (and of the canary Ingress with the ingressNginx "
        "router), e.g. nginx.ingress.kubernetes.io/proxy-body-size. The operator's canary annotations win.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            f"!has(self.annotations) || self.annotations.all(k, k.matches(r'{QUALIFIED_NAME_PATTERN}'))",
            "annotation keys must be qualified names such as nginx.ingress.kubernetes.io/proxy-body-size",
            lambda i: all(re.fullmatch(QUALIFIED_NAME_PATTERN, k) for k in i.annotations),
            ".annotations",
        ),
    )


class RouteRef(Model):
    """An HTTPRoute you manage yourself; the operator only sets the weights of its own backendRefs."""

    name: str = Field(min_length=1, max_length=253, description="The HTTPRoute, in the AsgiService's namespace.")


class ExposeSpec(Model):
    """How the app is reached from outside the cluster: a generated HTTPRoute on a Gateway, a generated
    Ingress, or an existing HTTPRoute."""

    host: str | None = Field(None, max_length=253, description="The hostname, e.g. api.example.com.")
    path: str = Field(
        "/", max_length=256, pattern=r"^/[-A-Za-z0-9._~!$&'()*+,;=:@%/]*$", description="Path prefix routed to the app."
    )
    gateway: GatewayRef | None = None
    ingress: IngressSpec | None = None
    http_route: RouteRef | None = Field(None, alias="httpRoute")
    tls: TLSSpec | None = Field(
        None,
        description="HTTPS for host (gateway or ingress): an existing Secret or a cert-manager certificate; HTTP "
        "is redirected and HSTS sent by default.",
    )
    cors: CORSSpec | None = Field(
        None, description="Which browser origins may call the app (CORS), enforced at the edge or in the app."
    )
    rate_limit: RateLimitSpec | None = Field(
        None,
        description="Requests per client IP, enforced at the edge: Envoy Gateway's or NGINX Gateway Fabric's "
        "policy on the HTTPRoute, Traefik's Middleware named by the generated HTTPRoute, or ingress-nginx's "
        "annotations on the Ingress.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "[has(self.gateway), has(self.ingress), has(self.httpRoute)].filter(x, x).size() == 1",
            "set exactly one of gateway, ingress and httpRoute",
            lambda e: sum(x is not None for x in (e.gateway, e.ingress, e.http_route)) == 1,
        ),
        Rule(
            f"!has(self.host) || {cel_regex(HOSTNAME_PATTERN, 'self.host')}",
            "host must be a DNS name such as api.example.com (lowercase, optionally *.example.com)",
            lambda e: e.host is None or re.fullmatch(HOSTNAME_PATTERN, e.host) is not None,
            ".host",
        ),
        Rule(
            "!has(self.host) || !isIP(self.host)",
            "host must be a DNS name, not an IP address",
            lambda e: e.host is None or not is_ip_or_cidr(e.host) or e.host == "*",
            ".host",
        ),
        Rule(
            "!has(self.cors) || self.cors.enforcement == 'App' || has(self.gateway) || has(self.ingress)",
            "cors.enforcement Edge needs expose.gateway or expose.ingress (the operator adds no filter to an "
            "HTTPRoute you own): use enforcement App",
            lambda e: e.cors is None or e.cors.enforcement == "App" or e.gateway is not None or e.ingress is not None,
            ".cors.enforcement",
        ),
        Rule(
            "!self.path.contains('//') && !self.path.contains('/./') && !self.path.contains('/../')",
            "path must not contain '//', '/./' or '/../'",
            lambda e: not any(x in e.path for x in ("//", "/./", "/../")),
            ".path",
        ),
        Rule(
            "!has(self.tls) || has(self.ingress) || has(self.gateway)",
            "tls needs expose.gateway or expose.ingress: with httpRoute, HTTPS is configured on your own route and "
            "Gateway",
            lambda e: e.tls is None or e.ingress is not None or e.gateway is not None,
            ".tls",
        ),
        Rule(
            "!has(self.tls) || !has(self.tls.hstsMaxAge) || !has(self.ingress)",
            "tls.hstsMaxAge is for Gateway API: ingress-nginx sets HSTS in its ConfigMap (hsts, hsts-max-age)",
            lambda e: e.tls is None or e.tls.hsts_max_age is None or e.ingress is None,
            ".tls.hstsMaxAge",
        ),
        Rule(
            "!has(self.tls) || !has(self.gateway) || has(self.gateway.sectionName) || self.gateway.listenerSet",
            "tls with gateway needs gateway.sectionName: the Gateway's HTTPS listener the route attaches to (its "
            "certificateRefs name the Secret), or gateway.listenerSet: a listener of your own",
            lambda e: (
                e.tls is None or e.gateway is None or e.gateway.section_name is not None or e.gateway.listener_set
            ),
            ".gateway.sectionName",
        ),
        Rule(
            "!has(self.gateway) || !self.gateway.listenerSet || (has(self.tls) && !has(self.gateway.sectionName))",
            "gateway.listenerSet needs tls (it is the HTTPS listener serving its certificate) and no sectionName "
            "(the route attaches to the ListenerSet's listener)",
            lambda e: (
                e.gateway is None
                or not e.gateway.listener_set
                or (e.tls is not None and e.gateway.section_name is None)
            ),
            ".gateway.listenerSet",
        ),
        Rule(
            "!has(self.tls) || !has(self.gateway) || !self.tls.redirect || has(self.gateway.httpSectionName)",
            "tls.redirect with gateway needs gateway.httpSectionName: the Gateway's HTTP listener where the route "
            "<name>-redirect answers with a 301 to HTTPS (or set tls.redirect false)",
            lambda e: (
                e.tls is None or e.gateway is None or not e.tls.redirect or e.gateway.http_section_name is not None
            ),
            ".gateway.httpSectionName",
        ),
        Rule(
            "!has(self.tls) || !has(self.gateway) || !has(self.gateway.httpSectionName) || "
            "!has(self.gateway.sectionName) || self.gateway.httpSectionName != self.gateway.sectionName",
            "gateway.httpSectionName (the HTTP listener of the redirect) must differ from gateway.sectionName (the "
            "HTTPS listener)",
            lambda e: (
                e.tls is None
                or e.gateway is None
                or e.gateway.http_section_name is None
                or e.gateway.http_section_name != e.gateway.section_name
            ),
            ".gateway.httpSectionName",
        ),
        Rule(
            "!has(self.tls) || has(self.host)",
            "tls needs a host",
            lambda e: e.tls is None or e.host is not None,
            ".tls",
        ),
    )
