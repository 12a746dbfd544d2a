"""asgi_edge: an ASGI wrapper the asgi-operator puts in front of an app, without changing the app's code.

The operator ships this one file into the pod (a ConfigMap mounted in a directory) and points the server at
`asgi_edge:app`; the user's app is named in ASGI_EDGE_APP. Standard library only (Python 3.9+); Starlette's
CORSMiddleware is used for CORS when it is importable. It must never break an app: a configuration it cannot
use is reported as one JSON line on stderr and the app is served without the wrapper; an app that fails to
import fails exactly as it would without the wrapper (its own exception and traceback, the server exits).

Environment (all optional but ASGI_EDGE_APP; booleans are true/false, on/off, 1/0, yes/no):

  ASGI_EDGE_APP                 the app's import path, `module:attribute` (dotted attributes allowed), as given
                                to the server without the wrapper. Required.
  ASGI_EDGE_FACTORY             true: the attribute is a factory, called once with no arguments to build the app
                                (what `--factory` means to uvicorn and granian; the operator moves that flag
                                here). Default false.
  ASGI_EDGE_APP_DIR             the directory put first on sys.path before importing the app. Default: the
                                working directory, which is what every server imports the app from without the
                                wrapper (uvicorn's `--app-dir` default, gunicorn's `--chdir`, hypercorn and
                                granian: the working directory).
  ASGI_EDGE_REQUEST_ID          on|off, default on. Gives every HTTP request an ID: the incoming header (below)
                                when it is sane (1 to 200 printable ASCII characters, no spaces), else the
                                trace-id of an incoming W3C `traceparent`, else a fresh uuid4 (32 hex digits).
                                The ID is passed to the app in the request header (added when it was missing or
                                replaced), in `scope["state"]["request_id"]` (Starlette: `request.state
                                .request_id`), in the context variable `request_id_var`, and on every log record
                                as the attribute `request_id`; it is echoed in the response header (unless the
                                app set that header itself: then the app's value is logged).
  ASGI_EDGE_REQUEST_ID_HEADER   the header's name, default X-Request-ID.
  ASGI_EDGE_ACCESS_LOG          json|off, default json. One JSON line per HTTP request, written when the response
                                ENDS (last body chunk sent, or the app returned, raised or saw the client go):
                                ts, level, logger, message, method, path, route, status, duration_ms, bytes_out,
                                request_id, trace_id, client_ip, user_agent, http_version (+ error, disconnected
                                when they apply). duration_ms runs from the request's arrival at the wrapper to
                                the last body chunk; for a 5xx the line waits until the app returns, so that the
                                exception Starlette re-raises after sending its 500 is named in `error`.
  ASGI_EDGE_ACCESS_LOG_STREAM   stdout|stderr, default stdout.
  ASGI_EDGE_ACCESS_LOG_SKIP     comma-separated paths never logged (exact match, e.g. /healthz,/metrics).
  ASGI_EDGE_CORS_ALLOW_ORIGINS  comma-separated origins (scheme://host[:port], or * alone). CORS is enforced
                                in the app only when this is set; the other CORS settings are then read:
  ASGI_EDGE_CORS_ALLOW_CREDENTIALS  boolean, default false.
  ASGI_EDGE_CORS_ALLOW_METHODS  comma-separated, default GET (Starlette's default); * for all.
  ASGI_EDGE_CORS_ALLOW_HEADERS  comma-separated request headers allowed beyond the CORS-safelisted ones.
  ASGI_EDGE_CORS_EXPOSE_HEADERS comma-separated response headers the browser may read.
  ASGI_EDGE_CORS_MAX_AGE        seconds a preflight answer may be cached, default 600.

Lifespan and websocket scopes pass through untouched: no ID, no header, no access line (a websocket's
duration is a session's length, not a latency, and would skew anything computed from the access log).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import json
import logging
import os
import re
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, MutableMapping

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
    Sink = Callable[[str], None]

__all__ = ["EdgeConfig", "EdgeMiddleware", "RequestIdFilter", "build", "load_app", "read_config", "request_id_var"]

LOGGER = "asgi_edge"
ACCESS_LOGGER = "asgi_edge.access"
MAX_REQUEST_ID = 200
TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
NO_TRACE = "0" * 32
ORIGIN = re.compile(r"^https?://[^\s/,]+$")
ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY")
SAFELISTED_HEADERS = frozenset({"Accept", "Accept-Language", "Content-Language", "Content-Type"})
_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"0", "false", "off", "no"})

#: the current request's ID, for the app's code and its log records (None outside a request)
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("asgi_edge_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Sets `record.request_id` (for a handler in a dictConfig: {"()": "asgi_edge.RequestIdFilter"}).

    The wrapper also installs a log record factory doing the same, so every record has the attribute anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def _install_record_factory() -> None:
    previous = logging.getLogRecordFactory()
    if getattr(previous, "asgi_edge", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id_var.get()
        return record

    factory.asgi_edge = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


# ---------------------------------------------------------------------------------------------- configuration
class EdgeConfig:
    """What the environment asks for, checked. `read_config` raises ValueError on anything it cannot use."""

    def __init__(
        self,
        request_id_header: str | None = "X-Request-ID",
        access_log: bool = True,
        access_log_stream: str = "stdout",
        access_log_skip: Iterable[str] = (),
        cors: dict[str, Any] | None = None,
    ) -> None:
        self.request_id_header = request_id_header
        self.access_log = access_log
        self.access_log_stream = access_log_stream
        self.access_log_skip = frozenset(access_log_skip)
        self.cors = cors


def _bool(environ: MutableMapping[str, str] | dict[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean (true/false, on/off, 1/0, yes/no)")


def _list(environ: MutableMapping[str, str] | dict[str, str], name: str) -> list[str]:
    return [item.strip() for item in environ.get(name, "").split(",") if item.strip()]


def _token(value: str) -> bool:
    return 0 < len(value) <= MAX_REQUEST_ID and all("!" <= c <= "~" for c in value)


def read_config(environ: MutableMapping[str, str] | dict[str, str]) -> EdgeConfig:
    header: str | None = None
    if _bool(environ, "ASGI_EDGE_REQUEST_ID", True):
        header = environ.get("ASGI_EDGE_REQUEST_ID_HEADER", "").strip() or "X-Request-ID"
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", header):
            raise ValueError(f"ASGI_EDGE_REQUEST_ID_HEADER={header!r} is not an HTTP header name")
    mode = environ.get("ASGI_EDGE_ACCESS_LOG", "json").strip().lower() or "json"
    if mode not in ("json", "off"):
        raise ValueError(f"ASGI_EDGE_ACCESS_LOG={mode!r}: expected json or off")
    stream = environ.get("ASGI_EDGE_ACCESS_LOG_STREAM", "stdout").strip().lower() or "stdout"
    if stream not in ("stdout", "stderr"):
        raise ValueError(f"ASGI_EDGE_ACCESS_LOG_STREAM={stream!r}: expected stdout or stderr")
    cors: dict[str, Any] | None = None
    origins = _list(environ, "ASGI_EDGE_CORS_ALLOW_ORIGINS")
    if origins:
        for origin in origins:
            if origin != "*" and not ORIGIN.match(origin):
                raise ValueError(f"ASGI_EDGE_CORS_ALLOW_ORIGINS: {origin!r} is not an origin (scheme://host[:port])")
        if "*" in origins and len(origins) > 1:
            raise ValueError("ASGI_EDGE_CORS_ALLOW_ORIGINS: * must stand alone")
        raw_age = environ.get("ASGI_EDGE_CORS_MAX_AGE", "600").strip() or "600"
        if not raw_age.isdigit():
            raise ValueError(f"ASGI_EDGE_CORS_MAX_AGE={raw_age!r} is not a number of seconds")
        methods = [m.upper() for m in _list(environ, "ASGI_EDGE_CORS_ALLOW_METHODS")] or ["GET"]
        for method in methods:
            if method != "*" and not re.fullmatch(r"[A-Z]+", method):
                raise ValueError(f"ASGI_EDGE_CORS_ALLOW_METHODS: {method!r} is not an HTTP method")
        cors = {
            "allow_origins": origins,
            "allow_credentials": _bool(environ, "ASGI_EDGE_CORS_ALLOW_CREDENTIALS", False),
            "allow_methods": methods,
            "allow_headers": _list(environ, "ASGI_EDGE_CORS_ALLOW_HEADERS"),
            "expose_headers": _list(environ, "ASGI_EDGE_CORS_EXPOSE_HEADERS"),
            "max_age": int(raw_age),
        }
    return EdgeConfig(
        request_id_header=header,
        access_log=mode == "json",
        access_log_stream=stream,
        access_log_skip=_list(environ, "ASGI_EDGE_ACCESS_LOG_SKIP"),
        cors=cors,
    )


# ---------------------------------------------------------------------------------------------- output
# the last whole second formatted and its text (one tuple, read and replaced whole): strftime once a second
_second: list[tuple[int, str]] = [(-1, "")]


def _now() -> str:
    """RFC 3339, UTC, milliseconds."""
    now = time.time()
    second = int(now)
    cached, text = _second[0]
    if second != cached:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second[0] = (second, text)
    return f"{text}.{int((now - second) * 1000):03d}Z"


_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode  # json.dumps(**options) builds one per call


def _uuid4_hex() -> str:
    """uuid.uuid4().hex, four times faster (no UUID object)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()


