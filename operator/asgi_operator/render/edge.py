"""The asgi_edge wrapper in the app's pod (spec.observability; CORS with enforcement App): the ConfigMap that
ships `asgi_edge.py` verbatim, its volume and mount, the environment that configures it, and the pod annotations
for log shippers and tracing. How each server is pointed at `asgi_edge:app` is in render/servers.py."""

from __future__ import annotations

import math
from typing import Final

from ..api.durations import seconds
from ..api.models import AsgiServiceSpec
from ..api.volumes import EDGE_DIR, EDGE_VOLUME
from ..edge import MODULE, SOURCE
from .meta import Manifest, Owner, content_hash, metadata

FILE: Final = f"{MODULE}.py"
SOURCE_TEXT: Final = SOURCE.read_text()
# in the pod template: a new wrapper (an operator upgrade that changes it) is a new revision, rolled out as one
SOURCE_HASH: Final = content_hash(SOURCE_TEXT)
ANNOTATION_SOURCE: Final = "asgi.dev/edge-wrapper"
SHIPPER_ANNOTATIONS: Final[dict[str, dict[str, str]]] = {
    # Filebeat autodiscover hints (filestream ndjson): the JSON line's fields at the top level
    "Filebeat": {
        "co.elastic.logs/json.target": "",
        "co.elastic.logs/json.add_error_key": "true",
        "co.elastic.logs/json.expand_keys": "true",
    },
    "FluentBit": {"fluentbit.io/parser": "json"},
}
OTEL_ANNOTATION: Final = "instrumentation.opentelemetry.io/inject-python"
FACTORY_FLAG: Final = "--factory"


def enabled(spec: AsgiServiceSpec) -> bool:
    return spec.observability.wrapper


def config_map_name(owner: Owner) -> str:
    return f"{owner.name}-edge"


def config_map(owner: Owner, spec: AsgiServiceSpec) -> list[Manifest]:
    if not enabled(spec):
        return []
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(owner, config_map_name(owner)),
            "data": {FILE: SOURCE_TEXT},
        }
    ]


def volume(owner: Owner) -> Manifest:
    return {"name": EDGE_VOLUME, "configMap": {"name": config_map_name(owner)}}


def mount() -> Manifest:
    return {"name": EDGE_VOLUME, "mountPath": EDGE_DIR, "readOnly": True}


def environment(spec: AsgiServiceSpec) -> list[Manifest]:
    """ASGI_EDGE_* for the app container (the wrapper reads nothing else)."""
    o = spec.observability
    skip = o.access_log_skip
    if skip is None:
        probes = (spec.probes.readiness, spec.probes.liveness, spec.probes.startup)
        skip = list(dict.fromkeys([spec.probes.path, *(p.path for p in probes if p.path), spec.metrics.path]))
    values: dict[str, str] = {
        "ASGI_EDGE_APP": spec.app,
        "ASGI_EDGE_REQUEST_ID": "on",
        "ASGI_EDGE_REQUEST_ID_HEADER": o.request_id_header,
        "ASGI_EDGE_ACCESS_LOG": "json" if o.access_log == "JSON" else "off",
        "ASGI_EDGE_ACCESS_LOG_SKIP": ",".join(skip),
    }
    if FACTORY_FLAG in spec.server.extra_args:
        values["ASGI_EDGE_FACTORY"] = "true"  # the flag is taken off the server's argv (render/servers.py)
    cors = spec.expose.cors if spec.expose is not None else None
    if cors is not None and cors.enforcement == "App":
        values |= {
            "ASGI_EDGE_CORS_ALLOW_ORIGINS": ",".join(cors.allow_origins),
            "ASGI_EDGE_CORS_ALLOW_CREDENTIALS": "true" if cors.allow_credentials else "false",
            "ASGI_EDGE_CORS_ALLOW_METHODS": ",".join(cors.allow_methods),
            "ASGI_EDGE_CORS_ALLOW_HEADERS": ",".join(cors.allow_headers),
            "ASGI_EDGE_CORS_EXPOSE_HEADERS": ",".join(cors.expose_headers),
            "ASGI_EDGE_CORS_MAX_AGE": str(math.ceil(seconds(cors.max_age))),
        }
    return [{"name": k, "value": v} for k, v in values.items()]


def pod_annotations(spec: AsgiServiceSpec) -> dict[str, str]:
    out: dict[str, str] = {}
    if enabled(spec):
        out[ANNOTATION_SOURCE] = SOURCE_HASH
        if spec.observability.access_log == "JSON":
            for shipper in spec.observability.log_shippers:
                out |= SHIPPER_ANNOTATIONS[shipper]
    if spec.observability.open_telemetry:
        out[OTEL_ANNOTATION] = "true"
    return out
