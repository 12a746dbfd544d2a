"""Which `spec.server` options each ASGI server can honour.

This table is part of the contract: the CRD's CEL rules are generated from it, so a spec asking a server for
something it cannot do is rejected at `kubectl apply` with the reason below, instead of being silently
ignored. The renderers in `render/servers.py` implement exactly these options (a unit test checks that).
"""

from enum import StrEnum
from typing import Final


class ServerKind(StrEnum):
    UVICORN = "uvicorn"
    GUNICORN = "gunicorn"
    HYPERCORN = "hypercorn"
    GRANIAN = "granian"


# option (camelCase spec field) -> {server kind: why it is not supported}
UNSUPPORTED: Final[dict[str, dict[ServerKind, str]]] = {
    "proxyHeaders": {
        ServerKind.HYPERCORN: "it has no proxy-headers option: wrap the app in ProxyFixMiddleware "
        "(hypercorn.middleware) and leave proxyHeaders unset",
        ServerKind.GRANIAN: "it has no proxy-headers option: wrap the app in a proxy-headers middleware and leave "
        "proxyHeaders unset",
    },
    "trustedProxies": {
        ServerKind.HYPERCORN: "it has no forwarded-allow-ips option: configure the trusted hops in ProxyFixMiddleware",
        ServerKind.GRANIAN: "it has no forwarded-allow-ips option: configure them in your middleware",
    },
    "concurrencyLimit": {
        ServerKind.GUNICORN: "its UvicornWorker does not pass a concurrency limit to uvicorn",
        ServerKind.HYPERCORN: "it has no concurrency limit option",
    },
    "rootPath": {
        ServerKind.GUNICORN: "its UvicornWorker does not pass root_path to uvicorn: set root_path in the app "
        "(FastAPI(root_path=...))",
    },
    "maxRequests": {
        ServerKind.GRANIAN: "it recycles workers by age or memory (extraArgs --workers-lifetime, --workers-max-rss), "
        "not by request count",
    },
    "lifespan": {
        ServerKind.GUNICORN: "its UvicornWorker always runs lifespan in auto mode",
        ServerKind.HYPERCORN: "it always runs the lifespan protocol",
        ServerKind.GRANIAN: "its asgi interface always runs the lifespan protocol",
    },
}


def supports(kind: ServerKind, option: str) -> bool:
    return kind not in UNSUPPORTED.get(option, {})