def _fd_sink(fd: int) -> Sink:
    """Each line in ONE write() (a pipe keeps writes up to 4 KiB whole, so workers never interleave lines)."""

    def write(line: str) -> None:
        data = (line + "\n").encode("utf-8", "backslashreplace")
        while data:
            data = data[os.write(fd, data) :]

    return write


def _stream_fd(name: str) -> int:
    stream = sys.stdout if name == "stdout" else sys.stderr
    try:
        stream.flush()
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return 1 if name == "stdout" else 2


def _report(message: str, error: BaseException | None = None) -> None:
    """One JSON error line on stderr: the wrapper's own trouble, never the app's."""
    record: dict[str, Any] = {"ts": _now(), "level": "error", "logger": LOGGER, "message": message}
    if error is not None:
        record["error"] = f"{type(error).__name__}: {error}"
    with contextlib.suppress(Exception):  # nowhere left to report to
        _fd_sink(_stream_fd("stderr"))(json.dumps(record))


# ---------------------------------------------------------------------------------------------- request IDs
def _request_id(raw: bytes | None, traceparent: bytes | None) -> tuple[str, str | None, bool]:
    """(request ID, trace ID or None, whether the incoming header was kept as it is)."""
    trace_id = None
    if traceparent is not None:
        match = TRACEPARENT.match(traceparent.decode("latin-1").strip())
        if match and match.group(1) != "ff" and match.group(2) != NO_TRACE:
            trace_id = match.group(2)
    if raw is not None:
        value = raw.decode("latin-1")
        if _token(value):
            return value, trace_id, True
    return trace_id or _uuid4_hex(), trace_id, False


