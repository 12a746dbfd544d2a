"""CORS at the edge (spec.expose.cors, enforcement Edge): the Gateway API standard CORS filter on the weighted
rule of the generated HTTPRoute (one filter, so stable and canary answer alike), or ingress-nginx annotations on
the main Ingress (a canary Ingress ignores them). Enforcement App is the asgi_edge wrapper's (render/edge.py)."""

from __future__ import annotations

import math
from typing import Final

from ..api.cors import CORSSpec
from ..api.durations import seconds
from ..api.exposure import ExposeSpec
from .meta import Manifest

NGINX: Final = "nginx.ingress.kubernetes.io/"


def _at_edge(expose: ExposeSpec) -> CORSSpec | None:
    return expose.cors if expose.cors is not None and expose.cors.enforcement == "Edge" else None


def gateway_filter(expose: ExposeSpec) -> Manifest | None:
    cors = _at_edge(expose)
    if cors is None:
        return None
    body: Manifest = {
        "allowOrigins": list(cors.allow_origins),
        "allowCredentials": cors.allow_credentials,
        "allowMethods": list(cors.allow_methods),
        "maxAge": math.ceil(seconds(cors.max_age)),
    }
    if cors.allow_headers:
        body["allowHeaders"] = list(cors.allow_headers)
    if cors.expose_headers:
        body["exposeHeaders"] = list(cors.expose_headers)
    return {"type": "CORS", "cors": body}


def nginx_annotations(expose: ExposeSpec) -> dict[str, str]:
    cors = _at_edge(expose)
    if cors is None:
        return {}
    out = {
        f"{NGINX}enable-cors": "true",
        f"{NGINX}cors-allow-origin": ", ".join(cors.allow_origins),
        # always written: ingress-nginx defaults it to true
        f"{NGINX}cors-allow-credentials": "true" if cors.allow_credentials else "false",
        f"{NGINX}cors-allow-methods": ", ".join(cors.allow_methods),
        f"{NGINX}cors-max-age": str(math.ceil(seconds(cors.max_age))),
    }
    if cors.allow_headers:
        out[f"{NGINX}cors-allow-headers"] = ", ".join(cors.allow_headers)
    if cors.expose_headers:
        out[f"{NGINX}cors-expose-headers"] = ", ".join(cors.expose_headers)
    return out
