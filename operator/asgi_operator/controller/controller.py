"""The running controller: the store fed by the operator's own watches (controller.informer), a work queue
feeding the reconciler on a small thread pool.

The Kubernetes and Prometheus clients are synchronous; each reconcile runs in a worker thread so the event
loop (Kopf's CRD and namespace watches, peering, the liveness probe) is never blocked.

What wakes an AsgiService: a watch event that changes what one of its decisions depends on (observe.relevant:
its spec, labels and annotations; a child's spec, metadata, or the Deployment status fields it reads), a child
deleted, a wake-up its rollout asked for, or a retry. Status churn and the operator's own writes wake nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..api import keys
from ..api.kinds import ASGI_SERVICE
from ..kube.api import KubeApi, RateLimiter, load_client
from ..routers import owned_kinds, patched_kinds
from . import memory, telemetry
from .activity import Activity, peering_reader
from .crds import CrdArrivals
from .informer import Informer, informers
from .namespaces import TerminatingNamespaces
from .queue import Key, WorkQueue
from .reachability import WaitForApi
from .reconciler import ApiUnavailable, Reconciler
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
        limiter = RateLimiter(settings.api_qps, settings.api_burst)
        self.api = api or KubeApi(load_client(settings.kubeconfig), timeout=settings.api_timeout, limiter=limiter)
        self.kinds = (ASGI_SERVICE, *owned_kinds())
        self.store = Store(owned_kinds())
        streams = len(self.kinds) * max(1, len(settings.namespaces))
        # the watches hold their connections for minutes: a pool of their own, so the reconciles' pool is theirs
        watch_api = api or KubeApi(
            load_client(settings.kubeconfig, connections=streams, transport_retries=False),
            timeout=settings.api_timeout,
            limiter=limiter,
        )
        self.informers: list[Informer] = informers(
            watch_api, self.store, self.kinds, settings.namespaces, self.observe, selector=keys.LABEL_NAME
        )
        self._loop: asyncio.AbstractEventLoop | None = None  # set once the store is primed: wakes go there
        self.terminating = TerminatingNamespaces()
        self.reconciler = Reconciler(self.api, settings, self.store, terminating=self.terminating)
        self.queue = WorkQueue(self._work, concurrency=settings.concurrency)
        self.waiting = WaitForApi(self._api_ready, self.queue.enqueue)  # objects whose reconcile got no answer
        self._executor = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="reconcile")
        telemetry.watch(self.store.stats, lambda: self.queue.pending)
        self._trims: list[asyncio.TimerHandle] = []
        self._owned_groups = frozenset(k.group for k in owned_kinds())
        self.crds = CrdArrivals(self.api, (*self.kinds, *patched_kinds()), self._crd_served)
        # with peering: only the active replica reconciles, its own wake-ups included (controller.activity)
        reader = peering_reader(self.api, settings.peering, settings.namespaces) if settings.peering else None
        self.activity = Activity(reader, settings.identity, settings.priority)
        self._resuming: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Fill the store (one LIST per kind and namespace, page by page), then reconcile every AsgiService once
        (a restart resumes every rollout), serve the queue, and watch every kind from its list's version."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.prime)
        self._loop = loop
        for namespace, name in self.store.names(ASGI_SERVICE):
            self.queue.enqueue((namespace, name))
        self.queue.start()
        for informer in self.informers:
            informer.start()

    def prime(self) -> None:
        for informer in self.informers:
            informer.prime()

    async def stop(self) -> None:
        self.crds.stop()
        for informer in self.informers:
            informer.stop()
        if self._resuming is not None:
            self._resuming.cancel()
        await self.queue.stop()
        await self.waiting.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _api_ready(self) -> bool:
        # on the loop's default executor: the reconcile threads may all be stuck in requests that time out
        return await asyncio.get_running_loop().run_in_executor(None, self.api.reachable)

    # ------------------------------------------------------------------ fed by the watches (informer threads)
    def observe(self, event_type: str | None, body: dict[str, Any]) -> None:
        """A watched object (listed: event_type None), in its informer's thread: into the store, then wake the
        AsgiService it matters to, on the event loop (deletions always do; a change only when it touches what a
        decision depends on). Before the first reconcile nothing is woken: the start reconciles everything."""
        kind, meta = body["kind"], body["metadata"]
        namespace, name = meta.get("namespace"), meta["name"]
        if namespace is None:
            return
        if event_type == "DELETED":
            owner = self.store.remove(kind, namespace, name)
            if kind == ASGI_SERVICE.kind:
                self._on_loop(self._forget, (namespace, name))
            elif owner is not None:
                self._on_loop(self.queue.enqueue, (namespace, owner))
            return
        wake = self.store.put(body)
        if wake is not None and wake.settle:
            self._on_loop(self.queue.enqueue_after, (namespace, wake.owner), SETTLE)
        elif wake is not None:
            self._on_loop(self.queue.enqueue, (namespace, wake.owner))

    def _on_loop(self, call: Callable[..., None], *args: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(call, *args)

    def _forget(self, key: Key) -> None:
        self.queue.forget(key)
        telemetry.forget(*key)

    def crd_changed(
        self, group: str, *, appeared: bool = False, plural: str = "", versions: Iterable[str] = ()
    ) -> None:
        """Which kinds of `group` are served is asked again. A CRD of a kind the operator may own that appears
        (or becomes established) after the start wakes every AsgiService once the API server serves it
        (controller.crds): one stalled on that missing kind converges now rather than at its next change (rare,
        so no bookkeeping of who was stalled)."""
        self.api.forget_discovery(group)
        if appeared:
            self.crds.appeared(group, plural, versions)

    def _crd_served(self, group: str) -> None:
        for informer in self.informers:
            if informer.kind.group == group:
                informer.kick()  # a kind that was not served is listed and watched now
        if group in self._owned_groups:
            for namespace, name in self.store.names(ASGI_SERVICE):
                self.queue.enqueue((namespace, name))

    def namespace_changed(self, name: str, terminating: bool) -> None:
        if terminating:
            self.terminating.mark(name)
        else:
            self.terminating.clear(name)

    async def _work(self, key: Key) -> float | None:
        loop = asyncio.get_running_loop()
        # with peering the verdict may need a read of the peering object: in a thread, never on the loop
        if not self.activity.standalone and not await loop.run_in_executor(self._executor, self.activity.admit, key):
            if self._resuming is None or self._resuming.done():
                self._resuming = asyncio.create_task(self._resume(), name="resume-parked")
            return None  # paused: parked until this replica is the active one again
        try:
            outcome = await loop.run_in_executor(self._executor, self.reconciler.reconcile, key)
        except ApiUnavailable as e:
            self.waiting.park(key, str(e))
            return None  # reconciled again as soon as the API server is ready (controller.reachability)
        self.queue.succeeded(key)
        self._after_burst(loop)
        return outcome.requeue_after

    async def _resume(self) -> None:
        """While keys are parked: every other second, are we active again? Then they run."""
        loop = asyncio.get_running_loop()
        while self.activity.parked:
            await asyncio.sleep(2 * self.activity.ttl)
            for key in await loop.run_in_executor(self._executor, self.activity.resumed):
                self.queue.enqueue(key)

    def _after_burst(self, loop: asyncio.AbstractEventLoop) -> None:
        """Once the queue has been empty for a moment, give the memory of the burst back (controller.memory);
        and once more a little later, when the burst's last events have been taken in too."""
        for handle in self._trims:
            handle.cancel()
        self._trims = (
            [loop.call_later(delay, self._release) for delay in RELEASE_AFTER_IDLE] if not self.queue.pending else []
        )

    def _release(self) -> None:
        if self.queue.pending == 0:
            memory.release()
