"""The in-app edge wrapper (operator/asgi_operator/edge/asgi_edge.py), called in-process as an ASGI app.

Each test drives the wrapper with plain ASGI messages (no server, no network) and checks one behaviour the pod
relies on: which request ID a request gets and where it shows up, that the JSON access line is written when the
response ENDS and holds what log pipelines need, that errors keep surfacing as they would without the wrapper,
that CORS answers exactly like Starlette's CORSMiddleware with and without Starlette importable, that lifespan
and websocket scopes are untouched, and that a bad configuration falls back to the plain app. The same file is
run for real under the four servers in tests/integration/test_edge_real.py.
"""

from __future__ import annotations

import ast
import asyncio
import datetime
import glob
import json
import logging
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from asgi_operator.edge import MODULE, SOURCE, asgi_edge
from asgi_operator.edge.asgi_edge import EdgeConfig, EdgeMiddleware, RequestIdFilter, build, load_app, request_id_var

Message = dict[str, Any]


# ------------------------------------------------------------------------------------------------ helpers
class Lines:
    """The access-log sink: every line written, parsed."""

    def __init__(self) -> None:
        self.raw: list[str] = []

    def __call__(self, line: str) -> None:
        self.raw.append(line)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.raw]

    def one(self) -> dict[str, Any]:
        assert len(self.raw) == 1, self.raw
        return self.records[0]


def http_scope(
    path: str = "/", method: str = "GET", headers: list[tuple[str, str]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers or []],
        "client": ("10.1.2.3", 54321),
        "server": ("127.0.0.1", 8000),
        "state": {},
        **extra,
    }


def call(
    app: Any, scope: dict[str, Any], incoming: list[Message] | None = None
) -> tuple[list[Message], BaseException | None]:
    """Run one ASGI call to its end; returns what the app sent and what it raised."""
    queue = list(incoming or [{"type": "http.request", "body": b"", "more_body": False}])
    sent: list[Message] = []

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        await asyncio.sleep(0)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        asyncio.run(app(scope, receive, send))
    except Exception as exc:
        return sent, exc
    return sent, None


def response_headers(sent: list[Message]) -> dict[str, str]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    return {k.decode().lower(): v.decode("latin-1") for k, v in start.get("headers", [])}


def status_of(sent: list[Message]) -> int:
    return int(next(m for m in sent if m["type"] == "http.response.start")["status"])


