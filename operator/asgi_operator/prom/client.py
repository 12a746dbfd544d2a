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
  TLS certificate could not be verified with the CA and server name given.

Credentials (`Auth`) are secret: they go into the HTTP request and nowhere else, never into a message, a repr
or a log line; clients are pooled per (address, timeout, a digest of the credentials), so two AsgiServices
with different credentials never share one, and a rotated Secret gets a new client.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import requests
import urllib3
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

NO_RETRY: Final = Retry(total=0, raise_on_status=False)


class PrometheusError(Exception):
    """Prometheus gave no usable answer."""


class PrometheusUnreachable(PrometheusError):
    """No answer: connection refused, timeout, a 5xx, or a body that is not Prometheus' JSON."""


class QueryRejected(PrometheusError):
    """Prometheus answered and refused the query (bad PromQL, a limit, an unknown function)."""


class AuthRejected(PrometheusError):
    """The credentials were refused (401/403), or the server's certificate failed verification."""


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
        chunks: list[bytes] = []
        try:
            while chunk := _read(response, started + self._deadline):
                chunks.append(chunk)
        except BaseException:
            response.close()
            raise
        # what Session.send then reads as response.content (requests' own attributes for a body read)
        response.__dict__.update(_content=b"".join(chunks), _content_consumed=True)
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


def _read(response: requests.Response, deadline: float) -> bytes:
    """What arrived of the body (at most one read timeout's wait), with urllib3's errors as requests' own; past
    the deadline (time.monotonic), a timeout."""
    if time.monotonic() > deadline:
        raise requests.exceptions.ReadTimeout("no complete answer within the timeout (it came in too slowly)")
    try:
        return bytes(response.raw.read1(65536, decode_content=True))
    except urllib3.exceptions.ReadTimeoutError as e:
        raise requests.exceptions.ReadTimeout(str(e), request=response.request) from e
    except urllib3.exceptions.DecodeError as e:
        raise requests.exceptions.ContentDecodingError(str(e), request=response.request) from e
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.HTTPError, OSError) as e:
        raise requests.exceptions.ConnectionError(str(e), request=response.request) from e


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    value: float  # NaN and +/-Inf as Prometheus returned them


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


_STATUS: Final = re.compile(r"HTTP Status Code (\d+) \((b(?:'.*'|\".*\"))\)\s*$", re.S)


def _status(error: PrometheusApiClientException) -> str | None:
    found = _STATUS.search(str(error))
    return found.group(1) if found else None


def _rejection(error: PrometheusApiClientException) -> str | None:
    """Prometheus' own message for a 400/422 answer; None for any other status. (prometheus-api-client
    raises "HTTP Status Code 400 (b'{...,"error":"..."}')": the body is a bytes literal.)"""
    text = str(error)
    found = _STATUS.search(text)
    if found is None or found.group(1) not in ("400", "422"):
        return None
    try:
        body = json.loads(ast.literal_eval(found.group(2)))
        return f"{body.get('errorType', 'error')}: {body['error']}"
    except (ValueError, SyntaxError, KeyError, TypeError, AttributeError):
        return text


class Prometheus:
    def __init__(self, url: str, timeout: float, auth: Auth = NO_AUTH) -> None:
        self.url = url
        session = requests.Session()
        self._client = PrometheusConnect(
            url=url,
            headers=auth.request_headers() or None,
            auth=auth.basic,
            session=session,
            retry=NO_RETRY,
            timeout=timeout,
        )
        session.mount(url, _Adapter(timeout, auth.ca_pem, auth.server_name))  # replaces the adapter mounted above

    def close(self) -> None:
        self._client.close()

    def query(self, query: str, at: datetime | None = None) -> list[Series]:
        """Run an instant query (now, or evaluated at `at`); every series of the resulting vector."""
        params = {"time": f"{at.timestamp():.3f}"} if at is not None else None
        try:
            result = self._client.custom_query(query=query, params=params)
        except PrometheusApiClientException as e:
            status = _status(e)
            if status in ("401", "403"):  # the body is not repeated: it could echo what was sent
                raise AuthRejected(f"{self.url} answered HTTP {status}: the credentials were refused") from None
            rejected = _rejection(e)
            if rejected is not None:
                raise QueryRejected(f"{self.url} rejected the query: {rejected}") from e
            raise PrometheusUnreachable(f"{self.url}: {e}") from e
        except requests.exceptions.SSLError as e:
            raise AuthRejected(f"{self.url}: TLS verification failed: {_tls_reason(e)}") from None
        except requests.exceptions.InvalidHeader:
            # requests' message quotes the header's value: never repeat it
            raise AuthRejected(
                f"{self.url}: a credential or header value is not valid in HTTP (a control character?)"
            ) from None
        except (requests.RequestException, ValueError, KeyError, TypeError) as e:
            raise PrometheusUnreachable(f"{self.url}: {e}") from e
        if not isinstance(result, list):
            raise PrometheusUnreachable(f"{self.url}: the answer is not a vector: {str(result)[:200]}")
        out: list[Series] = []
        for item in result:
            if isinstance(item, dict) and isinstance(item.get("value"), list) and len(item["value"]) == 2:
                labels = item.get("metric") or {}
                out.append(Series({str(k): str(v) for k, v in labels.items()}, _number(item["value"][1])))
        return out


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
