"""The only module that talks to Prometheus.

Every query has a timeout (for the whole answer, not each read) and is sent once (no hidden retries: the rollout
asks again at its next interval). Sample values come back as floats exactly as Prometheus gave them: NaN and +Inf
included, because they mean different things to the analysis (no observations vs. beyond the largest bucket); a
series that is absent is simply not in the answer. Any failure to get an answer raises, never an empty answer,
and the failures a person fixes differently are told apart:

- `PrometheusUnreachable`: no answer (connection refused, timeout, 5xx, a body that is not Prometheus JSON), or
  not all of it within the timeout;
- `QueryRejected`: Prometheus answered and refused the query (HTTP 400/422), with its own error message;
- `AuthRejected`: Prometheus (or the gateway in front of it) refused the credentials (HTTP 401/403), or its
  TLS certificate could not be verified with the CA and server name given;
- `UnreadableAnswer`: an answer that cannot be read unambiguously (prom.answer): another result type than a
  vector, a key or a label set twice, or more than `answer.MAX_ANSWER_BYTES` (refused unread).

Messages name the endpoint (scheme://host:port/path, never the query string nor credentials) and what went
wrong in a few words ("connection refused", "HTTP 503 (...)", "timed out: no answer within 5s"); the query
itself, 2 KB of PromQL, goes to the log at DEBUG level only.

Credentials (`Auth`) are secret: they go into the HTTP request and nowhere else, never into a message, a repr
or a log line; clients are pooled per (address, timeout, a digest of the credentials), so two AsgiServices
with different credentials never share one, and a rotated Secret gets a new client.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import logging
import re
import socket
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import requests
import urllib3
from prometheus_api_client import PrometheusConnect
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .answer import MAX_ANSWER_BYTES, NotPrometheus, Series, Unreadable, prometheus_error, read_vector, too_large

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

NO_RETRY: Final = Retry(total=0, raise_on_status=False)
_SHOWN: Final = 300  # characters of Prometheus' own error message repeated in ours

log = logging.getLogger(__name__)


class PrometheusError(Exception):
    """Prometheus gave no usable answer."""


class PrometheusUnreachable(PrometheusError):
    """No answer: connection refused, timeout, a 5xx, or a body that is not Prometheus' JSON."""


class QueryRejected(PrometheusError):
    """Prometheus answered and refused the query (bad PromQL, a limit, an unknown function)."""


class AuthRejected(PrometheusError):
    """The credentials were refused (401/403), or the server's certificate failed verification."""


class UnreadableAnswer(PrometheusError):
    """An answer that cannot be read unambiguously; `what` names what came back, `where` whom it came from."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")
        self.where, self.what = where, what


class _TooLarge(Exception):
    """A 200 answer larger than MAX_ANSWER_BYTES: `size` bytes (at least, when not `exact`)."""

    def __init__(self, size: int, exact: bool) -> None:
        super().__init__(too_large(size, exact))


@dataclass(frozen=True, repr=False)
class Auth:
    """Resolved credentials and TLS settings for one Prometheus. The values are secret: `repr` names only what
    is set."""

    bearer_token: str | None = None
    basic: tuple[str, str] | None = None  # (username, password)
    headers: tuple[tuple[str, str], ...] = ()
    ca_pem: str | None = None  # trust only these CAs
    server_name: str | None = None  # SNI and the name the certificate must carry

    def __repr__(self) -> str:
        parts = [
            "bearer_token=<redacted>" if self.bearer_token is not None else "",
            "basic=<redacted>" if self.basic is not None else "",
            f"headers={[name for name, _ in self.headers]}" if self.headers else "",
            "ca_pem=<set>" if self.ca_pem is not None else "",
            f"server_name={self.server_name!r}" if self.server_name is not None else "",
        ]
        return "Auth(" + ", ".join(p for p in parts if p) + ")"

    __str__ = __repr__

    def digest(self) -> str:
        """A one-way digest of everything in it: the pool's key, never the secret itself."""
        text = json.dumps([self.bearer_token, self.basic, self.headers, self.ca_pem, self.server_name])
        return hashlib.sha256(text.encode()).hexdigest()

    def request_headers(self) -> dict[str, str]:
        out = dict(self.headers)
        if self.bearer_token is not None:
            out["Authorization"] = f"Bearer {self.bearer_token}"
        return out


NO_AUTH: Final = Auth()


