"""The operator's own watches of the kinds kept in the store (AsgiServices and every kind one may own), like
client-go's reflector: one LIST, then a WATCH from the list's resourceVersion, per kind and watched namespace,
each in a thread of its own. Every object goes to `sink` in that thread (the controller puts it in the store and
wakes its AsgiService on the event loop).

Why not Kopf's `@kopf.on.event`: Kopf runs a worker per object, and its stream does not wait for them, so at a
restart every listed child waits in Kopf's queues with its parsed body at once (the restart's memory peak with
thousands of children), and Kopf listed every kind a second time after the store's own LIST. Here a LIST page
goes into the store before the next one is read, and the watch starts from the version of the store's LIST.

What a watch meets, and what it does:
- the server ends the stream (its timeout, every 5 minutes) or the connection breaks: WATCH again from the
  last version seen (bookmarks keep it current on a quiet kind);
- 410 Gone (that version left the API server's watch cache, or etcd compacted it): LIST again; whatever the
  store held of that kind and namespace, no newer than the list, and the list lacks, was deleted meanwhile;
- no answer at all (the API server restarting): every watch waits for ONE probe of `/readyz` shared by all
  (every 0.25 s at first, then every 2 s: `ApiGate`), then WATCHes again from the same version (a restarted API
  server answers 410 and the kind is listed again). The store is current again about a second after the API
  server is, whatever the outage's length; a watch that keeps failing while `/readyz` says ready backs off
  0.5, 1, 2, then 4 s;
- any other error (a 500, e.g. for a history etcd can no longer give whole): LIST again after that pause;
- 404 (the kind is not served: its CRD is not installed, or was removed): what the store held of it is gone;
  waits for a CRD of its group to change (`kick`, from Kopf's CRD watch), then lists. Nothing is polled;
- 403 (this identity may not list it): the kind is not kept; reads of it go to the API server (Store.unlisted),
  where a missing permission becomes a condition on the AsgiService.

With peering, a paused replica's watches go on feeding its store (a warm standby); its reconciles are held by
controller.activity.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from ..api.kinds import Kind
from ..kube.api import ApiError, ApiUnreachable, Body, KubeApi, Listing
from . import telemetry
from .store import Store

log = logging.getLogger(__name__)
Sink = Callable[[str | None, Body], None]  # (ADDED | MODIFIED | DELETED, or None for a listed object; object)
RETRY_DELAYS: Final = (0.5, 1.0, 2.0, 4.0)  # seconds before each try again after no answer or a 5xx/429
WATCH_SECONDS: Final = 300  # the server ends each watch after this long (then it is renewed)
# Objects per LIST page. A page is parsed whole before it goes into the store, so it sets the restart's peak
# RSS: measured with 1,000 AsgiServices (7,000 objects), 130 MiB with pages of 250, 106 with pages of 50; once
# settled both 103-105 MiB (the process that created the objects: 96). A restart sends a LIST per page.
LIST_PAGE: Final = 100


class ApiGate:
    """Watches waiting for an API server that does not answer: the first one probes `/readyz` (every 0.25 s,
    doubling up to 2 s) and the others wait for its verdict, so an outage costs one request at a time, not one
    per watch, and every watch goes on as soon as the server is ready."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._probing = False

    def wait(self, stopping: threading.Event) -> None:
        with self._lock:
            probe = not self._probing
            if probe:
                self._probing = True
                self._ready.clear()
        if not probe:
            while not self._ready.wait(0.5) and not stopping.is_set():
                pass
            return
        try:
            delay = 0.25
            while not stopping.is_set() and not self.api.reachable():
                stopping.wait(delay)
                delay = min(2 * delay, 2.0)
        finally:
            with self._lock:
                self._probing = False
                self._ready.set()


