"""Services and the exposure: `<name>` (every track), `<name>-stable`, `<name>-canary`, and an HTTPRoute
or Ingress when `spec.expose` asks for one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..api import keys
from ..api.models import AsgiServiceSpec, ExposeSpec, GatewayRef, IngressSpec
from ..api.servers import ServerKind
from ..api.tls import tls_secret_name
from .cors import gateway_filter as cors_filter
from .meta import Manifest, Owner, canary_name, metadata, selector, stable_name
from .ratelimit import nginx_rate_limit
from .tls import hsts_filter, listener_set_parent

SERVICE_PORT: Final = 80


def service(owner: Owner, spec: AsgiServiceSpec, *, track: str | None) -> Manifest:
    name = {None: owner.name, keys.TRACK_STABLE: stable_name(owner), keys.TRACK_CANARY: canary_name(owner)}[track]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(owner, name, track=track),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(owner, track),
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def services(owner: Owner, spec: AsgiServiceSpec) -> list[Manifest]:
    return [service(owner, spec, track=t) for t in (None, keys.TRACK_STABLE, keys.TRACK_CANARY)]


def strips_prefix(spec: AsgiServiceSpec) -> bool:
    """uvicorn prepends --root-path to every request path: the proxy must strip the prefix it routes on."""
    return spec.server.kind == ServerKind.UVICORN and spec.server.root_path is not None


def split(owner: Owner, canary_weight: int) -> list[tuple[str, int]]:
    """Backends and weights of a traffic split between the stable and canary Services."""
    return [(stable_name(owner), 100 - canary_weight), (canary_name(owner), canary_weight)]


def http_route(
    owner: Owner,
    expose: ExposeSpec,
    gw: GatewayRef,
    *,
    backends: list[tuple[str, int]],
    strip_prefix: bool = False,
) -> Manifest:
    """A Gateway API HTTPRoute on the given Gateway, sending the host and path to weighted Services.
    `strip_prefix` rewrites the matched path prefix to `/` (for a server that re-adds its root path)."""
    parent: Manifest = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gw.name}
    if gw.namespace:
        parent["namespace"] = gw.namespace
    if gw.section_name:
        parent["sectionName"] = gw.section_name
    parent = listener_set_parent(owner, gw) or parent  # gateway.listenerSet: the app's own HTTPS listener
    rule: Manifest = {
        "matches": [{"path": {"type": "PathPrefix", "value": expose.path}}],
        "backendRefs": [{"name": n, "port": SERVICE_PORT, "weight": w} for n, w in backends],
    }
    if strip_prefix and expose.path != "/":
        rule["filters"] = [
            {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}
        ]
    hsts = hsts_filter(expose)
    if hsts is not None:  # one filter on the weighted rule: stable and canary answer alike
        rule["filters"] = [*rule.get("filters", []), hsts]
    cors = cors_filter(expose)
    if cors is not None:  # likewise
        rule["filters"] = [*rule.get("filters", []), cors]
    route: Manifest = {"parentRefs": [parent], "rules": [rule]}
    if expose.host:
        route = {"hostnames": [expose.host], **route}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": metadata(owner, owner.name),
        "spec": route,
    }


def ingress(
    owner: Owner,
    expose: ExposeSpec,
    ingress_spec: IngressSpec,
    *,
    backend: str,
    name: str | None = None,
    extra_annotations: dict[str, str] | None = None,
    copies_annotation: Callable[[str], bool] = lambda key: True,
) -> Manifest:
    """An Ingress for the given class, host, path and TLS secret, sending traffic to the `backend` Service. The
    main Ingress (`name` unset) carries expose.rateLimit's ingress-nginx annotations whichever router renders it:
    the user named the controller (a canary Ingress, named, would ignore them)."""
    rule: Manifest = {
        "http": {
            "paths": [
                {
                    "path": expose.path,
                    "pathType": "Prefix",
                    "backend": {"service": {"name": backend, "port": {"number": SERVICE_PORT}}},
                }
            ]
        }
    }
    if expose.host:
        rule = {"host": expose.host, **rule}
    body: Manifest = {"ingressClassName": ingress_spec.class_name, "rules": [rule]}
    if expose.tls is not None and expose.host:
        body["tls"] = [{"hosts": [expose.host], "secretName": tls_secret_name(owner.name, expose.tls)}]
    own = {k: v for k, v in ingress_spec.annotations.items() if copies_annotation(k)}
    annotations = {**own, **(extra_annotations or {}), **(nginx_rate_limit(expose) if name is None else {})}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(owner, name or owner.name, annotations=annotations or None),
        "spec": body,
    }
