"""`spec.expose.tls`: HTTPS for expose.host, from a Secret you have or a certificate cert-manager issues.

With `issuerRef` the operator renders a cert-manager `Certificate` `<name>-tls` (its Secret `<name>-tls`), which
works with every exposure. HTTP -> HTTPS redirects (301) and HSTS are on by default once TLS is on.
"""

from __future__ import annotations

from typing import ClassVar, Final

from pydantic import Field

from .base import Model
from .patterns import DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN
from .rules import Rule

CERT_MANAGER_GROUP: Final = "cert-manager.io"
ISSUER_KINDS: Final = ("Issuer", "ClusterIssuer")
HSTS_MAX_AGE_DEFAULT: Final = 31536000  # one year, what the HSTS preload list asks for
HSTS_MAX_AGE_LIMIT: Final = 2 * HSTS_MAX_AGE_DEFAULT


class IssuerRef(Model):
    """The cert-manager issuer of the certificate for expose.host."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="The issuer's name.")
    kind: str = Field(
        "Issuer",
        min_length=1,
        max_length=63,
        pattern=r"^[A-Z][A-Za-z0-9]*$",
        description="Issuer (in the AsgiService's namespace) or ClusterIssuer; an external issuer's kind when "
        "group is not cert-manager.io.",
    )
    group: str = Field(
        CERT_MANAGER_GROUP,
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="The issuer's API group: cert-manager.io, or an external issuer's.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            f"self.group != '{CERT_MANAGER_GROUP}' || self.kind in {list(ISSUER_KINDS)}",
            "kind must be Issuer or ClusterIssuer for group cert-manager.io",
            lambda r: r.group != CERT_MANAGER_GROUP or r.kind in ISSUER_KINDS,
            ".kind",
        ),
    )


class TLSSpec(Model):
    """HTTPS for expose.host: an existing Secret (secretName) or a certificate cert-manager issues (issuerRef)."""

    secret_name: str | None = Field(
        None,
        min_length=1,
        max_length=253,
        pattern=DNS_LABEL_PATTERN,
        description="A kubernetes.io/tls Secret with the certificate for host, in the AsgiService's namespace.",
    )
    issuer_ref: IssuerRef | None = Field(
        None,
        description="The operator renders a cert-manager Certificate <name>-tls for host (Secret <name>-tls, private "
        "key rotated at each renewal) from this issuer. Needs cert-manager installed.",
    )
    redirect: bool = Field(
        True,
        description="Answer plain HTTP with a 301 redirect to HTTPS. Gateway API: a route <name>-redirect on the "
        "listener gateway.httpSectionName; ingress-nginx: its ssl-redirect (false: the annotation ssl-redirect "
        "false).",
    )
    hsts_max_age: int | None = Field(
        None,
        ge=0,
        le=HSTS_MAX_AGE_LIMIT,
        alias="hstsMaxAge",
        description=f"Gateway API: the Strict-Transport-Security max-age in seconds (default {HSTS_MAX_AGE_DEFAULT}; "
        "0: no HSTS header). ingress-nginx sets HSTS in its ConfigMap (hsts, hsts-max-age): leave it unset there.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "[has(self.secretName), has(self.issuerRef)].filter(x, x).size() == 1",
            "set exactly one of secretName (an existing Secret) and issuerRef (cert-manager issues the certificate)",
            lambda t: (t.secret_name is None) != (t.issuer_ref is None),
        ),
    )

    def hsts(self) -> int:
        """The HSTS max-age in seconds (0: none)."""
        return HSTS_MAX_AGE_DEFAULT if self.hsts_max_age is None else self.hsts_max_age


def tls_secret_name(owner_name: str, tls: TLSSpec) -> str:
    """The Secret holding the certificate: the one named, or the one the operator's Certificate fills."""
    return tls.secret_name or certificate_name(owner_name)


def certificate_name(owner_name: str) -> str:
    return f"{owner_name}-tls"
