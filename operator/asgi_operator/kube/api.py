"""The only module that talks to the Kubernetes API.

A thin, synchronous REST layer over the official client's transport (connection pooling, auth, TLS from
kubeconfig or the in-cluster service account): server-side apply under one field manager, reads, merge
patches of status, deletes with a UID precondition, and typed errors carrying the server's own message.
Callers on the event loop run it in a thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any, Final

import urllib3
from kubernetes import client, config

from ..api import keys
from ..api.kinds import Kind

Body = dict[str, Any]
APPLY_CONTENT_TYPE: Final = "application/apply-patch+yaml"
MERGE_PATCH: Final = "application/merge-patch+json"
JSON_PATCH: Final = "application/json-patch+json"


NAMESPACE_TERMINATING_CAUSE: Final = "NamespaceTerminating"


class ApiError(Exception):
    """A non-2xx answer, with the API server's own message (what a person needs to fix it)."""

    def __init__(
        self, status: int, reason: str, message: str, method: str, path: str, *, causes: tuple[str, ...] = ()
    ) -> None:
        super().__init__(f"{method} {path}: {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.causes = causes  # details.causes[].reason of the API server's Status

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def already_exists(self) -> bool:
        """A create of a name that exists: 409 with the reason AlreadyExists (a 409 Conflict says otherwise)."""
        return self.status == 409 and self.reason == "AlreadyExists"

    @property
    def forbidden(self) -> bool:
        return self.status == 403

    @property
    def namespace_terminating(self) -> bool:
        """The namespace is being deleted: nothing new may be created in it (NamespaceLifecycle admission)."""
        return self.status == 403 and (
            NAMESPACE_TERMINATING_CAUSE in self.causes or "because it is being terminated" in self.message
        )

    @property
    def rbac_denied(self) -> bool:
        """A 403 from authorization (`User "x" cannot create resource ...`), not from admission."""
        return self.status == 403 and " cannot " in self.message and not self.namespace_terminating


class ApiUnreachable(ConnectionError):
    """No HTTP answer at all: the connection was refused, reset or timed out (the API server restarting, a
    network partition). Says nothing about the request itself; the same request may succeed a moment later."""

    def __init__(self, method: str, path: str, cause: BaseException) -> None:
        super().__init__(f"{method} {path}: the API server could not be reached: {_transport_message(cause)}")


def _transport_message(cause: BaseException) -> str:
    """The innermost reason of a transport failure, in one line (urllib3 nests them: MaxRetryError wraps
    NewConnectionError wraps ConnectionRefusedError)."""
    inner: BaseException = cause
    while True:
        nested = getattr(inner, "reason", None)
        if not isinstance(nested, BaseException):
            break
        inner = nested
    text = str(inner).splitlines()[0] if str(inner) else type(inner).__name__
    return text[:300]


def _retry_after(header: str | None) -> float:
    try:
        seconds = float(header) if header else 1.0
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.1), LONGEST_RETRY_AFTER)


# What a caller that talks to a person reports rather than crashes on: no usable kubeconfig (CONFIG_ERRORS), or
# no HTTP answer at all (TRANSPORT_ERRORS: refused, reset, timed out; an HTTP answer is an ApiError). KubeApi raises
# ApiUnreachable (an OSError) for these; the client raises ApiException with status 0 for a TLS failure.
CONFIG_ERRORS: Final = (config.ConfigException, FileNotFoundError)
TRANSPORT_ERRORS: Final = (urllib3.exceptions.HTTPError, OSError)
_NO_ANSWER: Final = (*TRANSPORT_ERRORS, client.ApiException)


def load_client(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    connections: int | None = None,
    transport_retries: bool = True,
) -> client.ApiClient:
    """An ApiClient from the given kubeconfig, $KUBECONFIG / ~/.kube/config, or the in-cluster account. With
    `context`, that context of the kubeconfig (never the in-cluster account). `connections`: how many it keeps
    open at once (default: 5 per CPU); a request beyond that opens a connection and closes it afterwards.
    `transport_retries=False`: a refused or broken connection fails at once (urllib3 otherwise tries 3 times more,
    logging each), for a caller that waits for the server its own way."""
    configuration = client.Configuration()
    if connections is not None:
        configuration.connection_pool_maxsize = connections
    if not transport_retries:
        configuration.retries = False
    if kubeconfig or context:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
    else:
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            config.load_kube_config(client_configuration=configuration)
    return client.ApiClient(configuration)


def current_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace of the kubeconfig's current context (or of `context`), as kubectl picks it ('default' when
    unset)."""
    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
    except (config.ConfigException, FileNotFoundError, TypeError):
        return "default"
    if context:
        current = next((c for c in contexts or [] if c.get("name") == context), None)
    return str((current or {}).get("context", {}).get("namespace") or "default")


def contexts(kubeconfig: str | None = None) -> list[str]:
    """The names of the kubeconfig's contexts (for shell completion; none when it cannot be read)."""
    try:
        found, _ = config.list_kube_config_contexts(config_file=kubeconfig)
    except (config.ConfigException, FileNotFoundError, TypeError):
        return []
    return [str(c.get("name")) for c in found or [] if c.get("name")]