def body_of(sent: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def wrapped(app: Any, env: dict[str, str] | None = None) -> tuple[Any, Lines]:
    lines = Lines()
    return build(app, env or {}, sink=lines), lines


class Echo:
    """A bare ASGI app that answers 200 and remembers what it saw."""

    def __init__(self, body: bytes = b"hello") -> None:
        self.body = body
        self.scope: dict[str, Any] = {}
        self.context_id: str | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scope = scope
        self.context_id = request_id_var.get()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": self.body})


def request_header(scope: dict[str, Any], name: bytes) -> list[bytes]:
    return [v for k, v in scope["headers"] if k == name]


HEX32 = set("0123456789abcdef")


# ------------------------------------------------------------------------------------------------ request IDs
def test_a_sane_incoming_request_id_is_reused_everywhere() -> None:
    inner = Echo()
    app, lines = wrapped(inner)
    sent, error = call(app, http_scope(headers=[("X-Request-ID", "abc-123_DEF.9")]))
    assert error is None
    assert response_headers(sent)["x-request-id"] == "abc-123_DEF.9"
    assert lines.one()["request_id"] == "abc-123_DEF.9"
    assert inner.scope["state"]["request_id"] == "abc-123_DEF.9"
    assert inner.context_id == "abc-123_DEF.9"
    assert request_header(inner.scope, b"x-request-id") == [b"abc-123_DEF.9"]
    assert request_id_var.get() is None, "the context variable is reset after the request"


@pytest.mark.parametrize(
    "incoming",
    [
        pytest.param("a" * 201, id="too-long"),
        pytest.param("has space", id="space"),
        pytest.param("tab\there", id="control-char"),
        pytest.param("caf\u00e9", id="non-ascii"),
        pytest.param("", id="empty"),
        pytest.param(None, id="absent"),
    ],
)
def test_a_missing_or_insane_request_id_is_replaced_by_a_fresh_one(incoming: str | None) -> None:
    inner = Echo()
    app, lines = wrapped(inner)
    headers = [("X-Request-ID", incoming)] if incoming is not None else []
    sent, _ = call(app, http_scope(headers=headers))
    rid = response_headers(sent)["x-request-id"]
    assert len(rid) == 32 and set(rid) <= HEX32
    assert lines.one()["request_id"] == rid
    # the app sees the ID the wrapper chose, once, in the request headers too (as behind ingress-nginx)
    assert request_header(inner.scope, b"x-request-id") == [rid.encode()]


def test_the_longest_sane_request_id_is_kept() -> None:
    app, lines = wrapped(Echo())
    call(app, http_scope(headers=[("X-Request-ID", "x" * 200)]))
    assert lines.one()["request_id"] == "x" * 200


def test_fresh_ids_are_distinct_uuid4s() -> None:
    app, lines = wrapped(Echo())
    for _ in range(50):
        call(app, http_scope())
    ids = [r["request_id"] for r in lines.records]
    assert len(set(ids)) == 50
    assert all(uuid.UUID(hex=i).version == 4 and uuid.UUID(hex=i).hex == i for i in ids)


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_the_trace_id_of_a_traceparent_is_the_request_id_when_none_came() -> None:
    app, lines = wrapped(Echo())
    sent, _ = call(app, http_scope(headers=[("traceparent", f"00-{TRACE}-00f067aa0ba902b7-01")]))
    assert response_headers(sent)["x-request-id"] == TRACE
    assert lines.one()["request_id"] == TRACE
    assert lines.one()["trace_id"] == TRACE


def test_an_incoming_request_id_wins_over_the_traceparent() -> None:
    app, lines = wrapped(Echo())
    call(app, http_scope(headers=[("traceparent", f"00-{TRACE}-00f067aa0ba902b7-01"), ("x-request-id", "r-1")]))
    assert (lines.one()["request_id"], lines.one()["trace_id"]) == ("r-1", TRACE)


@pytest.mark.parametrize(
    "traceparent",
    [
        pytest.param(f"00-{'0' * 32}-00f067aa0ba902b7-01", id="all-zero-trace-id"),
        pytest.param(f"ff-{TRACE}-00f067aa0ba902b7-01", id="version-ff"),
        pytest.param(f"00-{TRACE.upper()}-00f067aa0ba902b7-01", id="uppercase"),
        pytest.param("garbage", id="garbage"),
    ],
)
def test_an_invalid_traceparent_is_ignored(traceparent: str) -> None:
    app, lines = wrapped(Echo())
    call(app, http_scope(headers=[("traceparent", traceparent)]))
    record = lines.one()
    assert record["trace_id"] is None
    assert record["request_id"] != TRACE.upper() and len(record["request_id"]) == 32


def test_a_custom_header_name() -> None:
    inner = Echo()
    app, lines = wrapped(inner, {"ASGI_EDGE_REQUEST_ID_HEADER": "X-Correlation-ID"})
    sent, _ = call(app, http_scope(headers=[("X-Correlation-ID", "corr-7")]))
    assert response_headers(sent)["x-correlation-id"] == "corr-7"
    assert "x-request-id" not in response_headers(sent)
    assert lines.one()["request_id"] == "corr-7"


def test_the_apps_own_response_id_is_kept_and_logged() -> None:
    async def app_with_id(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"X-Request-ID", b"from-app")]})
        await send({"type": "http.response.body", "body": b""})

    app, lines = wrapped(app_with_id)
    sent, _ = call(app, http_scope(headers=[("x-request-id", "incoming")]))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert [v for k, v in start["headers"] if k.lower() == b"x-request-id"] == [b"from-app"]
    assert lines.one()["request_id"] == "from-app"


