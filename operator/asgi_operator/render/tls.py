"""HTTPS (`spec.expose.tls`): the cert-manager Certificate `<name>-tls`, the HSTS response header filter and the
HTTP -> HTTPS redirect route `<name>-redirect` of a generated HTTPRoute.

The Certificate works with every exposure (its Secret `<name>-tls` is what the Ingress or the Gateway's HTTPS
listener serves). The redirect is a route of its own on the Gateway's HTTP listener: Gateway API refuses a
RequestRedirect beside a URLRewrite or backendRefs in one rule, and a route on the HTTPS listener must not
redirect. HSTS is one ResponseHeaderModifier filter on the weighted rule, so stable and canary answer alike.
"""

from __future__ import annotations

from typing import Final

from ..api.models import AsgiServiceSpec, ExposeSpec, GatewayRef
from ..api.tls import certificate_name, tls_secret_name
from .meta import Manifest, Owner, metadata

HSTS_HEADER: Final = "Strict-Transport-Security"
GATEWAY_GROUP: Final = "gateway.networking.k8s.io"
LISTENER: Final = "https"  # the ListenerSet's one listener


def wants_certificate(spec: AsgiServiceSpec) -> bool:
    expose = spec.expose
    return expose is not None and expose.tls is not None and expose.tls.issuer_ref is not None


def certificate(owner: Owner, spec: AsgiServiceSpec) -> Manifest | None:
    """cert-manager's Certificate for expose.host, into the Secret `<name>-tls`; a fresh private key at each
    renewal (rotationPolicy Always, cert-manager's default only from v1.18)."""
    expose = spec.expose
    if expose is None or expose.tls is None or expose.tls.issuer_ref is None or expose.host is None:
        return None
    issuer = expose.tls.issuer_ref
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": metadata(owner, certificate_name(owner.name)),
        "spec": {
            "secretName": certificate_name(owner.name),
            "dnsNames": [expose.host],
            "issuerRef": {"name": issuer.name, "kind": issuer.kind, "group": issuer.group},
            "privateKey": {"rotationPolicy": "Always"},
        },
    }


def hsts_filter(expose: ExposeSpec) -> Manifest | None:
    """The HSTS header on every answer of the HTTPS route (None: no TLS, or hstsMaxAge 0)."""
    if expose.tls is None or expose.tls.hsts() == 0:
        return None
    header = {"name": HSTS_HEADER, "value": f"max-age={expose.tls.hsts()}"}
    return {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"set": [header]}}


def certificate_child_name(owner: Owner) -> str:
    return certificate_name(owner.name)


def listener_set(owner: Owner, expose: ExposeSpec, gw: GatewayRef) -> Manifest | None:
    """gateway.listenerSet: the app's own HTTPS listener for host on the Gateway, serving the TLS Secret from
    the app's namespace (ListenerSet, Gateway API standard since v1.5)."""
    if not gw.listener_set or expose.tls is None or expose.host is None:
        return None
    parent: Manifest = {"group": GATEWAY_GROUP, "kind": "Gateway", "name": gw.name}
    if gw.namespace:
        parent["namespace"] = gw.namespace
    secret = {"group": "", "kind": "Secret", "name": tls_secret_name(owner.name, expose.tls)}
    listener = {
        "name": LISTENER,
        "hostname": expose.host,
        "port": 443,
        "protocol": "HTTPS",
        "tls": {"mode": "Terminate", "certificateRefs": [secret]},
    }
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "ListenerSet",
        "metadata": metadata(owner, owner.name),
        "spec": {"parentRef": parent, "listeners": [listener]},
    }


def listener_set_parent(owner: Owner, gw: GatewayRef) -> Manifest | None:
    """The parentRef of a route on the ListenerSet's listener (None: the route attaches to the Gateway)."""
    if not gw.listener_set:
        return None
    return {"group": GATEWAY_GROUP, "kind": "ListenerSet", "name": owner.name, "sectionName": LISTENER}


def redirect_name(owner: Owner) -> str:
    return f"{owner.name}-redirect"


def redirect_route(owner: Owner, expose: ExposeSpec, gw: GatewayRef) -> Manifest | None:
    """`<name>-redirect`: on the Gateway's HTTP listener, a 301 to https for the host and path."""
    if expose.tls is None or not expose.tls.redirect or gw.http_section_name is None or expose.host is None:
        return None
    parent: Manifest = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gw.name}
    if gw.namespace:
        parent["namespace"] = gw.namespace
    parent["sectionName"] = gw.http_section_name
    rule: Manifest = {
        "matches": [{"path": {"type": "PathPrefix", "value": expose.path}}],
        "filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}],
    }
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": metadata(owner, redirect_name(owner)),
        "spec": {"hostnames": [expose.host], "parentRefs": [parent], "rules": [rule]},
    }
