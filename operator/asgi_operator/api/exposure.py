"""`spec.expose`: how the app is reached from outside the cluster."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

from pydantic import Field

from .base import Model, cel_regex
from .patterns import DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN, HOSTNAME_PATTERN, QUALIFIED_NAME_PATTERN, is_ip_or_cidr
from .rules import Rule


class GatewayRef(Model):
    """The Gateway (Gateway API) the generated HTTPRoute attaches to."""

    name: str = Field(min_length=1, max_length=253, description="The Gateway's name.")
    namespace: str | None = Field(
        None, max_length=63, pattern=DNS_LABEL_PATTERN, description="The Gateway's namespace. Unset: the AsgiService's."
    )
    section_name: str | None = Field(
        None, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="A listener of the Gateway."
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


class TLSSpec(Model):
    secret_name: str = Field(
        min_length=1,
        max_length=253,
        pattern=DNS_LABEL_PATTERN,
        description="A kubernetes.io/tls Secret with the certificate for host, in the AsgiService's namespace.",
    )


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
    tls: TLSSpec | None = Field(None, description="Ingress only: the TLS secret for host.")

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
            "!self.path.contains('//') && !self.path.contains('/./') && !self.path.contains('/../')",
            "path must not contain '//', '/./' or '/../'",
            lambda e: not any(x in e.path for x in ("//", "/./", "/../")),
            ".path",
        ),
        Rule(
            "!has(self.tls) || has(self.ingress)",
            "tls applies to an Ingress; with Gateway API the certificate belongs to the Gateway's listener "
            "(set gateway.sectionName to its HTTPS listener)",
            lambda e: e.tls is None or e.ingress is not None,
            ".tls",
        ),
        Rule(
            "!has(self.tls) || has(self.host)",
            "tls needs a host",
            lambda e: e.tls is None or e.host is not None,
            ".tls",
        ),
    )