def _api_error(status: int, reason: str, data: bytes, method: str, path: str) -> ApiError:
    """The ApiError of a non-2xx answer, with the server's Status message when the body is one."""
    message = data.decode(errors="replace") if data else ""
    causes: tuple[str, ...] = ()
    try:
        parsed = json.loads(message)
        message, reason = parsed.get("message", message), parsed.get("reason", reason)
        details = parsed.get("details") or {}
        causes = tuple(str(c.get("reason", "")) for c in details.get("causes") or [])
    except (ValueError, AttributeError):
        pass
    return ApiError(status, reason, message, method, path, causes=causes)


class RateLimiter:
    """A token bucket shared by every request of the process (client-go's QPS and burst): bursts of reconciles
    never hammer the API server. 0 QPS: unlimited."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps, self.burst = qps, max(1, burst)
        self._tokens = float(self.burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if self.qps <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.qps)
            self._at = now
            self._tokens -= 1
            wait = -self._tokens / self.qps if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


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


# 429 Too Many Requests (API Priority and Fairness): waited out this many times, never longer than this each
RETRIES_ON_429: Final = 3
LONGEST_RETRY_AFTER: Final = 10.0


class KubeApi:
    """Synchronous, typed access to the few API operations the operator needs."""

    def __init__(
        self,
        api_client: client.ApiClient,
        timeout: float = 30.0,
        discovery_ttl: float = 300.0,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._api = api_client
        self._timeout = timeout
        self._discovery_ttl = discovery_ttl
        self._discovered: dict[str, tuple[frozenset[str], float]] = {}  # api version -> (plurals, when)
        self._lookups: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._limiter = limiter or RateLimiter(0, 1)

    # ---------------------------------------------------------------- transport
    def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Body | None:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        serialized = self._api.param_serialize(
            method,
            path,
            query_params=query or [],
            header_params=headers,
            body=None,
            auth_settings=["BearerToken"],
        )
        url, sent_headers = serialized[1], {**serialized[2], "Content-Type": content_type}
        for attempt in range(RETRIES_ON_429 + 1):
            self._limiter.acquire()
            try:
                # the transport serializes dicts and lists itself (and picks the patch type from the body's shape)
                response = self._api.call_api(
                    method, url, header_params=sent_headers, body=body, _request_timeout=self._timeout
                )
                data = response.read()
            except _NO_ANSWER as e:
                raise ApiUnreachable(method, path, e) from e
            if response.status != 429 or attempt == RETRIES_ON_429:
                break
            time.sleep(_retry_after(response.getheader("Retry-After")))
        if not 200 <= response.status < 300:
            raise _api_error(response.status, response.reason or "", data, method, path)
        return json.loads(data) if data else None

    def reachable(self) -> bool:
        """Does the API server answer, and say it is ready? (`/readyz`, readable by anyone authenticated.)"""
        try:
            self.request("GET", "/readyz")
        except (ApiError, ApiUnreachable):
            return False
        except ValueError:  # a 2xx answered "ok": not JSON, and ready
            return True
        return True

    def watch(
        self,
        kind: Kind,
        namespace: str | None,
        *,
        name: str | None = None,
        label_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
    ) -> Generator[Body]:
        """The API's watch (`?watch=true`): its events as they arrive, `{"type": ADDED | MODIFIED | DELETED |
        BOOKMARK | ERROR, "object": ...}`, until the server ends the watch after `timeout_seconds`. With `name`,
        only that object (a field selector on metadata.name); with `label_selector`, only the objects it selects;
        with `resource_version`, the changes after it. A version too old for the server ends in an ERROR event
        whose object is a Status with code 410 (Gone): read again and watch from the new version. No answer, or a
        connection broken mid-stream, raises ApiUnreachable."""
        path = kind.path(namespace)
        query = [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(max(1, timeout_seconds)))]
        if name:
            query.append(("fieldSelector", f"metadata.name={name}"))
        if label_selector:
            query.append(("labelSelector", label_selector))
        if resource_version:
            query.append(("resourceVersion", resource_version))
        serialized = self._api.param_serialize(
            "GET",
            path,
            query_params=query,
            header_params={"Accept": "application/json"},
            body=None,
            auth_settings=["BearerToken"],
        )
        self._limiter.acquire()
        try:
            # connect as any request; a read may wait the whole watch (the server ends it at timeout_seconds)
            response = self._api.call_api(
                "GET",
                serialized[1],
                header_params=serialized[2],
                _request_timeout=(self._timeout, timeout_seconds + self._timeout),
            )
        except _NO_ANSWER as e:
            raise ApiUnreachable("GET", path, e) from e
        if not 200 <= response.status < 300:
            raise _api_error(response.status, response.reason or "", response.read(), "GET", path)
        stream, finished = response.response, False  # urllib3's response, not read yet: streamed line by line
        try:
            pending = b""
            try:
                for chunk in stream.stream(amt=None, decode_content=True):
                    *lines, pending = (pending + chunk).split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield json.loads(line)
            except _NO_ANSWER as e:  # the connection broke mid-stream (reset, read timeout)
                raise ApiUnreachable("GET", path, e) from e
            if pending.strip():
                yield json.loads(pending)
            finished = True
        finally:
            if not finished:  # left early: the connection is mid-stream, never reused
                stream.close()
            stream.release_conn()

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