class _Exchange:
    """One HTTP request going through EdgeMiddleware: what the access line needs, gathered as it happens."""

    __slots__ = (
        "complete",
        "disconnected",
        "echo",
        "end",
        "header",
        "logged",
        "middleware",
        "receive_",
        "request_id",
        "scope",
        "send_",
        "sent",
        "start",
        "status",
        "trace_id",
        "user_agent",
    )

    def __init__(self, middleware: EdgeMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
        self.start = time.perf_counter()
        self.end = 0.0
        self.middleware = middleware
        self.receive_ = receive
        self.send_ = send
        self.status: int | None = None
        self.sent = 0
        self.complete = False
        self.disconnected = False
        self.request_id: str | None = None
        self.trace_id: str | None = None
        self.echo = b""
        header = self.header = middleware.header
        raw_id = traceparent = self.user_agent = None
        for name, value in scope.get("headers") or ():
            if name == header:
                raw_id = value
            elif name == b"traceparent":
                traceparent = value
            elif name == b"user-agent":
                self.user_agent = value
        scope = self.scope = dict(scope)
        if header is not None:
            self.request_id, self.trace_id, kept = _request_id(raw_id, traceparent)
            self.echo = self.request_id.encode("latin-1")
            if not kept:
                kept_headers = [(k, v) for k, v in scope.get("headers") or () if k != header]
                scope["headers"] = [*kept_headers, (header, self.echo)]
            state = scope.get("state")
            scope["state"] = {**state, "request_id": self.request_id} if state else {"request_id": self.request_id}
        elif traceparent is not None:
            self.trace_id = _request_id(None, traceparent)[1]
        self.logged = middleware.sink is None or scope.get("path") in middleware.skip

    async def receive(self) -> Message:
        message = await self.receive_()
        if message["type"] == "http.disconnect":
            self.disconnected = True
        return message

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            header = self.header
            if header is not None:
                headers = list(message.get("headers") or ())
                for name, value in headers:
                    if name.lower() == header:
                        self.request_id = value.decode("latin-1")  # the app answered with its own ID
                        break
                else:
                    headers.append((header, self.echo))
                    message["headers"] = headers
        elif kind == "http.response.body":
            self.sent += len(message.get("body", b""))
            if not message.get("more_body", False):
                await self.send_(message)
                self.complete = True
                self.end = time.perf_counter()
                if (self.status or 0) < 500:
                    self.log(None)
                # else: written when the app returns, with the exception Starlette & co. re-raise after their 500
                return
        await self.send_(message)

    async def fail(self) -> None:
        """What the servers answer to an app that raised before responding, with the request ID on it."""
        self.status = 500
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21")]
        if self.header is not None:
            headers.append((self.header, self.echo))
        with contextlib.suppress(Exception):  # the client is gone: the server logs the app's error anyway
            await self.send_({"type": "http.response.start", "status": 500, "headers": headers})
            await self.send_({"type": "http.response.body", "body": b"Internal Server Error"})
            self.sent = 21

    def log(self, error: BaseException | None) -> None:
        if self.logged:
            return
        self.logged = True
        try:
            duration = ((self.end or time.perf_counter()) - self.start) * 1000
            scope = self.scope
            gone = self.disconnected and not self.complete
            status = self.status
            if status is None and error is None and not gone:
                status = 500  # the app returned without answering: the server answers 500
            route = scope.get("route")
            client = scope.get("client")
            method = scope.get("method", "")
            path = scope.get("path", "")
            line: dict[str, Any] = {
                "ts": _now(),
                "level": "error" if error is not None or (status or 0) >= 500 else "info",
                "logger": ACCESS_LOGGER,
                "message": f"{method} {path} {status if status is not None else '-'}",
                "method": method,
                "path": path,
                "route": getattr(route, "path", None) if route is not None else None,
                "status": status,
                "duration_ms": round(duration, 3),
                "bytes_out": self.sent,
                "request_id": self.request_id,
                "trace_id": self.trace_id,
                "client_ip": client[0] if client else None,
                "user_agent": self.user_agent.decode("latin-1") if self.user_agent is not None else None,
                "http_version": scope.get("http_version"),
            }
            if error is not None:
                line["error"] = type(error).__name__
            if gone:
                line["disconnected"] = True
            self.middleware.sink(_encode(line))  # type: ignore[misc]
        except Exception as exc:  # a log line is never worth a failed request
            self.middleware.report_once(exc)


class EdgeMiddleware:
    """Request IDs and the JSON access line around an ASGI app (CORS, when configured, sits inside it)."""

    def __init__(self, app: ASGIApp, config: EdgeConfig, sink: Sink | None = None) -> None:
        self.app = app
        header = config.request_id_header
        self.header = header.lower().encode("latin-1") if header else None
        self.sink: Sink | None = None
        if config.access_log:
            self.sink = sink or _fd_sink(_stream_fd(config.access_log_stream))
        self.skip = config.access_log_skip
        self._reported = False

    def report_once(self, error: Exception) -> None:
        if not self._reported:
            self._reported = True
            _report("asgi_edge could not write an access log line (reported once)", error)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(self, scope, receive, send)
        token = request_id_var.set(exchange.request_id) if exchange.header is not None else None
        error: BaseException | None = None
        try:
            await self.app(exchange.scope, exchange.receive, exchange.send)
        except Exception as exc:
            error = exc
            if exchange.status is None:
                await exchange.fail()
            raise  # the server logs the app's traceback, as without the wrapper
        except BaseException as exc:  # cancelled: the client went away or the server is stopping
            error = exc
            raise
        finally:
            if token is not None:
                request_id_var.reset(token)
            exchange.log(error)


# ---------------------------------------------------------------------------------------------- CORS
class StdlibCors:
    """Starlette's CORSMiddleware (starlette/middleware/cors.py), same answers, standard library only.

    Preflight (OPTIONS with Origin and Access-Control-Request-Method): 200 "OK" with Access-Control-Allow-*
    when origin, method and headers are allowed, else 400 "Disallowed CORS ..." without Allow-Origin. Other
    requests with an Origin: the app's response, plus Allow-Origin (+ Vary: Origin) for an allowed origin and
    Allow-Credentials / Expose-Headers when configured."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allow_origins: Iterable[str] = (),
        allow_methods: Iterable[str] = ("GET",),
        allow_headers: Iterable[str] = (),
        allow_credentials: bool = False,
        expose_headers: Iterable[str] = (),
        max_age: int = 600,
    ) -> None:
        origins, methods, headers, expose = (
            list(allow_origins),
            list(allow_methods),
            list(allow_headers),
            list(expose_headers),
        )
        if "*" in methods:
            methods = list(ALL_METHODS)
        self.app = app
        self.allow_origins = origins
        self.allow_methods = methods
        self.allow_all_origins = "*" in origins
        self.allow_all_headers = "*" in headers
        self.allow_credentials = allow_credentials
        self.explicit_origin = not self.allow_all_origins or allow_credentials
        simple: list[tuple[str, str]] = []
        if self.allow_all_origins:
            simple.append(("access-control-allow-origin", "*"))
        if allow_credentials:
            simple.append(("access-control-allow-credentials", "true"))
        if expose:
            simple.append(("access-control-expose-headers", ", ".join(expose)))
        self.simple = simple
        preflight = [
            (
                "vary",
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
                "Access-Control-Request-Private-Network",
            )
        ]
        if not self.explicit_origin:
            preflight.append(("access-control-allow-origin", "*"))
        preflight += [("access-control-allow-methods", ", ".join(methods)), ("access-control-max-age", str(max_age))]
        allowed = sorted(SAFELISTED_HEADERS | set(headers))
        if allowed and not self.allow_all_headers:
            preflight.append(("access-control-allow-headers", ", ".join(allowed)))
        if allow_credentials:
            preflight.append(("access-control-allow-credentials", "true"))
        self.preflight = preflight
        self.allow_headers = [h.lower() for h in allowed]

    def allowed_origin(self, origin: str) -> bool:
        return self.allow_all_origins or origin in self.allow_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request: dict[str, str] = {}
        for name, value in scope.get("headers") or ():
            request.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        origin = request.get("origin")
        if origin is not None and scope["method"] == "OPTIONS" and "access-control-request-method" in request:
            await self._preflight(request, origin, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers") or ()]
                if origin is not None:
                    names = {k.lower() for k, _ in headers}
                    for key, value in self.simple:
                        if key.encode() in names:
                            headers = [(k, v) for k, v in headers if k.lower() != key.encode()]
                        headers.append((key.encode(), value.encode("latin-1")))
                if origin is not None and (
                    (self.allow_all_origins and self.allow_credentials)
                    or (not self.allow_all_origins and self.allowed_origin(origin))
                ):
                    headers = [(k, v) for k, v in headers if k.lower() != b"access-control-allow-origin"]
                    headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
                self._add_vary(headers)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)

    @staticmethod
    def _add_vary(headers: list[tuple[bytes, bytes]]) -> None:
        vary = [v.decode("latin-1") for k, v in headers if k.lower() == b"vary"]
        headers[:] = [(k, v) for k, v in headers if k.lower() != b"vary"]
        headers.append((b"vary", ", ".join([*vary, "Origin"]).encode("latin-1")))

    async def _preflight(self, request: dict[str, str], origin: str, send: Send) -> None:
        headers = list(self.preflight)
        failures: list[str] = []
        if self.allowed_origin(origin):
            if self.explicit_origin:
                headers.append(("access-control-allow-origin", origin))
        else:
            failures.append("origin")
        if request["access-control-request-method"] not in self.allow_methods:
            failures.append("method")
        requested = request.get("access-control-request-headers")
        if self.allow_all_headers and requested is not None:
            headers.append(("access-control-allow-headers", requested))
        elif requested is not None:
            for name in requested.lower().split(","):
                if name.strip() not in self.allow_headers:
                    failures.append("headers")
                    break
        if request.get("access-control-request-private-network") is not None:
            failures.append("private-network")
        status, body = (400, "Disallowed CORS " + ", ".join(failures)) if failures else (200, "OK")
        data = body.encode()
        raw = [(k.encode(), v.encode("latin-1")) for k, v in headers]
        raw += [(b"content-length", str(len(data)).encode()), (b"content-type", b"text/plain; charset=utf-8")]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": data})


def _cors_class() -> Any:
    """Starlette's CORSMiddleware when the app's environment has it, else the standard-library copy."""
    try:
        from starlette.middleware.cors import CORSMiddleware
    except ImportError:
        return StdlibCors
    return CORSMiddleware


# ---------------------------------------------------------------------------------------------- assembly
def load_app(environ: MutableMapping[str, str] | dict[str, str]) -> ASGIApp:
    """Import the user's app as the server would. Its errors propagate unchanged: they are the app's."""
    target = environ.get("ASGI_EDGE_APP", "").strip()
    module_name, _, attrs = target.partition(":")
    if not module_name or not attrs:
        raise ImportError(f"ASGI_EDGE_APP={target!r}: the app's import path must be 'module:attribute'")
    app_dir = environ.get("ASGI_EDGE_APP_DIR") or os.getcwd()
    if app_dir not in sys.path and not (app_dir == os.getcwd() and "" in sys.path):
        sys.path.insert(0, app_dir)
    instance: Any = importlib.import_module(module_name)
    for attr in attrs.split("."):
        try:
            instance = getattr(instance, attr)
        except AttributeError:
            raise AttributeError(f'Attribute "{attrs}" not found in module "{module_name}".') from None
    if _bool(environ, "ASGI_EDGE_FACTORY", False):
        instance = instance()
    return instance  # type: ignore[no-any-return]


def build(app: ASGIApp, environ: MutableMapping[str, str] | dict[str, str], sink: Sink | None = None) -> ASGIApp:
    """The app behind the wrapper; the plain app (and one JSON line on stderr) when the configuration is bad."""
    try:
        config = read_config(environ)
        inner = app
        if config.cors is not None:
            inner = _cors_class()(inner, **config.cors)
        if config.request_id_header is None and not config.access_log:
            return inner
        if config.request_id_header is not None:
            _install_record_factory()
        return EdgeMiddleware(inner, config, sink)
    except Exception as exc:
        _report("asgi_edge disabled by its configuration: serving the app without it", exc)
        return app


if __name__ == "asgi_edge":  # imported by the server (not as asgi_operator.edge.asgi_edge, by the operator)
    app: ASGIApp = build(load_app(os.environ), os.environ)
