"""A small, real HTTP proxy between a client (the operator) and the lab's API server that injects the faults a real
cluster's API answers with: 409 Conflict on writes, 429 Too Many Requests with Retry-After, 500, 503, slow answers,
and watch streams cut in the middle.

The client speaks plain HTTP to the proxy (its kubeconfig's server is `http://127.0.0.1:PORT`) and sends its own
bearer token; the proxy forwards every request over HTTPS to the API server (trusting the lab's CA) with the
client's headers, so the API server authenticates and authorizes the client's identity, not the proxy's. Bodies
are streamed back as they come (a watch is one long chunked answer).

Faults are drawn with a seeded RNG at `rate` per request (`watch_rate` per watch: there are few, long ones), at
most `budget` in all, each of the types a request can get (a 409 only for a write, a cut only for a watch) chosen
so that every type is injected about equally often. `counts` says how many of each were injected. Everything
binds to 127.0.0.1; `stop()` ends every connection.

A test can also script a fault for exactly the requests it means (`fail_next`: the next N requests of a method
whose path holds a given text), with or without the random ones (`rate=0`).
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import random
import socket
import ssl
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host"}
)
FAULTS = ("409", "429", "500", "503", "slow", "cut")
_STATUS = {
    "409": (
        409,
        "Conflict",
        "Operation cannot be fulfilled: the object has been modified; please apply your changes "
        "to the latest version and try again (injected by the lab's fault proxy)",
    ),
    "429": (
        429,
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later "
        "(injected by the lab's fault proxy)",
    ),
    "500": (
        500,
        "InternalError",
        "Internal error occurred: etcdserver: request timed out (injected by the lab's fault proxy)",
    ),
    "503": (
        503,
        "ServiceUnavailable",
        "the server is currently unable to handle the request (injected by the lab's fault proxy)",
    ),
}


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        ca_file: Path,
        *,
        seed: int,
        rate: float = 0.1,
        watch_rate: float = 0.3,
        budget: int = 100,
        slow: tuple[float, float] = (1.0, 3.0),
        cut_after: tuple[float, float] = (0.5, 4.0),
        retry_after: int = 1,
    ) -> None:
        parsed = urllib.parse.urlparse(upstream)
        self.upstream_host, self.upstream_port = parsed.hostname or "127.0.0.1", parsed.port or 443
        self.context = ssl.create_default_context(cafile=str(ca_file))
        self.context.check_hostname = False  # the API server's self-signed certificate names localhost; CA checked
        self.rng = random.Random(seed)
        self.watch_rate = watch_rate
        self.rate, self.budget, self.slow, self.cut_after, self.retry_after = rate, budget, slow, cut_after, retry_after
        self.enabled = True
        self.scripted: list[tuple[str, str, str]] = []  # (method, text in the path, fault), first match first
        self.counts: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()  # forwarded or answered, by kind: read, write, watch
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def injected(self) -> int:
        return sum(self.counts.values())

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def fail_next(self, method: str, path_holds: str, fault: str, times: int = 1) -> None:
        """The next `times` requests of `method` whose path holds `path_holds` get `fault` (one of 409, 429, 500,
        503), whatever the rate and budget."""
        assert fault in _STATUS, fault
        with self._lock:
            self.scripted += [(method, path_holds, fault)] * times

    # ------------------------------------------------------------------ decisions
    def draw(self, method: str, watch: bool, path: str = "") -> str | None:
        """The fault this request gets, if any (counted here, except a cut: counted when it happens)."""
        kind = "watch" if watch else "write" if method in WRITES else "read"
        with self._lock:
            self.requests[kind] += 1
            for i, (verb, holds, fault) in enumerate(self.scripted):
                if verb == method and holds in path and not watch:
                    del self.scripted[i]
                    self.counts[fault] += 1
                    return fault
            rate = self.watch_rate if watch else self.rate
            if not self.enabled or self.injected >= self.budget or self.rng.random() >= rate:
                return None
            eligible = ["429", "500", "503"]
            eligible += ["cut"] if watch else ["slow"]
            eligible += ["409"] if method in WRITES else []
            fewest = min(self.counts[f] for f in eligible)
            fault = self.rng.choice([f for f in eligible if self.counts[f] == fewest])
            if fault != "cut":
                self.counts[fault] += 1
            return fault

    def cut(self, *sockets: socket.socket | None) -> bool:
        """Cut a watch mid-stream: both of its connections reset, no final chunk sent."""
        with self._lock:
            if self.injected >= self.budget:
                return False
            self.counts["cut"] += 1
        for sock in sockets:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        return True

    def track(self, sock: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._open.add if open_ else self._open.discard)(sock)


def _handler(proxy: FaultProxy) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, chunked streaming

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            watch = query.get("watch", [""])[0] in ("true", "1")
            fault = proxy.draw(self.command, watch, urllib.parse.urlparse(self.path).path)
            if fault in _STATUS:
                self._answer(fault)
                return
            if fault == "slow":
                time.sleep(proxy.rng.uniform(*proxy.slow))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream = http.client.HTTPSConnection(
                proxy.upstream_host, proxy.upstream_port, context=proxy.context, timeout=None if watch else 60
            )
            proxy.track(self.connection, True)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                if watch or response.getheader("Content-Length") is None:
                    self._stream(response, upstream, cut=fault == "cut")
                else:
                    self._copy(response)
            except (OSError, http.client.HTTPException):
                # the upstream failed, or the watch was cut: the client sees its connection end mid-answer
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
            finally:
                proxy.track(self.connection, False)
                upstream.close()

        def _answer(self, fault: str) -> None:
            code, reason, message = _STATUS[fault]
            data = json.dumps(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": message,
                    "reason": reason,
                    "code": code,
                    **({"details": {"retryAfterSeconds": proxy.retry_after}} if code == 429 else {}),
                }
            ).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if code == 429:
                self.send_header("Retry-After", str(proxy.retry_after))
            self.end_headers()
            self.wfile.write(data)

        def _copy(self, response: http.client.HTTPResponse) -> None:
            data = response.read()
            self.send_response(response.status, response.reason)
            for k, v in response.getheaders():
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, response: http.client.HTTPResponse, upstream: http.client.HTTPSConnection, cut: bool) -> None:
            self.send_response(response.status, response.reason)
            for k, v in response.getheaders():
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            timer = None
            if cut:
                timer = threading.Timer(
                    proxy.rng.uniform(*proxy.cut_after), proxy.cut, (self.connection, upstream.sock)
                )
                timer.daemon = True
                timer.start()
            try:
                while chunk := response.read1(65536):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            finally:
                if timer is not None:
                    timer.cancel()

    for verb in ("PUT", "PATCH", "DELETE"):  # http.server looks handlers up by name: do_<VERB>
        setattr(Handler, f"do_{verb}", Handler.do_POST)
    return Handler
