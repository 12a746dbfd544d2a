"""Clients of the lab's real gateway: HTTP requests at a fixed rate, counted by who answered.

`LoadDriver` sends real HTTP/1.1 requests with keep-alive to the gateway's listener (Host header; over HTTPS with
SNI and the lab's CA), from one or more client addresses (127.0.0.x: the gateway sees distinct client IPs), and
counts each answer by the pod that gave it (`x-lab-pod`, see dataplane.py), so by track and revision. An answer
without that header came from the gateway itself (a 404 for no route, a 429 of a rate limit, a 5xx when it had
no healthy backend or failed to apply a filter); a connection error is recorded as status 0. Nothing here
decides where a request goes: the gateway does.
"""

from __future__ import annotations

import http.client
import random
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from .dataplane import POD_HEADER, DataPlane
from .gateway import HTTP_PORT, HTTPS_PORT

GATEWAY: Final = "gateway"  # the "track" of an answer the gateway gave itself


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when the answer arrived
    status: int  # 0: no answer (connection refused or reset, timeout)
    track: str  # stable / canary, or GATEWAY (no pod answered), or "unknown" (a pod this data plane never played)
    revision: str
    client: str
    path: str


@dataclass
class Tally:
    """What a stretch of answers held."""

    answers: list[Answer]

    def by_track(self) -> Counter[str]:
        return Counter(a.track for a in self.answers)

    def by_status(self) -> Counter[int]:
        return Counter(a.status for a in self.answers)

    def share(self, track: str) -> float:
        """The share of answers given by pods of `track` among all answers from pods."""
        from_pods = [a for a in self.answers if a.track not in (GATEWAY, "unknown")]
        return sum(a.track == track for a in from_pods) / len(from_pods) if from_pods else 0.0

    def failed(self) -> list[Answer]:
        """What no pod answered: connection errors and the gateway's own 5xx (no backend, a broken filter)."""
        return [a for a in self.answers if a.status == 0 or (a.track == GATEWAY and a.status >= 500)]


@dataclass
class LoadDriver:
    plane: DataPlane
    host: str
    rate: float = 50.0
    workers: int = 4
    https: bool = False
    clients: tuple[str, ...] = ("127.0.0.1",)  # source addresses, taken round-robin by the workers
    paths: tuple[tuple[str, float], ...] = ()  # (path, share) of the requests; the rest go to "/"
    context: ssl.SSLContext | None = None  # for https: trusts the gateway's certificate
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> LoadDriver:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._send, args=(i,), daemon=True, name=f"load-{i}") for i in range(self.workers)
        ]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        self._threads.clear()

    # ------------------------------------------------------------------ reading what came back
    def mark(self) -> int:
        """A position in the answers, for `since`."""
        with self._lock:
            return len(self.answers)

    def since(self, mark: int = 0) -> Tally:
        with self._lock:
            return Tally(self.answers[mark:])

    def window(self, start: float, end: float, settle: float) -> Tally:
        """The answers that arrived between `start` and `end` (time.monotonic()), `settle` seconds left out at each
        end: the gateway applies a route in 0.1-0.3 s, and whoever saw the change saw it a little late."""
        with self._lock:
            return Tally([a for a in self.answers if start + settle <= a.at < end - settle])

    @property
    def sent(self) -> Counter[str]:
        """Answers by track so far (stable, canary, gateway)."""
        return self.since().by_track()

    @property
    def statuses(self) -> Counter[int]:
        return self.since().by_status()

    def wait_answers(self, n: int, mark: int, timeout: float, track: str | None = None) -> Tally:
        """Until `n` answers (from `track`, if given) arrived after `mark`; the tally then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tally = self.since(mark)
            got = len(tally.answers) if track is None else tally.by_track()[track]
            if got >= n:
                return tally
            self._stop.wait(0.1)
        raise TimeoutError(f"{n} answers{f' from {track}' if track else ''} did not arrive in {timeout:.0f}s")

    # ------------------------------------------------------------------ sending
    def _connect(self, client: str) -> http.client.HTTPConnection:
        if self.https:
            context = self.context or ssl.create_default_context()
            return HTTPSConnection(self.host, client, context)
        return _HTTPConnection(client)

    def _send(self, worker: int) -> None:
        interval = self.workers / self.rate
        rng = random.Random(worker)
        client = self.clients[worker % len(self.clients)]
        conn: http.client.HTTPConnection | None = None
        next_at = time.monotonic() + rng.random() * interval
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            next_at += interval
            path, draw = "/", rng.random()
            for candidate, share in self.paths:
                if draw < share:
                    path = candidate
                    break
                draw -= share
            conn = conn or self._connect(client)
            status, pod = 0, None
            try:
                conn.request("GET", path, headers={"Host": self.host})
                resp = conn.getresponse()
                resp.read()
                status, pod = resp.status, resp.getheader(POD_HEADER)
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
            track, revision = (GATEWAY, "") if pod is None else (self.plane.track_of(pod) or ("unknown", ""))
            with self._lock:
                self.answers.append(Answer(time.monotonic(), status, track, revision, client, path))
        if conn is not None:
            conn.close()


class _HTTPConnection(http.client.HTTPConnection):
    """To the gateway's HTTP listener, from a given client address."""

    def __init__(self, client: str) -> None:
        super().__init__("127.0.0.1", HTTP_PORT, timeout=5, source_address=(client, 0))


class HTTPSConnection(http.client.HTTPSConnection):
    """To the gateway's HTTPS listener, from a given client address, with SNI and verification for `host`."""

    def __init__(self, host: str, client: str, context: ssl.SSLContext) -> None:
        super().__init__("127.0.0.1", HTTPS_PORT, timeout=5, source_address=(client, 0), context=context)
        self._sni = host

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._sni)  # type: ignore[attr-defined]
