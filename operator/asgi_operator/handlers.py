"""Kopf handlers: thin. Kopf runs the process (startup and cleanup, the liveness probe, peering between
replicas) and watches CustomResourceDefinitions and namespaces; the controller watches the kinds it keeps in
its store itself (controller.informer: one LIST, then a watch, per kind), and reconciles from there.

Nothing here stores anything on the objects (no finalizers, no progress or diff-base annotations), so the
operator's writes are exactly the controller's own: none for an object that is already as it should be, at
startup or at any resync.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from .controller.controller import Controller
from .controller.settings import Settings
from .kube.config import CONFIG_ERRORS, connection

_controller: Controller | None = None
_settings = Settings()


def configure(settings: Settings) -> None:
    """Set before the operator starts (by the command line)."""
    global _settings  # noqa: PLW0603
    _settings = settings


def controller() -> Controller:
    assert _controller is not None, "the operator has not started"
    return _controller


@kopf.on.login()
def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
    """Kopf connects as the controller does (kube.config): certificates a kubeconfig embeds stay in memory, where
    Kopf's own login through the client library writes them to temporary files (a read-only root without a
    writable /tmp never started). Asked again whenever Kopf logs in again (an expired token)."""
    try:
        c = connection(_settings.kubeconfig)
    except CONFIG_ERRORS as e:
        raise kopf.PermanentError(f"cannot connect to the Kubernetes API: {e}") from e
    return kopf.ConnectionInfo(
        server=c.server,
        ca_path=c.ca_file,
        ca_data=c.ca_pem,
        insecure=c.insecure,
        scheme=c.scheme,
        token=c.token,
        username=c.username,
        password=c.password,
        certificate_path=c.cert_file,
        private_key_path=c.key_file,
        trust_env=settings.networking.trust_env,
    )


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
    await _controller.start()


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if _controller is not None:
        await _controller.stop()


@kopf.on.probe(id="queue")
def queue_depth(**_: Any) -> int:
    return controller().queue.pending


@kopf.on.event("apiextensions.k8s.io", "v1", "customresourcedefinitions", id="crds")
async def crd_changed(*, type: str | None, spec: Mapping[str, Any], **_: Any) -> None:
    """A CRD added, changed or removed: which kinds the cluster serves is asked again (never polled). The
    initial listing (type None) wakes nothing: the start reconciles everything anyway."""
    versions = [str(v.get("name")) for v in spec.get("versions", []) if v.get("served")]
    plural = str(spec.get("names", {}).get("plural", ""))
    group = str(spec.get("group", ""))
    controller().crd_changed(group, appeared=type in ("ADDED", "MODIFIED"), plural=plural, versions=versions)


@kopf.on.event("", "v1", "namespaces", id="namespaces")
async def namespace_changed(*, type: str, name: str, meta: Mapping[str, Any], **_: Any) -> None:
    """A namespace being deleted: its AsgiServices are left alone until it is gone (no fight with the
    namespace controller, which deletes their children)."""
    if type == "DELETED":
        controller().namespace_changed(name, terminating=False)
    else:
        controller().namespace_changed(name, terminating=bool(meta.get("deletionTimestamp")))
