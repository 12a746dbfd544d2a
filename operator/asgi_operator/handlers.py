"""Kopf handlers: thin. Every watch event updates the controller's store (the operator's memory of the
cluster, read by every reconcile instead of GETs) and wakes the AsgiService it concerns when it matters.

`@kopf.on.event` handlers store nothing on the objects (no finalizers, no progress or diff-base
annotations), so the operator's writes are exactly the controller's own: none for an object that is
already as it should be, at startup or at any resync.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from .api import keys
from .api.kinds import ASGI_SERVICE
from .controller.controller import Controller
from .controller.settings import Settings
from .routers import owned_kinds

KOPF_WORKERS = 64
LIST_PAGE = 250
_controller: Controller | None = None
_settings = Settings()

# The kinds kept in the controller's store and watched for changes: AsgiServices, and every kind one may own,
# as the workload and the traffic routers declare (routers.owned_kinds).
WATCHED = (ASGI_SERVICE, *owned_kinds())


def configure(settings: Settings) -> None:
    """Set before the operator starts (by the command line)."""
    global _settings  # noqa: PLW0603
    _settings = settings


def controller() -> Controller:
    assert _controller is not None, "the operator has not started"
    return _controller


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _controller  # noqa: PLW0603
    settings.posting.enabled = False  # events are posted by the controller, deliberately
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 60
    settings.peering.lifetime = _settings.peering_lifetime
    settings.peering.stealth = True  # keep-alives are routine, not log lines
    # Kopf runs one worker per object with events; at a start with thousands of children every one of them has
    # an event at once. The bound limits how many run at once (the rest wait in Kopf's queues with their
    # bodies: the peak of a restart's memory); a short idle timeout lets each end soon after its event.
    settings.queueing.worker_limit = KOPF_WORKERS
    settings.queueing.idle_timeout = 0.5
    # lists in pages, and children filtered by the API server (only objects an AsgiService owns are sent)
    settings.watching.chunk_size = LIST_PAGE
    for kind in WATCHED[1:]:
        settings.watching.label_selectors[(kind.group, kind.version, kind.plural)] = keys.LABEL_NAME
    _controller = Controller(_settings)
    await _controller.start()


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if _controller is not None:
        await _controller.stop()


@kopf.on.probe(id="queue")
def queue_depth(**_: Any) -> int:
    return controller().queue.pending


async def _changed(*, type: str | None, body: kopf.Body, **_: Any) -> None:
    # async: runs on the event loop, where the work queue lives (no thread hop per event)
    controller().changed(type, dict(body))


for _kind in WATCHED:
    kopf.on.event(_kind.group, _kind.version, _kind.plural, id=f"changed-{_kind.plural}")(_changed)


@kopf.on.event("apiextensions.k8s.io", "v1", "customresourcedefinitions", id="crds")
async def crd_changed(*, type: str | None, spec: Mapping[str, Any], **_: Any) -> None:
    """A CRD added, changed or removed: which kinds the cluster serves is asked again (never polled). The
    initial listing (type None) wakes nothing: the start reconciles everything anyway."""
    controller().crd_changed(str(spec.get("group", "")), appeared=type in ("ADDED", "MODIFIED"))


@kopf.on.event("", "v1", "namespaces", id="namespaces")
async def namespace_changed(*, type: str, name: str, meta: Mapping[str, Any], **_: Any) -> None:
    """A namespace being deleted: its AsgiServices are left alone until it is gone (no fight with the
    namespace controller, which deletes their children)."""
    if type == "DELETED":
        controller().namespace_changed(name, terminating=False)
    else:
        controller().namespace_changed(name, terminating=bool(meta.get("deletionTimestamp")))
