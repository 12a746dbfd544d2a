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
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..api import keys
from ..api.kinds import ASGI_SERVICE, Kind
from ..kube.api import ApiError, ApiUnreachable, KubeApi, RateLimiter, load_client
from ..routers import owned_kinds
from . import memory, telemetry
from .activity import Activity, peering_reader
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
PRIME_RETRIES = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between the tries of a LIST at the start


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
        self.waiting = WaitForApi(self._api_ready, self.queue.enqueue)  # objects whose reconcile got no answer
        self._executor = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="reconcile")
        telemetry.watch(self.store.stats, lambda: self.queue.pending)
        self._trims: list[asyncio.TimerHandle] = []
        self._owned_groups = frozenset(k.group for k in owned_kinds())
        # with peering: only the active replica reconciles, its own wake-ups included (controller.activity)
        reader = peering_reader(self.api, settings.peering, settings.namespaces) if settings.peering else None
        self.activity = Activity(reader, settings.identity, settings.priority)
        self._resuming: asyncio.Task[None] | None = None

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
                    self._prime_kind(kind, namespace, selector)
                except ApiError as e:
                    if e.not_found:
                        continue  # not served (its CRD is not installed): nothing to keep
                    log.warning("cannot list %s (%s): read from the API server instead", kind.plural, e.message)
                    self.store.unlisted.add((kind.api_version, kind.kind))

    def _prime_kind(self, kind: Kind, namespace: str | None, selector: str | None) -> None:
        """One LIST into the store (page by page), tried again after an answer that says "later" (5xx, 429) or
        none at all: a blip at the start must not leave a kind out of the store for the process' whole life."""
        for delay in (*PRIME_RETRIES, None):
            try:
                for body in self.api.list(kind, namespace, selector):
                    self.store.put(body)  # idempotent: a retry puts the same versions again
                return
            except (ApiError, ApiUnreachable) as e:
                if delay is None or (isinstance(e, ApiError) and e.status != 429 and e.status < 500):
                    raise
                log.warning("listing %s failed (%s): trying again in %.1fs", kind.plural, e, delay)
                time.sleep(delay)

    async def stop(self) -> None:
        if self._resuming is not None:
            self._resuming.cancel()
        await self.queue.stop()
        await self.waiting.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _api_ready(self) -> bool:
        # on the loop's default executor: the reconcile threads may all be stuck in requests that time out
        return await asyncio.get_running_loop().run_in_executor(None, self.api.reachable)

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
        if not await loop.run_in_executor(self._executor, self.activity.admit, key):
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
        and once more a little later, when Kopf's per-object workers of the burst have ended too."""
        for handle in self._trims:
            handle.cancel()
        self._trims = (
            [loop.call_later(delay, self._release) for delay in RELEASE_AFTER_IDLE] if not self.queue.pending else []
        )

    def _release(self) -> None:
        if self.queue.pending == 0:
            memory.release()