def test_request_ids_off() -> None:
    inner = Echo()
    app, lines = wrapped(inner, {"ASGI_EDGE_REQUEST_ID": "off"})
    sent, _ = call(app, http_scope(headers=[("x-request-id", "r-1")]))
    assert "x-request-id" not in response_headers(sent)
    assert lines.one()["request_id"] is None
    assert "request_id" not in inner.scope["state"]


def test_the_apps_log_records_carry_the_request_id() -> None:
    """Through the record factory the wrapper installs: whatever handler and format the app uses."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logger = logging.getLogger("the-users-app")
    logger.propagate = False
    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    async def logging_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        logger.info("handling")
        await Echo()(scope, receive, send)

    try:
        app, _ = wrapped(logging_app)
        call(app, http_scope(headers=[("x-request-id", "log-me")]))
        logger.info("outside a request")
    finally:
        logger.removeHandler(handler)
    assert [getattr(r, "request_id", "missing") for r in seen] == ["log-me", None]


def test_the_filter_sets_the_request_id_for_a_dictconfig_handler() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)  # bypasses the record factory
    token = request_id_var.set("filtered")
    try:
        assert RequestIdFilter().filter(record) is True
    finally:
        request_id_var.reset(token)
    assert record.request_id == "filtered"


def test_the_record_factory_is_installed_once() -> None:
    build(Echo(), {}, sink=Lines())
    factory = logging.getLogRecordFactory()
    build(Echo(), {}, sink=Lines())
    assert logging.getLogRecordFactory() is factory


# ------------------------------------------------------------------------------------------------ access line
def test_the_access_line_holds_what_log_pipelines_need() -> None:
    app, lines = wrapped(Echo(b"12345"))
    call(
        app,
        http_scope(
            "/things",
            method="POST",
            headers=[("user-agent", "curl/8.5"), ("x-request-id", "r-9")],
            http_version="2",
        ),
    )
    record = lines.one()
    assert set(record) == {
        "ts",
        "level",
        "logger",
        "message",
        "method",
        "path",
        "route",
        "status",
        "duration_ms",
        "bytes_out",
        "request_id",
        "trace_id",
        "client_ip",
        "user_agent",
        "http_version",
    }
    assert record["level"] == "info"
    assert record["logger"] == "asgi_edge.access"
    assert record["message"] == "POST /things 200"
    assert (record["method"], record["path"], record["route"], record["status"]) == ("POST", "/things", None, 200)
    assert record["bytes_out"] == 5
    assert record["client_ip"] == "10.1.2.3"
    assert record["user_agent"] == "curl/8.5"
    assert record["http_version"] == "2"
    assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
    # RFC 3339 in UTC with milliseconds
    assert len(record["ts"]) == 24 and record["ts"].endswith("Z") and record["ts"][10] == "T"


def test_the_timestamp_is_rfc3339_utc_and_current() -> None:
    before = datetime.datetime.now(datetime.UTC)
    stamp = asgi_edge._now()
    after = datetime.datetime.now(datetime.UTC)
    parsed = datetime.datetime.fromisoformat(stamp)
    assert stamp.endswith("Z") and len(stamp) == len("2026-11-26T00:00:00.000Z")
    assert before - datetime.timedelta(milliseconds=1) <= parsed <= after


def test_the_line_is_written_when_the_last_chunk_is_sent_not_before_and_not_after() -> None:
    """A streamed response: no line after the first chunk, the line right after the last one, before the app
    returns (background work after the response does not delay it or count in its duration)."""
    lines = Lines()
    seen_at: dict[str, int] = {}

    async def streaming(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ab", "more_body": True})
        seen_at["after first chunk"] = len(lines.raw)
        await send({"type": "http.response.body", "body": b"cde", "more_body": False})
        seen_at["after last chunk"] = len(lines.raw)
        await asyncio.sleep(0.05)  # "background task" after the response

    app = build(streaming, {}, sink=lines)
    call(app, http_scope())
    assert seen_at == {"after first chunk": 0, "after last chunk": 1}
    record = lines.one()
    assert record["bytes_out"] == 5
    assert record["duration_ms"] < 50, "the background work after the response is not in the duration"


def test_the_route_template_of_starlette_and_fastapi() -> None:
    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["item_id"]})

    starlette_app = Starlette(routes=[Route("/items/{item_id}", item)])
    fastapi_app = FastAPI()

    @fastapi_app.get("/users/{user_id}")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    for inner, path, route in (
        (starlette_app, "/items/42", "/items/{item_id}"),
        (fastapi_app, "/users/7", "/users/{user_id}"),
    ):
        app, lines = wrapped(inner)
        sent, error = call(app, http_scope(path))
        assert error is None and status_of(sent) == 200
        assert lines.one()["route"] == route
        app, lines = wrapped(inner)
        call(app, http_scope("/nowhere"))
        assert (lines.one()["status"], lines.one()["route"]) == (404, None)


def test_the_request_id_reaches_starlette_request_state() -> None:
    async def show(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.request_id)

    app, _ = wrapped(Starlette(routes=[Route("/", show)]))
    sent, _ = call(app, http_scope(headers=[("x-request-id", "state-1")]))
    assert body_of(sent) == b"state-1"


def test_lifespan_state_is_kept_beside_the_request_id() -> None:
    inner = Echo()
    app, _ = wrapped(inner)
    server_state = {"db": "pool"}
    call(app, http_scope(state=server_state))
    assert inner.scope["state"]["db"] == "pool"
    assert server_state == {"db": "pool"}, "the server's per-request state dict is not modified"


def test_an_exception_before_the_response_answers_500_with_the_id_and_still_raises() -> None:
    async def broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    app, lines = wrapped(broken)
    sent, error = call(app, http_scope(headers=[("x-request-id", "r-500")]))
    assert isinstance(error, RuntimeError), "the server must still see (and log) the app's exception"
    assert status_of(sent) == 500
    assert response_headers(sent)["x-request-id"] == "r-500"
    assert body_of(sent) == b"Internal Server Error"
    record = lines.one()
    assert (record["status"], record["error"], record["level"], record["request_id"]) == (
        500,
        "RuntimeError",
        "error",
        "r-500",
    )


def test_a_fastapi_exception_is_logged_with_its_type_and_starlettes_500() -> None:
    """Starlette's ServerErrorMiddleware sends its 500, then re-raises: the line waits for the exception."""
    inner = FastAPI()

    @inner.get("/fail")
    async def fail() -> None:
        raise KeyError("missing")

    app, lines = wrapped(inner)
    sent, error = call(app, http_scope("/fail"))
    assert isinstance(error, KeyError)
    assert status_of(sent) == 500
    assert "x-request-id" in response_headers(sent)
    record = lines.one()
    assert (record["status"], record["error"], record["route"]) == (500, "KeyError", "/fail")


