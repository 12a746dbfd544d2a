"""`spec.rollout.prometheus.auth`: how the operator authenticates to a Prometheus that needs credentials (Grafana
Cloud, multi-tenant Mimir, OpenShift's Thanos querier, a gateway in front of Prometheus).

Credentials are never written into the AsgiService: they are read from Secrets in the AsgiService's namespace
when an analysis runs (a rotated Secret is used at the next analysis). The operator needs only `get` on them.

Decisions, said once here and in the reference:
- `insecureSkipVerify` is not offered: a bearer token or a password sent over unverified TLS goes to whoever
  answers. A private CA is trusted with `tls.caSecretRef` / `tls.caConfigMapRef`, a certificate issued for
  another name with `tls.serverName`.
- Credentials over plain `http://` are allowed (an in-cluster gateway, a service mesh that encrypts between
  sidecars), and the reference says that they travel in clear text there; `tls` needs an `https://` address.
"""

from __future__ import annotations

from typing import ClassVar, Final

from pydantic import Field

from .base import Model
from .patterns import DNS_SUBDOMAIN_PATTERN, HOSTNAME_PATTERN
from .rules import Rule, cel_string

KEY_PATTERN: Final = r"^[-._a-zA-Z0-9]+$"
# an HTTP header name (the letters, digits, '-', '_' and '.' of RFC 9110's token: what real header names use)
HEADER_NAME_PATTERN: Final = r"^[A-Za-z0-9][-A-Za-z0-9_.]*$"
# no CR, LF or other control characters in a header value (header injection)
HEADER_VALUE_PATTERN: Final = r"^[^\x00-\x08\x0a-\x1f\x7f]*$"
# header names the `headers` list may not set: the credentials have their own fields, the host is the address's
RESERVED_HEADERS: Final = ("authorization", "host")
MAX_HEADERS: Final = 16


class SecretKeySelector(Model):
    """One key of a Secret in the AsgiService's namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="The Secret's name.")
    key: str = Field(min_length=1, max_length=253, pattern=KEY_PATTERN, description="The key in the Secret's data.")


class ConfigMapKeySelector(Model):
    """One key of a ConfigMap in the AsgiService's namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="The ConfigMap's name.")
    key: str = Field(min_length=1, max_length=253, pattern=KEY_PATTERN, description="The key in the ConfigMap's data.")


class SecretValue(Model):
    """A value read from a Secret."""

    secret_ref: SecretKeySelector = Field(description="The Secret and key holding the value.")


class BearerTokenAuth(Model):
    """`Authorization: Bearer <token>` with the token from a Secret (leading and trailing whitespace, such as
    the newline of `echo token > file`, is removed)."""

    secret_ref: SecretKeySelector = Field(description="The Secret and key holding the token.")


class BasicAuthUsername(Model):
    """The username: written here, or read from a Secret."""

    value: str | None = Field(
        None, min_length=1, max_length=256, pattern=r"^[^:\x00-\x1f\x7f]*$", description="The username itself."
    )
    secret_ref: SecretKeySelector | None = Field(None, description="The Secret and key holding the username.")

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "has(self.value) != has(self.secretRef)",
            "set exactly one of value and secretRef",
            lambda u: (u.value is None) != (u.secret_ref is None),
        ),
    )


class BasicAuth(Model):
    """HTTP basic authentication (Grafana Cloud: the instance ID and an access policy token)."""

    username: BasicAuthUsername = Field(description="The username, as a value or from a Secret.")
    password: SecretValue = Field(description="The password, always from a Secret.")


class HeaderValueSource(Model):
    """Where a header's value comes from."""

    secret_key_ref: SecretKeySelector = Field(description="The Secret and key holding the header's value.")


def _header_name_ok(name: str) -> bool:
    return name.lower() not in RESERVED_HEADERS


_RESERVED_CEL: Final = "[" + ", ".join(cel_string(h) for h in RESERVED_HEADERS) + "]"


class PrometheusHeader(Model):
    """An HTTP header sent with every query, such as Mimir's and Cortex's tenant header `X-Scope-OrgID`."""

    name: str = Field(min_length=1, max_length=128, pattern=HEADER_NAME_PATTERN, description="The header's name.")
    value: str | None = Field(
        None, max_length=4096, pattern=HEADER_VALUE_PATTERN, description="The value, written here (not a secret)."
    )
    value_from: HeaderValueSource | None = Field(None, description="The value, read from a Secret.")

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "has(self.value) != has(self.valueFrom)",
            "set exactly one of value and valueFrom",
            lambda h: (h.value is None) != (h.value_from is None),
        ),
        Rule(
            f"!({_RESERVED_CEL}.exists(r, r == self.name.lowerAscii()))",
            "Authorization and Host cannot be set here: use auth.bearerToken or auth.basicAuth for credentials; "
            "the host is the address's",
            lambda h: _header_name_ok(h.name),
            ".name",
        ),
    )


class PrometheusTLS(Model):
    """How the Prometheus server's certificate is verified (always: there is no way to skip verification, which
    would send the credentials to whoever answers)."""

    ca_secret_ref: SecretKeySelector | None = Field(
        None, description="A Secret key holding the PEM CA bundle to trust instead of the system's CAs."
    )
    ca_config_map_ref: ConfigMapKeySelector | None = Field(
        None,
        alias="caConfigMapRef",
        description="A ConfigMap key holding the PEM CA bundle to trust instead of the system's CAs "
        "(OpenShift's service CA is injected into ConfigMaps).",
    )
    server_name: str | None = Field(
        None,
        max_length=253,
        pattern=HOSTNAME_PATTERN,
        description="The name the certificate must carry (and the TLS SNI), when it differs from the address's host.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!(has(self.caSecretRef) && has(self.caConfigMapRef))",
            "set at most one of caSecretRef and caConfigMapRef",
            lambda t: t.ca_secret_ref is None or t.ca_config_map_ref is None,
            ".caSecretRef",
        ),
    )


class PrometheusAuth(Model):
    """Credentials, headers and TLS for the Prometheus named by `address` (or the operator's default
    Prometheus). Set here, they replace the operator-wide credentials entirely. Secrets and ConfigMaps are in
    the AsgiService's namespace and are read at each analysis: a rotated Secret is used at the next one. Over an
    `http://` address the credentials travel in clear text: use it only where the network is encrypted
    (a service mesh) or trusted."""

    bearer_token: BearerTokenAuth | None = Field(None, description="A bearer token from a Secret.")
    basic_auth: BasicAuth | None = Field(None, description="HTTP basic authentication, the password from a Secret.")
    headers: list[PrometheusHeader] | None = Field(
        None,
        max_length=MAX_HEADERS,
        description="Extra HTTP headers for every query (a tenant header such as X-Scope-OrgID); not Authorization "
        "or Host.",
    )
    tls: PrometheusTLS | None = Field(
        None,
        description="The CA and server name to verify an https:// address with. Verification cannot be turned "
        "off (no insecureSkipVerify): a token sent to an unverified server goes to whoever answers.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!(has(self.bearerToken) && has(self.basicAuth))",
            "set at most one of bearerToken and basicAuth",
            lambda a: a.bearer_token is None or a.basic_auth is None,
            ".basicAuth",
        ),
        Rule(
            "!has(self.headers) || self.headers.all(h, self.headers.exists_one(g, g.name.lowerAscii() == "
            "h.name.lowerAscii()))",
            "header names must be unique (case-insensitive)",
            lambda a: len({h.name.lower() for h in a.headers or []}) == len(a.headers or []),
            ".headers",
        ),
    )
