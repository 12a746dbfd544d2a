"""The API client's transport: one request (or one watch stream) over the official client's connection pool, paced
by the process' rate limiter, with 429s waited out, and every failure turned into a typed error that carries the
API server's own message (ApiError) or says there was no answer at all (ApiUnreachable). The verbs built on it
are in kube.api; how the client is configured (kubeconfig, in-cluster) is in kube.config.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Generator
from typing import Any, Final

import urllib3
from kubernetes import client

from ..api.kinds import Kind

Body = dict[str, Any]
NAMESPACE_TERMINATING_CAUSE: Final = "NamespaceTerminating"
# 429 Too Many Requests (API Priority and Fairness): waited out this many times, never longer than this each
RETRIES_ON_429: Final = 3
LONGEST_RETRY_AFTER: Final = 10.0


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


# No HTTP answer at all (refused, reset, timed out; an HTTP answer is an ApiError): what a caller that talks to a
# person reports rather than crashes on. Transport raises ApiUnreachable (an OSError) for these; the client raises
# ApiException with status 0 for a TLS failure.
TRANSPORT_ERRORS: Final = (urllib3.exceptions.HTTPError, OSError)
_NO_ANSWER: Final = (*TRANSPORT_ERRORS, client.ApiException)


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


class Transport:
    """Requests and watches over one ApiClient, each bounded by `timeout` and paced by `limiter`."""

    def __init__(self, api_client: client.ApiClient, timeout: float = 30.0, limiter: RateLimiter | None = None) -> None:
        self._api = api_client
        self._timeout = timeout
        self._limiter = limiter or RateLimiter(0, 1)

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
