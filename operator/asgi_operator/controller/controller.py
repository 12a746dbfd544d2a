"""The running controller: a work queue feeding the reconciler on a small thread pool.

The Kubernetes and Prometheus clients are synchronous; each reconcile runs in a worker thread so the event
loop (Kopf's watches, the liveness probe) is never blocked.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from ..kube.api import KubeApi, load_client
from .namespaces import TerminatingNamespaces
from .queue import Key, WorkQueue
from .reconciler import Reconciler
from .settings import Settings

log = logging.getLogger(__name__)


class Controller:
    def __init__(self, settings: Settings, api: KubeApi | None = None) -> None:
        self.settings = settings
        self.api = api or KubeApi(load_client(settings.kubeconfig), timeout=settings.api_timeout)
        self.terminating = TerminatingNamespaces()
        self.reconciler = Reconciler(self.api, settings, terminating=self.terminating)
        self.queue = WorkQueue(self._work, concurrency=settings.concurrency)
        self._executor = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="reconcile")

    def start(self) -> None:
        self.queue.start()

    async def stop(self) -> None:
        await self.queue.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def enqueue(self, namespace: str, name: str) -> None:
        self.queue.enqueue((namespace, name))

    def forget(self, namespace: str, name: str) -> None:
        self.queue.forget((namespace, name))

    def namespace_changed(self, name: str, terminating: bool) -> None:
        if terminating:
            self.terminating.mark(name)
        else:
            self.terminating.clear(name)

    async def _work(self, key: Key) -> float | None:
        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(self._executor, self.reconciler.reconcile, key)
        self.queue.succeeded(key)
        return outcome.requeue_after
