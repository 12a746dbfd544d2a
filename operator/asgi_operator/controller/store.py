"""The operator's memory of the cluster: every AsgiService and every object one may own, as the operator's own
watches deliver them (controller.informer). Reconciles read here instead of sending GETs (0 reads per
reconcile, like a client-go informer cache).

Filled at startup by one LIST per kind (with the asgi.dev/name label selector) before the first reconcile, so a
reconcile never sees a half-filled store, then kept current by a watch per kind from that list's version. A
kind the operator may not list (a missing permission) is not kept: reads of it go to the API server, where the
missing permission becomes a condition on the AsgiService, as for any write.

A stale entry can cost a retry, never a wrong write: status is written with a resourceVersion precondition,
child deletions with a UID precondition, and applies are idempotent. The operator's own writes are put back
here from the API server's answers (write-through), so the watch event of its own write wakes nothing.

Memory: each object is kept as the part the reconciler reads (observe.trimmed), as compressed compact JSON,
with a digest of what its decisions depend on (observe.relevant). Parsed dicts of the same objects take
several times the room; a read decompresses one object (tens of microseconds).
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from dataclasses import dataclass
from typing import Any

from ..api import keys
from ..api.kinds import ASGI_SERVICE, Kind
from ..kube.api import Body, KubeApi
from ..reconcile.observe import relevant, trimmed

Key = tuple[str, str, str]  # (kind, namespace, name)


@dataclass(frozen=True, slots=True)
class _Entry:
    blob: bytes  # zlib(compact JSON of observe.trimmed(body))
    digest: bytes  # of observe.relevant(body) without its status
    status_digest: bytes  # of its status part
    version: int | None
    owner: str  # the AsgiService it belongs to (itself, for an AsgiService)


@dataclass(frozen=True)
class Wake:
    """An AsgiService to reconcile because one of its objects changed. `settle`: only the status another
    controller writes changed (a Deployment's rollout progress), which comes in quick series: waiting a moment
    lets one reconcile (and one status write) cover the series."""

    owner: str
    settle: bool = False


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _digest(value: Any) -> bytes:
    return hashlib.blake2b(_compact(value), digest_size=16).digest()


def _version(body: Body) -> int | None:
    """resourceVersions are opaque in principle and etcd revisions in practice: compared only when numeric."""
    value = body.get("metadata", {}).get("resourceVersion")
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _owner(body: Body) -> str | None:
    meta = body.get("metadata", {})
    if body.get("kind") == ASGI_SERVICE.kind:
        return str(meta["name"]) if meta.get("name") else None
    value = (meta.get("labels") or {}).get(keys.LABEL_NAME)
    return str(value) if value is not None else None


class Store:
    def __init__(self, kinds: tuple[Kind, ...]) -> None:
        self.kinds = {(k.api_version, k.kind) for k in (ASGI_SERVICE, *kinds)}
        self.unlisted: set[tuple[str, str]] = set()  # kinds the initial LIST was refused for
        self._entries: dict[Key, _Entry] = {}
        self._lock = threading.Lock()

    def holds(self, kind: Kind) -> bool:
        """Is this kind kept here? (Others, e.g. the user's own HTTPRoute, are read from the API.)"""
        key = (kind.api_version, kind.kind)
        return key in self.kinds and key not in self.unlisted

    def names(self, kind: Kind) -> list[tuple[str, str]]:
        """(namespace, name) of every object of a kind kept here."""
        with self._lock:
            return [(ns, name) for k, ns, name in self._entries if k == kind.kind]

    def absent(
        self, kind: Kind, namespace: str | None, listed: set[tuple[str, str]], version: str
    ) -> list[tuple[str, str]]:
        """After a LIST of `kind` (in `namespace`, or all) at `version`: (namespace, name) of what is kept here but
        was not listed, so was deleted meanwhile. An entry newer than the list (the operator's own write since)
        is not: the watch from that version brings its news."""
        limit = int(version) if version.isdigit() else None
        with self._lock:
            return [
                (ns, name)
                for (k, ns, name), entry in self._entries.items()
                if k == kind.kind
                and (namespace is None or ns == namespace)
                and (ns, name) not in listed
                and (limit is None or entry.version is None or entry.version <= limit)
            ]

    def put(self, body: Body) -> Wake | None:
        """Keep the newest version of an object. Returns the AsgiService to wake when the change matters to it
        (what a decision depends on changed), else None. An object that loses the asgi.dev/name label is no
        child of ours any more: it is dropped, and its former owner woken."""
        kind, meta = str(body.get("kind", "")), body.get("metadata", {})
        key = (kind, str(meta.get("namespace", "")), str(meta.get("name", "")))
        owner = _owner(body)
        if owner is None:
            with self._lock:
                gone = self._entries.pop(key, None)
            return Wake(gone.owner) if gone is not None else None
        version = _version(body)
        with self._lock:
            same = self._entries.get(key)
        if same is not None and version is not None and same.version == version:
            return None  # the very version kept already (a relist, or the echo of the operator's own write)
        view = relevant(kind, body)
        status_digest = _digest(view.pop("status", None))
        entry = _Entry(zlib.compress(_compact(trimmed(kind, body)), 1), _digest(view), status_digest, version, owner)
        with self._lock:
            old = self._entries.get(key)
            if old is not None and version is not None and old.version is not None and version < old.version:
                return None  # a delayed event older than what the operator wrote itself
            self._entries[key] = entry
        if old is None or old.digest != entry.digest:
            return Wake(owner)
        return Wake(owner, settle=True) if old.status_digest != status_digest else None

    def remove(self, kind: str, namespace: str, name: str) -> str | None:
        """Forget a deleted object; the name of the AsgiService it belonged to (to wake), if it was ours."""
        with self._lock:
            entry = self._entries.pop((kind, namespace, name), None)
        return entry.owner if entry else None

    def get(self, kind: Kind, namespace: str, name: str) -> Body | None:
        with self._lock:
            entry = self._entries.get((kind.kind, namespace, name))
        if entry is None:
            return None
        body: Body = json.loads(zlib.decompress(entry.blob))
        return body

    def stats(self) -> tuple[int, int]:
        """(objects, bytes they take here, compressed): for the operator's metrics and the benchmark."""
        with self._lock:
            entries = list(self._entries.values())
        return len(entries), sum(len(e.blob) + len(e.digest) for e in entries)


class Reads:
    """Reads for a reconcile: from the store for every kind it keeps, from the API server for the rest."""

    def __init__(self, store: Store, api: KubeApi) -> None:
        self.store, self.api = store, api

    def get(self, kind: Kind, namespace: str, name: str) -> Body | None:
        if self.store.holds(kind):
            return self.store.get(kind, namespace, name)
        return self.api.get(kind, namespace, name)

    def wrote(self, body: Body) -> None:
        """The API server's answer to one of the operator's own writes (write-through)."""
        if (body.get("apiVersion"), body.get("kind")) in self.store.kinds:
            self.store.put(body)

    def deleted(self, kind: Kind, namespace: str, name: str) -> None:
        self.store.remove(kind.kind, namespace, name)