def test_an_exception_mid_stream_keeps_the_status_sent() -> None:
    async def half(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"abc", "more_body": True})
        raise ValueError("stream broke")

    app, lines = wrapped(half)
    sent, error = call(app, http_scope())
    assert isinstance(error, ValueError)
    assert len(sent) == 2, "nothing is sent after a started response"
    record = lines.one()
    assert (record["status"], record["bytes_out"], record["error"]) == (200, 3, "ValueError")


def test_a_client_that_went_away() -> None:
    async def waits_for_body(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    app, lines = wrapped(waits_for_body)
    call(app, http_scope(), incoming=[{"type": "http.disconnect"}])
    record = lines.one()
    assert record["disconnected"] is True
    assert record["status"] is None


def test_an_app_that_returns_without_answering_is_logged_as_the_servers_500() -> None:
    async def silent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        return

    app, lines = wrapped(silent)
    call(app, http_scope())
    assert lines.one()["status"] == 500


def test_skipped_paths_and_access_log_off() -> None:
    app, lines = wrapped(Echo(), {"ASGI_EDGE_ACCESS_LOG_SKIP": "/healthz, /metrics"})
    for path in ("/healthz", "/metrics", "/"):
        sent, _ = call(app, http_scope(path))
        assert "x-request-id" in response_headers(sent), "skipped paths still get an ID"
    assert [r["path"] for r in lines.records] == ["/"]
    app, lines = wrapped(Echo(), {"ASGI_EDGE_ACCESS_LOG": "off"})
    sent, _ = call(app, http_scope())
    assert "x-request-id" in response_headers(sent)
    assert lines.raw == []


def test_everything_off_serves_the_app_itself() -> None:
    inner = Echo()
    assert build(inner, {"ASGI_EDGE_REQUEST_ID": "off", "ASGI_EDGE_ACCESS_LOG": "off"}) is inner


def test_a_failing_sink_never_fails_the_request(capfd: pytest.CaptureFixture[str]) -> None:
    def broken_sink(line: str) -> None:
        raise OSError("disk full")

    app = EdgeMiddleware(Echo(), EdgeConfig(), sink=broken_sink)
    for _ in range(2):
        sent, error = call(app, http_scope())
        assert error is None and status_of(sent) == 200
    reports = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert len(reports) == 1, "reported once, not per request"
    assert reports[0]["error"] == "OSError: disk full"


def test_the_default_sink_writes_one_line_per_request_to_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    app = build(Echo(), {})
    call(app, http_scope(headers=[("x-request-id", "fd-1")]))
    out = capfd.readouterr().out.splitlines()
    assert [json.loads(line)["request_id"] for line in out] == ["fd-1"]
    app = build(Echo(), {"ASGI_EDGE_ACCESS_LOG_STREAM": "stderr"})
    call(app, http_scope())
    captured = capfd.readouterr()
    assert captured.out == "" and json.loads(captured.err)["status"] == 200


# ------------------------------------------------------------------------------------------------ passthrough
@pytest.mark.parametrize("scope_type", ["lifespan", "websocket"])
def test_lifespan_and_websocket_pass_through_untouched(scope_type: str) -> None:
    got: dict[str, Any] = {}

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        got.update(scope=scope, receive=receive, send=send, context=request_id_var.get())

    lines = Lines()
    app = build(inner, {"ASGI_EDGE_CORS_ALLOW_ORIGINS": "https://a.example.com"}, sink=lines)
    scope = {"type": scope_type, "asgi": {"version": "3.0"}, "headers": [(b"x-request-id", b"ws")], "path": "/ws"}

    async def receive() -> Message:
        return {"type": f"{scope_type}.startup" if scope_type == "lifespan" else "websocket.connect"}

    async def send(message: Message) -> None:
        pass

    asyncio.run(app(scope, receive, send))
    assert got["scope"] is scope and got["receive"] is receive and got["send"] is send
    assert got["context"] is None
    assert lines.raw == []


# ------------------------------------------------------------------------------------------------ CORS
@pytest.fixture(params=["starlette", "stdlib"])
def cors_impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "stdlib":
        monkeypatch.setitem(sys.modules, "starlette.middleware.cors", None)  # its import raises ImportError
    return str(request.param)


CORS_ENV = {
    "ASGI_EDGE_CORS_ALLOW_ORIGINS": "https://app.example.com,https://admin.example.com",
    "ASGI_EDGE_CORS_ALLOW_CREDENTIALS": "true",
    "ASGI_EDGE_CORS_ALLOW_METHODS": "GET,POST,DELETE",
    "ASGI_EDGE_CORS_ALLOW_HEADERS": "Authorization,X-Tenant",
    "ASGI_EDGE_CORS_EXPOSE_HEADERS": "X-Request-ID",
    "ASGI_EDGE_CORS_MAX_AGE": "300",
}


def preflight(origin: str, method: str = "POST", headers: str | None = "authorization") -> dict[str, Any]:
    h = [("Origin", origin), ("Access-Control-Request-Method", method)]
    if headers is not None:
        h.append(("Access-Control-Request-Headers", headers))
    return http_scope("/things", method="OPTIONS", headers=h)


def test_cors_uses_the_expected_implementation(cors_impl: str) -> None:
    app = build(Echo(), CORS_ENV, sink=Lines())
    inner = app.app
    expected = "CORSMiddleware" if cors_impl == "starlette" else "StdlibCors"
    assert type(inner).__name__ == expected


def test_cors_preflight_from_an_allowed_origin(cors_impl: str) -> None:
    inner = Echo()
    app, lines = wrapped(inner, CORS_ENV)
    sent, _ = call(app, preflight("https://app.example.com"))
    headers = response_headers(sent)
    assert status_of(sent) == 200
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["access-control-allow-methods"] == "GET, POST, DELETE"
    assert headers["access-control-max-age"] == "300"
    assert "authorization" in headers["access-control-allow-headers"].lower()
    assert "x-request-id" in headers, "the preflight answer carries the request ID too"
    assert inner.scope == {}, "the preflight is answered without calling the app"
    record = lines.one()
    assert (record["method"], record["status"]) == ("OPTIONS", 200)


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        pytest.param("https://evil.example.com", "POST", "authorization", id="origin"),
        pytest.param("https://app.example.com", "PUT", None, id="method"),
        pytest.param("https://app.example.com", "POST", "x-secret", id="header"),
    ],
)
def test_cors_preflight_refused(cors_impl: str, origin: str, method: str, headers: str | None) -> None:
    app, _ = wrapped(Echo(), CORS_ENV)
    sent, _ = call(app, preflight(origin, method, headers))
    assert status_of(sent) == 400
    assert body_of(sent).startswith(b"Disallowed CORS")
    if origin == "https://evil.example.com":
        assert "access-control-allow-origin" not in response_headers(sent)


