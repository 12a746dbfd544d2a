"""controller.informer.ApiGate: watches that lost the API server wait for one shared probe of /readyz, not one
each. (Against a real API server the informers are tested in tests/integration/test_informer.py, and the whole
outage in test_drills_api.py; here only the coordination between threads, with a server that answers after a
few probes.)"""

from __future__ import annotations

import threading
import time
from typing import Any, cast

from asgi_operator.controller.informer import ApiGate
from asgi_operator.kube.api import KubeApi


class Server:
    def __init__(self, ready_after: int) -> None:
        self.probes, self.ready_after, self.lock = 0, ready_after, threading.Lock()

    def reachable(self) -> bool:
        with self.lock:
            self.probes += 1
            return self.probes > self.ready_after


def test_one_probe_for_every_waiting_watch_and_all_go_on_when_ready() -> None:
    server = Server(ready_after=3)
    gate = ApiGate(cast(KubeApi, server))
    stopping = threading.Event()
    released: list[float] = []

    def watch() -> None:
        gate.wait(stopping)
        released.append(time.monotonic())

    threads = [threading.Thread(target=watch) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(released) == 12
    assert server.probes == 4  # 3 refused, then ready: one prober, not twelve
    assert max(released) - min(released) < 1.0  # the waiters go on with the prober's verdict


def test_a_stop_ends_the_wait() -> None:
    gate = ApiGate(cast(KubeApi, Server(ready_after=10**9)))
    stopping = threading.Event()
    done = threading.Event()
    thread = threading.Thread(target=lambda: (gate.wait(stopping), done.set()))
    thread.start()
    stopping.set()
    assert done.wait(5)


def test_a_later_outage_probes_again() -> None:
    server: Any = Server(ready_after=0)
    gate = ApiGate(cast(KubeApi, server))
    gate.wait(threading.Event())
    server.ready_after = 3  # down again
    gate.wait(threading.Event())
    assert server.probes == 4  # 1 for the first outage, 3 for the second