class Informer:
    def __init__(
        self,
        api: KubeApi,
        store: Store,
        kind: Kind,
        namespace: str | None,
        sink: Sink,
        *,
        selector: str | None = None,
        page: int = LIST_PAGE,
        watch_seconds: int = WATCH_SECONDS,
        gate: ApiGate | None = None,
    ) -> None:
        self.api, self.store, self.kind, self.namespace, self.sink = api, store, kind, namespace, sink
        self.gate = gate or ApiGate(api)
        self.selector, self.page, self.watch_seconds = selector, page, watch_seconds
        self.version: str | None = None  # where the watch goes on from (None: LIST first)
        self.served = True  # False after a 404, until a CRD of its group changes
        self._kicked = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0

    @property
    def name(self) -> str:
        return f"{self.kind.plural}" + (f" in {self.namespace}" if self.namespace else "")

    # ------------------------------------------------------------------ control (any thread)
    def prime(self) -> None:
        """The first LIST, in the caller's thread (the store is full before the first reconcile). An answer that
        says "later" (5xx, 429, 410 for an expired page) or none at all is tried again for about 20 s; a kind not
        served waits for its CRD; one this identity may not list, or that keeps failing, is read from the API
        server instead (not kept). No answer at all for that long ends the start (the process is restarted)."""
        delays = iter((*RETRY_DELAYS, *RETRY_DELAYS[-1:] * 3))
        while not self._stopping.is_set():
            try:
                self.version = self.relist()
                return
            except (ApiError, ApiUnreachable) as e:
                if self._settled_by(e):
                    return
                later = isinstance(e, ApiUnreachable) or e.status in (410, 429) or e.status >= 500
                delay = next(delays, None)
                if delay is None or not later:
                    if isinstance(e, ApiUnreachable):
                        raise
                    log.warning("cannot list %s (%s): read from the API server instead", self.name, e.message)
                    self.store.unlisted.add((self.kind.api_version, self.kind.kind))
                    return
                log.warning("listing %s failed (%s): trying again in %.1fs", self.name, e, delay)
                self._stopping.wait(delay)

    def start(self) -> None:
        """Watch (and list again whenever needed) in a thread of its own, until `stop`."""
        if self._thread is None and (self.kind.api_version, self.kind.kind) not in self.store.unlisted:
            self._thread = threading.Thread(target=self._run, name=f"watch-{self.kind.plural}", daemon=True)
            self._thread.start()

    def kick(self) -> None:
        """A CRD of this kind's group appeared or changed: a kind that was not served is listed now."""
        self._kicked.set()

    def stop(self) -> None:
        """The thread ends at its next event or bookmark (it is a daemon: the process never waits for it)."""
        self._stopping.set()
        self._kicked.set()

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self.served:
                    self._kicked.wait()
                    self._kicked.clear()
                    self.served = True
                    continue
                if self.version is None:
                    self.version = self.relist()
                self._watch(self.version)
                self._failures = 0
                telemetry.WATCH_RESTARTS.labels(self.kind.kind, "ended").inc()
            except ApiError as e:
                if e.status == 410:
                    log.info("watch of %s: version %s is gone: listing again", self.name, self.version)
                    telemetry.WATCH_RESTARTS.labels(self.kind.kind, "expired").inc()
                    self.version = None
                elif self._settled_by(e):
                    if (self.kind.api_version, self.kind.kind) in self.store.unlisted:
                        return  # not allowed: read from the API server from now on
                else:
                    # 429: the same watch a moment later; any other error (a 500 for a history etcd cannot give
                    # whole) may repeat for that version: list again, as client-go's reflector does
                    if e.status != 429:
                        self.version = None
                    self._pause(e, "error")
            except ApiUnreachable as e:
                self._pause(e, "unreachable")  # then the same version (the server most likely still has it)
            except Exception as e:  # a bug must not end the watch for the process' life
                log.exception("watch of %s failed", self.name)
                self.version = None
                self._pause(e, "error")

    def _settled_by(self, e: Exception) -> bool:
        """404: not served (wait for its CRD); 403: not allowed (not kept). True if `e` was one of them."""
        if not isinstance(e, ApiError):
            return False
        if e.not_found:
            if self.served:
                log.info("%s is not served: waiting for its CRD", self.name)
            self.served, self.version = False, None
            # its CRD was removed: its objects went with it (their owners are woken, and learn it is missing)
            self._forget_all()
            return True
        if e.forbidden:
            log.warning("cannot list %s (%s): read from the API server instead", self.name, e.message)
            self.store.unlisted.add((self.kind.api_version, self.kind.kind))
            return True
        return False

    def _pause(self, e: Exception, reason: str) -> None:
        """Before trying again: no answer waits for the API server's /readyz (one probe shared by every watch),
        and backs off only from the third failure in a row (ready, yet the watch keeps breaking); other errors
        back off 0.5, 1, 2, then 4 s."""
        self._failures += 1
        telemetry.WATCH_RESTARTS.labels(self.kind.kind, reason).inc()
        unreachable = reason == "unreachable"
        (log.warning if self._failures == 1 else log.debug)(
            "watch of %s failed (%s): trying again %s",
            self.name,
            e,
            "once the API server is ready" if unreachable else "after a pause",
        )
        if unreachable:
            self.gate.wait(self._stopping)
        tries = self._failures - 2 if unreachable else self._failures
        if tries > 0:
            self._stopping.wait(RETRY_DELAYS[min(tries, len(RETRY_DELAYS)) - 1])

    def relist(self) -> str:
        """LIST into the store, page by page; what it held of this kind and namespace that the list lacks (and
        is no newer than the list) is gone. The list's version."""
        listing = Listing(self.api, self.kind, self.namespace, self.selector, self.page)
        seen: set[tuple[str, str]] = set()
        for body in listing:
            meta = body["metadata"]
            seen.add((str(meta.get("namespace", "")), str(meta["name"])))
            self.sink(None, body)
        self._forget_all(seen, listing.resource_version)
        return listing.resource_version

    def _forget_all(self, listed: set[tuple[str, str]] | None = None, version: str = "") -> None:
        """Everything kept of this kind and namespace but `listed` (and no newer than `version`) is gone."""
        for namespace, name in self.store.absent(self.kind, self.namespace, listed or set(), version):
            self.sink("DELETED", {"kind": self.kind.kind, "metadata": {"namespace": namespace, "name": name}})

    def _watch(self, version: str) -> None:
        events = self.api.watch(
            self.kind,
            self.namespace,
            label_selector=self.selector,
            resource_version=version,
            timeout_seconds=self.watch_seconds,
        )
        for event in events:
            self._failures = 0  # the watch is up: a later break is no repeated failure
            kind, body = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                raise ApiError(
                    int(body.get("code") or 500),
                    str(body.get("reason", "")),
                    str(body.get("message", "")),
                    "WATCH",
                    self.kind.path(self.namespace),
                )
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                self.sink(kind, {**body, "apiVersion": self.kind.api_version, "kind": self.kind.kind})
            self.version = str((body.get("metadata") or {}).get("resourceVersion") or self.version)
            if self._stopping.is_set():
                events.close()
                return


def informers(
    api: KubeApi, store: Store, kinds: tuple[Kind, ...], namespaces: tuple[str, ...], sink: Sink, *, selector: str
) -> list[Informer]:
    """One informer per kind and watched namespace (one per kind for all namespaces). The first kind (the
    AsgiService) is listed whole; the others only with `selector` (the objects an AsgiService owns)."""
    gate = ApiGate(api)
    return [
        Informer(api, store, kind, namespace, sink, selector=None if i == 0 else selector, gate=gate)
        for i, kind in enumerate(kinds)
        for namespace in namespaces or (None,)
    ]
