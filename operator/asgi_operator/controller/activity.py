"""Is this replica the active one? With Kopf peering (several replicas, one active), Kopf pauses a replica by
closing its own watches (CRDs, namespaces), but the controller's watches (controller.informer) go on feeding
the store, a warm standby, and its own wake-ups (a rollout's next analysis, a retry) are no watch events at all:
Kopf knows none of them. Without this gate a paused replica would go on reconciling and writing next to the
active one (status writes refused with 409 and retried, events posted twice).

So every reconcile first asks `Activity.active()`: Kopf's own rule (kopf/_core/engines/peering.py,
`process_peering_event`) applied to the peering object's status: a replica is paused while another live peer
(last seen less than its lifetime ago) has a higher priority, or the same one. The object is read at most once
per `ttl` seconds, and only with peering on. A key that arrives while paused is parked, and enqueued again once
the replica is active (checked every `ttl` seconds while something is parked)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ..api.kinds import Kind
from ..kube.api import ApiError, KubeApi
from .queue import Key

log = logging.getLogger(__name__)
PEERING: Final = Kind("kopf.dev/v1", "KopfPeering", "kopfpeerings")
CLUSTER_PEERING: Final = Kind("kopf.dev/v1", "ClusterKopfPeering", "clusterkopfpeerings", namespaced=False)


def _time(text: object) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def is_active(peers: Mapping[str, Any], identity: str, priority: int, now: datetime) -> bool:
    """Kopf's rule on one peering object's status ({identity: {priority, lifetime, lastseen}}): paused while
    another live peer has a higher or the same priority."""
    for other, info in peers.items():
        if other == identity or not isinstance(info, Mapping):
            continue
        seen = _time(info.get("lastseen"))
        if seen is not None and seen + timedelta(seconds=int(info.get("lifetime", 60))) <= now:
            continue  # presumed dead
        if int(info.get("priority", 0)) >= priority:
            return False
    return True


class Activity:
    """`read()` returns the status of every peering object that concerns this replica (None: unknown)."""

    def __init__(
        self,
        read: Callable[[], Iterable[Mapping[str, Any]]] | None,
        identity: str,
        priority: int,
        *,
        ttl: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._read, self.identity, self.priority, self.ttl = read, identity, priority, ttl
        self._clock = clock
        self._monotonic = monotonic or time.monotonic
        self._known: tuple[float, bool] | None = None  # (when read, active)
        self.parked: set[Key] = set()
        self._lock = threading.Lock()  # reconciles ask from several threads

    @property
    def standalone(self) -> bool:
        """No peering: always active (nothing to ask, nothing to park)."""
        return self._read is None

    def active(self) -> bool:
        """Standalone: always. With peering: by the peering objects, read at most once per ttl; the last verdict
        while they cannot be read (as Kopf, which keeps its state when its keep-alive fails)."""
        if self._read is None:
            return True
        with self._lock:
            return self._active()

    def _active(self) -> bool:
        assert self._read is not None
        now = self._monotonic()
        if self._known is not None and now - self._known[0] < self.ttl:
            return self._known[1]
        try:
            verdict = all(is_active(s, self.identity, self.priority, self._clock()) for s in self._read())
        except ApiError as e:
            log.warning("cannot read the peering object (%s): keeping the last verdict", e.message)
            verdict = self._known[1] if self._known is not None else False
        if self._known is not None and verdict != self._known[1]:
            log.info("this replica is %s", "active" if verdict else "paused (another replica is active)")
        self._known = (now, verdict)
        return verdict

    def admit(self, key: Key) -> bool:
        """Reconcile `key` now? Parked (kept for later) while this replica is paused."""
        if self.active():
            return True
        with self._lock:
            self.parked.add(key)
        return False

    def resumed(self) -> list[Key]:
        """The parked keys once the replica is active again (emptied), else none."""
        if not self.parked or not self.active():
            return []
        with self._lock:
            keys, self.parked = sorted(self.parked), set()
        return keys


def peering_reader(api: KubeApi, name: str, namespaces: tuple[str, ...]) -> Callable[[], list[Mapping[str, Any]]]:
    """The statuses of Kopf's peering objects for this replica: the ClusterKopfPeering when it watches every
    namespace, else the KopfPeering of each namespace it serves (Kopf pauses on a conflict in any of them)."""

    def read() -> list[Mapping[str, Any]]:
        if not namespaces:
            bodies = [api.get(CLUSTER_PEERING, "", name)]
        else:
            bodies = [api.get(PEERING, namespace, name) for namespace in namespaces]
        return [dict(body.get("status") or {}) for body in bodies if body is not None]

    return read