def test_cors_simple_requests(cors_impl: str) -> None:
    app, _ = wrapped(Echo(), CORS_ENV)
    sent, _ = call(app, http_scope("/things", headers=[("Origin", "https://admin.example.com")]))
    headers = response_headers(sent)
    assert status_of(sent) == 200
    assert headers["access-control-allow-origin"] == "https://admin.example.com"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["access-control-expose-headers"] == "X-Request-ID"
    assert "Origin" in headers["vary"]
    sent, _ = call(app, http_scope("/things", headers=[("Origin", "https://evil.example.com")]))
    assert status_of(sent) == 200, "CORS is the browser's to enforce on simple requests"
    assert "access-control-allow-origin" not in response_headers(sent)


def _answers(env: dict[str, str], scopes: list[dict[str, Any]]) -> list[tuple[int, list[tuple[bytes, bytes]], bytes]]:
    app = build(Echo(), {**env, "ASGI_EDGE_REQUEST_ID": "off", "ASGI_EDGE_ACCESS_LOG": "off"})
    answers = []
    for scope in scopes:
        sent, _ = call(app, scope)
        start = next(m for m in sent if m["type"] == "http.response.start")
        headers = sorted((k.lower(), v) for k, v in start.get("headers", []))
        answers.append((int(start["status"]), headers, body_of(sent)))
    return answers


