"""A real HTTP server in front of a real Prometheus that spoils its answers on demand: the fault drill of the
canary analysis (issue 14). The operator is pointed at `PromFault.url` instead of Prometheus' own address;
`set(mode, ...)` switches what every following query gets:

- `pass`: Prometheus' answer, untouched;
- `slow`: Prometheus' answer after `delay` seconds of silence (past the operator's query timeout);
- `drip`: the headers at once, then the body one byte every `drip_every` seconds: every read is within the
  timeout, the whole answer takes minutes (a query timeout that bounds each read only would hang);
- `error`: HTTP `status` (503 by default) with Prometheus' own error shape, never forwarded;
- `malformed`: HTTP 200 with the first half of Prometheus' JSON;
- `value`: Prometheus' answer with the sample value of every series whose `asgi_check` label is in `checks`
  (all series without `checks`) replaced by `value` (`"NaN"`, `"+Inf"`, `"-Inf"`, ...);
- `drop`: Prometheus' answer without the series whose `asgi_check` is in `checks` (a partial vector);
- `canary-only`: an empty result for every query about the stable track (only the canary's side answers);
- `many`: Prometheus' answer with every series `copies` times, each copy with its own `pod` label (what a query
  without aggregation returns), or the very same labels with `distinct=False` (a proxy repeating series); of
  the series whose `asgi_check` is in `checks`, all copies but the last `keep` carry `value` (3,000 copies of
  an error rate 0.5 before 333 of the real one: an answer read by its last series passes a bad canary);
- `unlabelled`: a vector of `copies` series without the `asgi_check` label, each with `value`;
- `scalar`: a scalar result (`{"resultType":"scalar","result":[<time>,<value>]}`) instead of a vector;
- `raw`: HTTP `raw_status` (200) with `body` as it is (duplicate JSON keys, say).

Every answer carries its Content-Length, except with `length=False` (the body then ends when the connection
closes, so its size is known only once it is read).

Binds to 127.0.0.1 on a free port; `close()` ends it (any drip in progress, and the connections kept alive).
Counts what it served.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MODES = (
    "pass",
    "slow",
    "drip",
    "error",
    "malformed",
    "value",
    "drop",
    "canary-only",
    "many",
    "unlabelled",
    "scalar",
    "raw",
)
SPOILED = ("value", "drop", "canary-only", "many", "unlabelled", "scalar")
CHECK_LABEL = "asgi_check"  # as rollout.queries tags each series of the combined query


@dataclass
class Fault:
    mode: str = "pass"
    delay: float = 8.0
    drip_every: float = 0.5
    status: int = 503
    value: str = "NaN"
    checks: frozenset[str] = frozenset()  # empty: every series
    copies: int = 1
    keep: int = 0
    distinct: bool = True
    body: bytes = b""
    raw_status: int = 200
    length: bool = True


@dataclass
class PromFault:
    upstream: str | None  # the real Prometheus; None: answers `canned` (unit tests of the client)
    canned: dict[str, Any] = field(default_factory=lambda: {"status": "success", "data": {"resultType": "vector"}})
    fault: Fault = field(default_factory=Fault)
    served: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closing: threading.Event = field(default_factory=threading.Event)
    _connections: set[socket.socket] = field(default_factory=set)
    _server: http.server.ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> PromFault:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with owner._lock:
                    owner._connections.add(self.connection)

            def finish(self) -> None:
                with owner._lock:
                    owner._connections.discard(self.connection)
                super().finish()

            def handle(self) -> None:
                with contextlib.suppress(ConnectionError):  # the client went away (what its cap or timeout is for)
                    super().handle()

            def do_GET(self) -> None:
                owner._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="promfault", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def set(self, mode: str, **options: Any) -> None:
        assert mode in MODES, f"unknown mode {mode!r}"
        if "checks" in options:
            options["checks"] = frozenset(options["checks"])
        with self._lock:
            self.fault = Fault(mode=mode, **options)

    def close(self) -> None:
        """Gone, as a process that exits: nothing listens, and the connections kept alive are closed too."""
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    # ------------------------------------------------------------------------------------------------ answers
    def _answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        with self._lock:
            fault = self.fault
            self.served[fault.mode] += 1
        if fault.mode == "error":
            body = {"status": "error", "errorType": "unavailable", "error": "injected by the fault drill"}
            return self._send(handler, fault.status, json.dumps(body).encode())
        if fault.mode == "raw":
            return self._send(handler, fault.raw_status, fault.body, fault.length)
        status, raw = self._upstream(handler.path)
        if fault.mode == "slow" and self._closing.wait(fault.delay):
            return None
        if fault.mode == "drip":
            return self._drip(handler, raw, fault.drip_every)
        if fault.mode == "malformed":
            return self._send(handler, 200, raw[: max(1, len(raw) // 2)])
        if status == 200 and fault.mode in SPOILED:
            raw = json.dumps(self._spoil(json.loads(raw), fault, handler.path)).encode()
        return self._send(handler, status, raw, fault.length)

    def _upstream(self, path: str) -> tuple[int, bytes]:
        if self.upstream is None:
            return 200, json.dumps({**self.canned}).encode()
        try:
            with urllib.request.urlopen(self.upstream + path, timeout=10) as resp:
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as e:
            return int(e.code), bytes(e.read())

    @staticmethod
    def _spoil(answer: dict[str, Any], fault: Fault, path: str) -> dict[str, Any]:
        data = answer.get("data") or {}
        result = list(data.get("result") or [])
        if fault.mode == "scalar":
            return {**answer, "data": {"resultType": "scalar", "result": [1700000000, fault.value]}}
        if fault.mode in ("many", "unlabelled"):
            return {**answer, "data": {**data, "result": _copies(result, fault)}}
        if fault.mode == "canary-only":
            query = " ".join(urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("query", []))
            if 'asgi_dev_track="stable"' in query:
                result = []
        else:
            hit = [not fault.checks or s.get("metric", {}).get(CHECK_LABEL) in fault.checks for s in result]
            if fault.mode == "drop":
                result = [s for s, h in zip(result, hit, strict=True) if not h]
            else:
                result = [
                    {**s, "value": [s["value"][0], fault.value]} if h else s for s, h in zip(result, hit, strict=True)
                ]
        return {**answer, "data": {**data, "result": result}}

    def _send(self, handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes, length: bool = True) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            if length:
                handler.send_header("Content-Length", str(len(body)))
            else:  # the body ends with the connection (http.server closes it after a "Connection: close")
                handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:  # the client gave up waiting (slow): what its timeout is for
            with self._lock:
                self.served["abandoned"] += 1

    def _drip(self, handler: http.server.BaseHTTPRequestHandler, body: bytes, every: float) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for i in range(len(body)):
            if self._closing.wait(every):
                return
            try:
                handler.wfile.write(body[i : i + 1])
                handler.wfile.flush()
            except OSError:  # the client gave up: what the operator's deadline should do
                with self._lock:
                    self.served["drip-abandoned"] += 1
                return


def _copies(result: list[dict[str, Any]], fault: Fault) -> list[dict[str, Any]]:
    if fault.mode == "unlabelled":
        return [{"metric": {"pod": f"copy-{i}"}, "value": [1700000000, fault.value]} for i in range(fault.copies)]
    out = []
    for s in result:
        spoiled = not fault.checks or s.get("metric", {}).get(CHECK_LABEL) in fault.checks
        for i in range(fault.copies):
            metric = {**s.get("metric", {}), **({"pod": f"copy-{i}"} if fault.distinct else {})}
            bad = spoiled and i < fault.copies - fault.keep
            out.append({"metric": metric, "value": [s["value"][0], fault.value] if bad else s["value"]})
    return out
