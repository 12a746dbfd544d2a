"""Follow one AsgiService through the API's watch: the object now, then every new version of it as the API
server sends it. No polling: one GET, then watches on that single object (a field selector on its name), each
resumed from the last resourceVersion seen; a version the server no longer has (410 Gone) is answered with a
fresh GET and a watch from there; a broken connection is watched again after a short, growing pause."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Final

from ..api.kinds import ASGI_SERVICE
from ..kube.api import TRANSPORT_ERRORS, ApiError, Body, KubeApi
from .errors import NotFound

WATCH_SECONDS: Final = 300  # one watch request at most this long (the server ends it; we watch again)
RECONNECTS: Final = 5  # broken connections in a row before giving up


def follow(
    api: KubeApi,
    namespace: str,
    name: str,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> Iterator[Body]:
    """The object, then each new version of it, until `deadline` (on `clock`) passes; forever without one."""
    obj = api.get(ASGI_SERVICE, namespace, name)
    if obj is None:
        raise NotFound(f"asgiservice {namespace}/{name} not found")
    yield obj
    version: str | None = obj["metadata"].get("resourceVersion")
    broken = 0
    while True:
        if version is None:  # expired: read again, then watch from there
            obj = api.get(ASGI_SERVICE, namespace, name)
            if obj is None:
                raise NotFound(f"asgiservice {namespace}/{name} was deleted")
            version = obj["metadata"].get("resourceVersion")
            yield obj
        left = None if deadline is None else deadline - clock()
        if left is not None and left <= 0:
            return
        window = WATCH_SECONDS if left is None else min(WATCH_SECONDS, math.ceil(left))
        try:
            for event in api.watch(
                ASGI_SERVICE, namespace, name=name, resource_version=version, timeout_seconds=window
            ):
                kind, body = event.get("type"), event.get("object") or {}
                if kind == "ERROR":  # a Status: 410 Gone is handled below, anything else ends the follow
                    _raise_status(body, ASGI_SERVICE.path(namespace, name))
                version = (body.get("metadata") or {}).get("resourceVersion") or version
                if kind == "DELETED":
                    raise NotFound(f"asgiservice {namespace}/{name} was deleted")
                if kind in ("ADDED", "MODIFIED"):
                    yield body
            broken = 0
        except ApiError as e:
            if e.status != 410:
                raise
            version = None
        except TRANSPORT_ERRORS:
            broken += 1
            if broken > RECONNECTS:
                raise
            pause(min(2.0**broken, 10.0))


def _raise_status(status: Body, path: str) -> None:
    raise ApiError(
        int(status.get("code") or 500), str(status.get("reason", "")), str(status.get("message", "")), "WATCH", path
    )
