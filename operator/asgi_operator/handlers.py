"""Kopf handlers: thin. Every watch event only puts the AsgiService it concerns on the work queue.

`@kopf.on.event` handlers store nothing on the objects (no finalizers, no progress or diff-base
annotations), so the operator's writes are exactly the controller's own: none for an object that is
already as it should be, at startup or at any resync.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from .api import keys
from .controller.controller import Controller
from .controller.settings import Settings
from .routers import owned_kinds

_controller: Controller | None = None
_settings = Settings()

# The child kinds whose changes (including deletion) may need a repair of their AsgiService: every kind an
# AsgiService may own, as the workload and the traffic routers declare (routers.owned_kinds).
CHILD_RESOURCES = tuple((kind.group, kind.version, kind.plural) for kind in owned_kinds())


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
    _controller = Controller(_settings)
    _controller.start()


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if _controller is not None:
        await _controller.stop()


@kopf.on.probe(id="queue")
def queue_depth(**_: Any) -> int:
    return controller().queue.pending


@kopf.on.event(keys.GROUP, keys.VERSION, keys.PLURAL)
def asgiservice_changed(*, type: str, name: str, namespace: str | None, **_: Any) -> None:
    if namespace is None:
        return
    if type == "DELETED":
        controller().forget(namespace, name)
        from .controller import telemetry

        telemetry.forget(namespace, name)
    else:
        controller().enqueue(namespace, name)


@kopf.on.event("", "v1", "namespaces", id="namespaces")
def namespace_changed(*, type: str, name: str, meta: Mapping[str, Any], **_: Any) -> None:
    """A namespace being deleted: its AsgiServices are left alone until it is gone (no fight with the
    namespace controller, which deletes their children)."""
    if type == "DELETED":
        controller().namespace_changed(name, terminating=False)
    else:
        controller().namespace_changed(name, terminating=bool(meta.get("deletionTimestamp")))


def _child_changed(*, labels: Mapping[str, str], namespace: str | None, **_: Any) -> None:
    if namespace is not None:
        controller().enqueue(namespace, labels[keys.LABEL_NAME])


for _group, _version, _plural in CHILD_RESOURCES:
    kopf.on.event(_group, _version, _plural, labels={keys.LABEL_NAME: kopf.PRESENT}, id=f"child-{_plural}")(
        _child_changed
    )