class _Adapter(HTTPAdapter):
    """No retries; the whole answer within `deadline` seconds: requests' timeout bounds each read, not the
    answer, and a server that sends a byte a second would hold a reconcile for as long as it likes (the deadline
    is checked between reads, so an answer takes at most deadline + one read timeout). With a CA or a server
    name: verifies the server against the given CAs only (not the system's), and/or under another server name
    (SNI and the hostname check; urllib3 takes both from `server_hostname`)."""

    def __init__(self, deadline: float, ca_pem: str | None = None, server_name: str | None = None) -> None:
        self._deadline = deadline
        self._tls: dict[str, str] = {}
        if ca_pem is not None:
            self._tls["ca_cert_data"] = ca_pem
        if server_name is not None:
            self._tls["server_hostname"] = server_name
        super().__init__(max_retries=NO_RETRY)

    def send(  # noqa: PLR0917 (requests.adapters.HTTPAdapter.send's signature)
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        started = time.monotonic()
        response = super().send(request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        if stream:
            return response
        try:
            body = _body(response, started + self._deadline)
        except BaseException:
            response.close()
            raise
        # what Session.send then reads as response.content (requests' own attributes for a body read)
        response.__dict__.update(_content=body, _content_consumed=True)
        response.raw.release_conn()
        return response

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **{**pool_kwargs, **self._tls})

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if "ca_cert_data" in self._tls:  # not also $REQUESTS_CA_BUNDLE's CAs, which requests adds to verify=True
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
        return host_params, pool_kwargs


class TooSlow(requests.exceptions.ReadTimeout):
    """Every read came within the timeout, the whole answer did not."""


def _body(response: requests.Response, deadline: float) -> bytes:
    """The body, all of it by `deadline` (time.monotonic). A 200 answer is refused beyond MAX_ANSWER_BYTES
    (unread when its Content-Length says so); of any other status only that much is kept, for the message (the
    connection is closed: the rest stays unread)."""
    answer = response.status_code == 200
    length = response.headers.get("Content-Length", "")
    if answer and length.isdigit() and int(length) > MAX_ANSWER_BYTES:
        raise _TooLarge(int(length), exact=True)
    chunks: list[bytes] = []
    read = 0
    while chunk := _read(response, deadline):
        read += len(chunk)
        if read > MAX_ANSWER_BYTES:
            if answer:
                raise _TooLarge(read, exact=False)
            response.close()
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _read(response: requests.Response, deadline: float) -> bytes:
    """What arrived of the body (at most one read timeout's wait), with urllib3's errors as requests' own; past
    the deadline (time.monotonic), a timeout."""
    if time.monotonic() > deadline:
        raise TooSlow("no complete answer within the timeout (it came in too slowly)")
    try:
        return bytes(response.raw.read1(65536, decode_content=True))
    except urllib3.exceptions.ReadTimeoutError as e:
        raise requests.exceptions.ReadTimeout(str(e), request=response.request) from e
    except urllib3.exceptions.DecodeError as e:
        raise requests.exceptions.ContentDecodingError(str(e), request=response.request) from e
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.HTTPError, OSError) as e:
        raise requests.exceptions.ConnectionError(str(e), request=response.request) from e


class Prometheus:
    """One Prometheus: prometheus-api-client's PrometheusConnect holds the session (headers, basic auth, no
    retries) and the base URL; the query itself is sent on that session and its body read here, because
    `custom_query` returns only the answer's `result` (its resultType lost: a scalar would read as a vector)
    and parses the JSON keeping the last of two equal keys."""

    def __init__(self, url: str, timeout: float, auth: Auth = NO_AUTH) -> None:
        self.url = url
        self.timeout = timeout
        self._session = requests.Session()
        self._client = PrometheusConnect(
            url=url,
            headers=auth.request_headers() or None,
            auth=auth.basic,
            session=self._session,
            retry=NO_RETRY,
            timeout=timeout,
        )
        # replaces the adapter mounted above
        self._session.mount(url, _Adapter(timeout, auth.ca_pem, auth.server_name))
        self.where = endpoint(f"{self._client.url}/api/v1/query")

    def close(self) -> None:
        self._client.close()

    def query(self, query: str, at: datetime | None = None) -> list[Series]:
        """Run an instant query (now, or evaluated at `at`); every series of the resulting vector."""
        params = {"query": query, **({"time": f"{at.timestamp():.3f}"} if at is not None else {})}
        try:
            response = self._session.get(
                f"{self._client.url}/api/v1/query",
                params=params,
                headers=self._client.headers,
                auth=self._client.auth,
                timeout=self.timeout,
            )
        except _TooLarge as e:
            raise UnreadableAnswer(self.where, str(e)) from None
        except requests.exceptions.SSLError as e:
            raise AuthRejected(f"{self.where}: TLS verification failed: {_tls_reason(e)}") from None
        except (requests.exceptions.InvalidHeader, UnicodeEncodeError):
            # requests' message quotes the header's value: never repeat it
            raise AuthRejected(
                f"{self.where}: a credential or header value is not valid in HTTP (a control character, or one "
                "outside Latin-1?)"
            ) from None
        except requests.RequestException as e:
            reason = essence(e, self.timeout)
            log.debug("no answer from %s (%s: %s) to the query %s", self.where, reason, e, query)
            raise PrometheusUnreachable(f"{self.where}: {reason}") from None
        except (ValueError, TypeError) as e:  # http.client refusing what it was given
            log.debug("no request to %s (%s) for the query %s", self.where, type(e).__name__, query)
            raise PrometheusUnreachable(f"{self.where}: the request could not be sent ({type(e).__name__})") from None
        return self._read(response, query)

    def _read(self, response: requests.Response, query: str) -> list[Series]:
        status, body = response.status_code, response.content
        if status in (401, 403):  # the body is not repeated: it could echo what was sent
            raise AuthRejected(f"{self.where} answered HTTP {status}: the credentials were refused")
        said = prometheus_error(body)
        if status in (400, 422):
            log.debug("%s rejected the query %s", self.where, query)
            shown = said or body[:_SHOWN].decode(errors="replace")
            raise QueryRejected(f"{self.where} rejected the query: {shown[:_SHOWN]}")
        if status != 200:
            log.debug("%s answered HTTP %s to the query %s", self.where, status, query)
            raise PrometheusUnreachable(f"{self.where}: HTTP {status}" + (f" ({said[:_SHOWN]})" if said else ""))
        try:
            return read_vector(body)
        except NotPrometheus as e:
            log.debug("%s gave %s to the query %s", self.where, e, query)
            raise PrometheusUnreachable(f"{self.where}: {e}") from None
        except Unreadable as e:
            log.debug("%s gave %s to the query %s", self.where, e, query)
            raise UnreadableAnswer(self.where, str(e)) from None