CORS_CASES = [
    CORS_ENV,
    {"ASGI_EDGE_CORS_ALLOW_ORIGINS": "https://app.example.com"},
    {"ASGI_EDGE_CORS_ALLOW_ORIGINS": "*", "ASGI_EDGE_CORS_ALLOW_METHODS": "*", "ASGI_EDGE_CORS_ALLOW_HEADERS": "*"},
    {"ASGI_EDGE_CORS_ALLOW_ORIGINS": "*", "ASGI_EDGE_CORS_ALLOW_CREDENTIALS": "true"},
]


@pytest.mark.parametrize("env", CORS_CASES, ids=["full", "minimal", "wildcards", "wildcard-credentials"])
def test_the_stdlib_cors_answers_byte_for_byte_like_starlette(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    private_network = preflight("https://app.example.com", "GET", None)
    private_network["headers"].append((b"access-control-request-private-network", b"true"))
    scopes = [
        preflight("https://app.example.com"),
        preflight("https://app.example.com", "GET", None),
        preflight("https://evil.example.com"),
        preflight("https://app.example.com", "PATCH", "x-tenant, authorization"),
        http_scope("/", method="OPTIONS", headers=[("Origin", "https://app.example.com")]),  # not a preflight
        http_scope("/", headers=[("Origin", "https://app.example.com")]),
        http_scope("/", headers=[("Origin", "https://evil.example.com")]),
        http_scope("/"),
        preflight("https://app.example.com", "GET", None)
        | {
            "headers": [
                *preflight("https://app.example.com", "GET", None)["headers"],
                (b"access-control-request-private-network", b"true"),
            ]
        },
    ]
    with_starlette = _answers(env, scopes)
    monkeypatch.setitem(sys.modules, "starlette.middleware.cors", None)
    assert _answers(env, scopes) == with_starlette


# ------------------------------------------------------------------------------------------------ configuration
@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"ASGI_EDGE_ACCESS_LOG": "xml"}, id="access-log-format"),
        pytest.param({"ASGI_EDGE_ACCESS_LOG_STREAM": "syslog"}, id="stream"),
        pytest.param({"ASGI_EDGE_REQUEST_ID": "maybe"}, id="request-id-boolean"),
        pytest.param({"ASGI_EDGE_REQUEST_ID_HEADER": "X Request"}, id="header-name"),
        pytest.param({"ASGI_EDGE_CORS_ALLOW_ORIGINS": "app.example.com"}, id="origin-without-scheme"),
        pytest.param({"ASGI_EDGE_CORS_ALLOW_ORIGINS": "*,https://a.example.com"}, id="star-not-alone"),
        pytest.param(
            {"ASGI_EDGE_CORS_ALLOW_ORIGINS": "https://a.example.com", "ASGI_EDGE_CORS_MAX_AGE": "1h"}, id="max-age"
        ),
        pytest.param(
            {"ASGI_EDGE_CORS_ALLOW_ORIGINS": "https://a.example.com", "ASGI_EDGE_CORS_ALLOW_CREDENTIALS": "si"},
            id="credentials",
        ),
        pytest.param(
            {"ASGI_EDGE_CORS_ALLOW_ORIGINS": "https://a.example.com", "ASGI_EDGE_CORS_ALLOW_METHODS": "GET,P0ST"},
            id="method",
        ),
    ],
)
def test_a_bad_configuration_serves_the_plain_app_and_says_so_once(
    env: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    inner = Echo()
    assert build(inner, env) is inner
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1
    report = json.loads(err[0])
    assert report["level"] == "error" and report["logger"] == "asgi_edge"
    assert "without it" in report["message"]
    assert next(iter(env)) in report["error"] or "ASGI_EDGE" in report["error"]


@pytest.fixture
def user_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory with the user's modules, as the working directory (what the servers import from)."""
    (tmp_path / "userapp_ok.py").write_text(
        textwrap.dedent(
            """
            class Holder:
                async def app(self, scope, receive, send):
                    pass

            holder = Holder()

            async def app(scope, receive, send):
                pass

            def create_app():
                return app
            """
        )
    )
    (tmp_path / "userapp_broken.py").write_text("import json\nraise ZeroDivisionError('the users bug')\n")
    (tmp_path / "userapp_missing_dep.py").write_text("import not_installed_anywhere_xyz\napp = None\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield tmp_path
    for name in ("userapp_ok", "userapp_broken", "userapp_missing_dep"):
        sys.modules.pop(name, None)


def test_load_app_imports_from_the_working_directory(user_app: Path) -> None:
    module = load_app({"ASGI_EDGE_APP": "userapp_ok:app"})
    assert module is sys.modules["userapp_ok"].app
    assert sys.path[0] == str(user_app)
    assert load_app({"ASGI_EDGE_APP": "userapp_ok:holder.app"}) == sys.modules["userapp_ok"].holder.app
    assert (
        load_app({"ASGI_EDGE_APP": "userapp_ok:create_app", "ASGI_EDGE_FACTORY": "true"})
        is sys.modules["userapp_ok"].app
    )


def test_load_app_from_another_directory(user_app: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "userapp_other.py").write_text("async def app(scope, receive, send):\n    pass\n")
    try:
        assert load_app({"ASGI_EDGE_APP": "userapp_other:app", "ASGI_EDGE_APP_DIR": str(elsewhere)})
    finally:
        sys.modules.pop("userapp_other", None)


@pytest.mark.parametrize(
    ("target", "error", "words"),
    [
        ("userapp_broken:app", ZeroDivisionError, "the users bug"),
        ("userapp_missing_dep:app", ModuleNotFoundError, "not_installed_anywhere_xyz"),
        ("userapp_nowhere:app", ModuleNotFoundError, "userapp_nowhere"),
        ("userapp_ok:nope", AttributeError, 'Attribute "nope" not found in module "userapp_ok"'),
        ("userapp_ok", ImportError, "module:attribute"),
        ("", ImportError, "module:attribute"),
    ],
)
def test_the_users_import_errors_propagate_unchanged(
    user_app: Path, target: str, error: type[BaseException], words: str
) -> None:
    with pytest.raises(error, match=words):
        load_app({"ASGI_EDGE_APP": target})


# ------------------------------------------------------------------------------------------------ the shipped file
def test_the_shipped_file_is_python_3_9_and_standard_library_only() -> None:
    source = SOURCE.read_text()
    tree = ast.parse(source, feature_version=(3, 9))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported - {"__future__"} <= set(sys.stdlib_module_names) | {"starlette"}, imported
    assert "asgi_operator" not in source.replace("asgi_operator.edge.asgi_edge", "")
    assert SOURCE.name == f"{MODULE}.py"
    assert asgi_edge.__file__ == str(SOURCE)


def _old_pythons() -> list[str]:
    """Python 3.9 and 3.10 interpreters on this machine (pyenv), to run the wrapper where users still have them."""
    found = []
    for version in ("3.9", "3.10"):
        candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
        if candidates:
            found.append(candidates[-1])
    return found


OLD_PYTHONS = _old_pythons()


@pytest.mark.skipif(not OLD_PYTHONS, reason="no Python 3.9/3.10 interpreter on this machine")
@pytest.mark.parametrize("python", OLD_PYTHONS, ids=[Path(p).name for p in OLD_PYTHONS])
def test_the_wrapper_runs_under_older_pythons_without_starlette(python: str, tmp_path: Path) -> None:
    """Imported as the servers import it (`asgi_edge`), by a bare interpreter: stdlib CORS, one access line."""
    (tmp_path / "userapp.py").write_text(
        "async def app(scope, receive, send):\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'ok'})\n"
    )
    driver = textwrap.dedent(
        """
        import asyncio, sys
        import asgi_edge
        assert type(asgi_edge.app.app).__name__ == "StdlibCors", type(asgi_edge.app.app)
        sent = []
        async def receive():
            return {"type": "http.request", "body": b""}
        async def send(message):
            sent.append(message)
        scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"origin", b"https://a.example.com")],
                 "client": ("1.2.3.4", 1), "http_version": "1.1"}
        asyncio.run(asgi_edge.app(scope, receive, send))
        print("HEADERS", dict(sent[0]["headers"]), file=sys.stderr)
        """
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(SOURCE.parent),
        "ASGI_EDGE_APP": "userapp:app",
        "ASGI_EDGE_CORS_ALLOW_ORIGINS": "https://a.example.com",
    }
    done = subprocess.run(
        [python, "-c", driver], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout.strip())
    assert (line["status"], line["bytes_out"]) == (200, 2)
    assert "b'access-control-allow-origin': b'https://a.example.com'" in done.stderr
