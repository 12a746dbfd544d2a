"""The running controller: the store fed by the watches, a work queue feeding the reconciler on a small
thread pool.

The Kubernetes and Prometheus clients are synchronous; each reconcile runs in a worker thread so the event
loop (Kopf's watches, the liveness probe) is never blocked.

What wakes an AsgiService: a watch event that changes what one of its decisions depends on (observe.relevant:
its spec, labels and annotations; a child's spec, metadata, or the Deployment status fields it reads), a child
deleted, a wake-up its rollout asked for, or a retry. Status churn and the operator's own writes wake nothing.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..api import keys
from ..api.kinds import ASGI_SERVICE
from ..kube.api import ApiError, KubeApi, RateLimiter, load_client
from ..routers import owned_kinds
from . import memory, telemetry
from .namespaces import TerminatingNamespaces
from .queue import Key, WorkQueue
from .reconciler import Reconciler
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)
RELEASE_AFTER_IDLE = (2.0, 15.0)  # seconds of an empty queue before the memory of a burst is given back
# A child's status written by another controller (a Deployment's rollout progress) comes in quick series: its
# owner is reconciled this long after the first change of a series, once for all of them.
SETTLE = 1.0


class Controller:
    def __init__(self, settings: Settings, api: KubeApi | None = None) -> None:
        self.settings = settings
        self.api = api or KubeApi(
            load_client(settings.kubeconfig),
            timeout=settings.api_timeout,
            limiter=RateLimiter(settings.api_qps, settings.api_burst),
        )
        self.kinds = (ASGI_SERVICE, *owned_kinds())
        self.store = Store(owned_kinds())
        self.terminating = TerminatingNamespaces()
        self.reconciler = Reconciler(self.api, settings, self.store, terminating=self.terminating)
        self.queue = WorkQueue(self._work, concurrency=settings.concurrency)
        self._executor = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="reconcile")
        telemetry.watch(self.store.stats, lambda: self.queue.pending)
        self._trims: list[asyncio.TimerHandle] = []
        self._owned_groups = frozenset(k.group for k in owned_kinds())

    async def start(self) -> None:
        """Fill the store (one LIST per kind and namespace), then reconcile every AsgiService once (a restart
        resumes every rollout), then serve the queue."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self.prime)
        for namespace, name in self.store.names(ASGI_SERVICE):
            self.queue.enqueue((namespace, name))
        self.queue.start()

    def prime(self) -> None:
        for kind in self.kinds:
            for namespace in self.settings.namespaces or (None,):
                try:
                    selector = None if kind == ASGI_SERVICE else keys.LABEL_NAME
                    for body in self.api.list(kind, namespace, selector):
                        self.store.put(body)
                except ApiError as e:
                    if e.not_found:
                        continue  # not served (its CRD is not installed): nothing to keep
                    log.warning("cannot list %s (%s): read from the API server instead", kind.plural, e.message)
                    self.store.unlisted.add((kind.api_version, kind.kind))

    async def stop(self) -> None:
        await self.queue.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ fed by the watches (handlers.py)
    def changed(self, event_type: str | None, body: dict[str, Any]) -> None:
        """A watch event of a kept kind: into the store, then wake the AsgiService it matters to (deletions
        always do; a change only when it touches what a decision depends on)."""
        kind, meta = body["kind"], body["metadata"]
        namespace, name = meta.get("namespace"), meta["name"]
        if namespace is None:
            return
        if event_type == "DELETED":
            owner = self.store.remove(kind, namespace, name)
            if kind == ASGI_SERVICE.kind:
                self.queue.forget((namespace, name))
                telemetry.forget(namespace, name)
                return
            if owner is not None:
                self.queue.enqueue((namespace, owner))
            return
        wake = self.store.put(body)
        if wake is not None and wake.settle:
            self.queue.enqueue_after((namespace, wake.owner), SETTLE)
        elif wake is not None:
            self.queue.enqueue((namespace, wake.owner))

    def crd_changed(self, group: str, *, appeared: bool = False) -> None:
        """Which kinds of `group` are served is asked again. A CRD of a kind the operator may own that appears
        (or becomes established) after the start wakes every AsgiService: one stalled on that missing kind
        converges now rather than at its next change (rare, so no bookkeeping of who was stalled)."""
        self.api.forget_discovery(group)
        if appeared and group in self._owned_groups:
            for namespace, name in self.store.names(ASGI_SERVICE):
                self.queue.enqueue((namespace, name))

    def namespace_changed(self, name: str, terminating: bool) -> None:
        if terminating:
            self.terminating.mark(name)
        else:
            self.terminating.clear(name)

    async def _work(self, key: Key) -> float | None:
        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(self._executor, self.reconciler.reconcile, key)
        self.queue.succeeded(key)
        self._after_burst(loop)
        return outcome.requeue_after

    def _after_burst(self, loop: asyncio.AbstractEventLoop) -> None:
        """Once the queue has been empty for a moment, give the memory of the burst back (controller.memory);
        and once more a little later, when Kopf's per-object workers of the burst have ended too."""
        for handle in self._trims:
            handle.cancel()
        self._trims = (
            [loop.call_later(delay, self._release) for delay in RELEASE_AFTER_IDLE] if not self.queue.pending else []
        )

    def _release(self) -> None:
        if self.queue.pending == 0:
            memory.release()