def endpoint(url: str) -> str:
    """An address for a message: scheme://host:port/path, without credentials, query string or fragment."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _causes(error: BaseException) -> list[BaseException]:
    """The error and what it wraps: requests' ConnectionError holds urllib3's MaxRetryError, whose `reason` holds
    a NewConnectionError caused by the socket's ConnectionRefusedError, or a ProtocolError whose args hold it."""
    out: list[BaseException] = []
    todo = [error]
    while todo and len(out) < 12:
        e = todo.pop(0)
        if any(e is seen for seen in out):
            continue
        out.append(e)
        reason = getattr(e, "reason", None)
        todo += [x for x in (e.__cause__, e.__context__, reason, *e.args) if isinstance(x, BaseException)]
    return out


_ERRNO: Final = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "network unreachable",
}


def _is(*kinds: type[BaseException]) -> Callable[[BaseException], bool]:
    return lambda e: isinstance(e, kinds)


def _errno(number: int) -> Callable[[BaseException], bool]:
    return lambda e: isinstance(e, OSError) and e.errno == number


def _connect_timeout(e: BaseException) -> bool:
    # urllib3's NewConnectionError (a refused or failed connection) is a ConnectTimeoutError too
    return isinstance(e, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
        e, urllib3.exceptions.NewConnectionError
    )


def essence(error: requests.RequestException, timeout: float) -> str:
    """What went wrong, in a few words and without the URL requests' messages repeat (2 KB of query)."""
    if isinstance(error, TooSlow):
        return f"no complete answer within the timeout ({timeout:g}s): it came in too slowly"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return f"timed out: no connection within {timeout:g}s"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return f"timed out: no answer within {timeout:g}s"
    host = urllib.parse.urlsplit(str(getattr(error.request, "url", "") or "")).hostname or ""
    # the most telling first: the socket's error, then urllib3's
    known: list[tuple[Callable[[BaseException], bool], str]] = [
        (_is(socket.gaierror, urllib3.exceptions.NameResolutionError), f"cannot resolve the host name {host}".strip()),
        *((_errno(number), words) for number, words in _ERRNO.items()),
        (_is(http.client.RemoteDisconnected), "the connection was closed without an answer"),
        (_is(http.client.IncompleteRead, requests.exceptions.ChunkedEncodingError), "the answer broke off"),
        (_is(requests.exceptions.ContentDecodingError), "an answer whose Content-Encoding cannot be decoded"),
        # without retries urllib3 wraps a timeout in MaxRetryError, which requests turns into a ConnectionError
        (_is(urllib3.exceptions.ReadTimeoutError), f"timed out: no answer within {timeout:g}s"),
        (_connect_timeout, f"timed out: no connection within {timeout:g}s"),
        (_is(TimeoutError, urllib3.exceptions.TimeoutError), f"timed out after {timeout:g}s"),
    ]
    causes = _causes(error)
    for test, words in known:
        if any(test(e) for e in causes):
            return words
    last = causes[-1]
    text = re.sub(r"\S*\?\S*|https?://\S+|url: \S+", "...", str(last))  # no URL, no query string
    return f"{type(last).__name__}: {text}"[:160]


def _tls_reason(error: requests.exceptions.SSLError) -> str:
    """The useful end of requests' nested SSL message ("certificate verify failed: ...")."""
    text = str(error)
    found = re.search(r"\[SSL[^\]]*\]\s*(.*?)\s*\(_ssl\.c", text)
    return found.group(1).strip() if found else text[-300:]


class PrometheusPool:
    """One client per (address, timeout, credentials digest), created on first use; the least recently used are
    closed beyond `size` (a rotated Secret leaves its old client behind)."""

    def __init__(self, size: int = 64) -> None:
        self._clients: OrderedDict[tuple[str, float, str], Prometheus] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, url: str, timeout: float, auth: Auth = NO_AUTH) -> Prometheus:
        with self._lock:
            key = (url.rstrip("/"), timeout, auth.digest())
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = Prometheus(key[0], timeout, auth)
            self._clients.move_to_end(key)
            while len(self._clients) > self._size:
                _, old = self._clients.popitem(last=False)
                old.close()
            return client
