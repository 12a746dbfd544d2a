"""The only package that talks to the Kubernetes API; this module holds its verbs.

A thin, synchronous REST layer over the official client's transport (kube.transport: connection pooling, auth,
TLS from kubeconfig or the in-cluster service account, as kube.config sets them up): server-side apply under one
field manager, reads, merge patches of status, deletes with a UID precondition, and typed errors carrying the
server's own message. Callers on the event loop run it in a thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any, Final

from kubernetes import client

from ..api import keys
from ..api.kinds import Kind
from .config import CONFIG_ERRORS, contexts, current_namespace, load_client
from .transport import TRANSPORT_ERRORS, ApiError, ApiUnreachable, Body, RateLimiter, Transport

__all__ = [
    "APPLY_CONTENT_TYPE",
    "CONFIG_ERRORS",
    "JSON_PATCH",
    "MERGE_PATCH",
    "TRANSPORT_ERRORS",
    "ApiError",
    "ApiUnreachable",
    "Body",
    "KubeApi",
    "Listing",
    "RateLimiter",
    "contexts",
    "current_namespace",
    "load_client",
]

APPLY_CONTENT_TYPE: Final = "application/apply-patch+yaml"
MERGE_PATCH: Final = "application/merge-patch+json"
JSON_PATCH: Final = "application/json-patch+json"


class Listing:
    """One LIST of a kind, page by page (`limit` and `continue`), iterated once. Every page is read at the
    version of the first one (a consistent snapshot); `resource_version` is that version once the first page is
    read: a watch from it misses nothing that changed after the list."""

    def __init__(
        self,
        api: KubeApi,
        kind: Kind,
        namespace: str | None,
        label_selector: str | None = None,
        page: int = 250,
        *,
        field_selector: str | None = None,
    ) -> None:
        self.api, self.kind, self.namespace, self.page = api, kind, namespace, page
        self.label_selector, self.field_selector = label_selector, field_selector
        self.resource_version = ""

    def __iter__(self) -> Iterator[Body]:
        token = ""
        while True:
            query = [("limit", str(self.page))]
            if self.label_selector:
                query.append(("labelSelector", self.label_selector))
            if self.field_selector:
                query.append(("fieldSelector", self.field_selector))
            if token:
                query.append(("continue", token))
            out = self.api.request("GET", self.kind.path(self.namespace), query=query) or {}
            meta = out.get("metadata") or {}
            self.resource_version = self.resource_version or str(meta.get("resourceVersion") or "")
            for item in out.get("items", []):
                yield {"apiVersion": self.kind.api_version, "kind": self.kind.kind, **item}
            token = meta.get("continue") or ""
            if not token:
                return


class KubeApi(Transport):
    """Synchronous, typed access to the few API operations the operator needs."""

    def __init__(
        self,
        api_client: client.ApiClient,
        timeout: float = 30.0,
        discovery_ttl: float = 300.0,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(api_client, timeout, limiter)
        self._discovery_ttl = discovery_ttl
        self._discovered: dict[str, tuple[frozenset[str], float]] = {}  # api version -> (plurals, when)
        self._lookups: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- operations
    def get(self, kind: Kind, namespace: str, name: str) -> Body | None:
        try:
            return self.request("GET", kind.path(namespace, name))
        except ApiError as e:
            if e.not_found:
                return None
            raise

    def list(
        self,
        kind: Kind,
        namespace: str | None,
        label_selector: str | None = None,
        page: int = 250,
        *,
        field_selector: str | None = None,
    ) -> Iterator[Body]:
        """Every object of a kind (in one namespace, or all), with the kind set on each item, fetched in pages
        so that a large list never sits in memory whole."""
        return iter(Listing(self, kind, namespace, label_selector, page, field_selector=field_selector))

    def apply(
        self, kind: Kind, manifest: Body, *, field_manager: str = keys.FIELD_MANAGER, dry_run: bool = False
    ) -> Body:
        """Server-side apply: the operator owns exactly the fields in `manifest` and nothing else."""
        meta = manifest["metadata"]
        query = [("fieldManager", field_manager), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        out = self.request(
            "PATCH",
            kind.path(meta.get("namespace"), meta["name"]),
            query=query,
            # serialized here, as UTF-8: the client's json.dumps escapes a character beyond U+FFFF (an emoji in
            # an annotation or env value) as a surrogate pair, which the API server's YAML decoder refuses
            body=json.dumps(manifest, ensure_ascii=False).encode(),
            content_type=APPLY_CONTENT_TYPE,
        )
        assert out is not None
        return out

    def patch(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        patch: Any,
        *,
        content_type: str = MERGE_PATCH,
        subresource: str | None = None,
    ) -> Body:
        out = self.request("PATCH", kind.path(namespace, name, subresource), body=patch, content_type=content_type)
        assert out is not None
        return out

    def replace_status(self, kind: Kind, body: Body) -> Body:
        """PUT the status subresource: only `.status` is taken, and only if the object's resourceVersion in `body`
        is still the live one (else 409 Conflict)."""
        meta = body["metadata"]
        out = self.request("PUT", kind.path(meta["namespace"], meta["name"], "status"), body=body)
        assert out is not None
        return out

    def create(self, kind: Kind, namespace: str, body: Body) -> Body:
        out = self.request("POST", kind.path(namespace), body=body)
        assert out is not None
        return out

    def delete(self, kind: Kind, namespace: str, name: str, *, uid: str | None = None) -> bool:
        """Delete (with a UID precondition, so a re-created object of the same name is never hit)."""
        body: Body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            self.request("DELETE", kind.path(namespace, name), body=body)
        except ApiError as e:
            if e.not_found:
                return False
            raise
        return True

    def served(self, kind: Kind) -> bool:
        """Is this kind's API served (its CRD installed)? A kind once found is remembered until `forget_discovery`
        (the operator calls it when a CRD changes); a missing one is asked again after `discovery_ttl`."""
        with self._lock:
            lookup = self._lookups.setdefault(kind.api_version, threading.Lock())
        with lookup:  # one request per API version, however many reconciles ask at once
            now = time.monotonic()
            with self._lock:
                hit = self._discovered.get(kind.api_version)
            if hit and (kind.plural in hit[0] or now - hit[1] < self._discovery_ttl):
                return kind.plural in hit[0]
            try:
                resources = self.request("GET", kind.path().rsplit("/", 1)[0]) or {}
                plurals = frozenset(str(r.get("name")) for r in resources.get("resources", []))
            except ApiError as e:
                if not e.not_found:
                    raise
                plurals = frozenset()
            with self._lock:
                self._discovered[kind.api_version] = (plurals, now)
            return kind.plural in plurals

    def forget_discovery(self, group: str) -> None:
        """A CRD of this API group was added, changed or removed: ask again at the next use."""
        with self._lock:
            for api_version in [v for v in self._discovered if v.rpartition("/")[0] == group]:
                del self._discovered[api_version]
