"""A PLAYED gateway, for where the real one (gateway.py) cannot run: `make demo` for a user who can make no
network namespace (neither root nor an unprivileged user namespace), which says so on screen. No test uses it.

- `TrackPlane`: for each of an AsgiService's Deployments (stable, canary) with pods, one real Uvicorn process on
  127.0.0.1 running the example app with the env of that Deployment's pod template, registered with Prometheus
  with namespace, name, track and revision labels.
- `WeightSplitter`: sends requests at a fixed rate, split between stable and canary by the weights the operator
  wrote into the HTTPRoute: the gateway's job, played.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .cluster import REPO, Cluster, die_with_parent, free_port, terminate, wait_for
from .traffic import Prometheus

APP_DIR = REPO / "examples" / "app"
UVICORN = Path(sys.executable).parent / "uvicorn"


@dataclass
class _App:
    revision: str
    env: dict[str, str]
    port: int
    proc: subprocess.Popen[bytes]


@dataclass
class TrackPlane:
    """Keeps one real app process per Deployment that has pods, and tells Prometheus about them."""

    cluster: Cluster
    namespace: str
    name: str
    prometheus: Prometheus
    apps: dict[str, _App] = field(default_factory=dict)  # track -> running process
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)

    def start(self) -> TrackPlane:
        self._thread = threading.Thread(target=self._loop, name="data-plane", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        for app in list(self.apps.values()):
            self._kill(app)
        self.apps.clear()

    def port(self, track: str) -> int | None:
        with self.lock:
            app = self.apps.get(track)
            return app.port if app else None

    def _loop(self) -> None:
        while not self._stop.wait(0.3):
            try:
                self.sync()
            except Exception as e:
                self.errors.append(repr(e))

    def sync(self) -> None:
        out = self.cluster.kubectl(
            "get", "deployments", "-n", self.namespace, "-l", f"asgi.dev/name={self.name}", "-o", "json", check=False
        )
        if out.returncode != 0:
            return
        wanted: dict[str, tuple[str, dict[str, str]]] = {}
        for d in json.loads(out.stdout)["items"]:
            if not d["spec"].get("replicas", 1):
                continue
            template = d["spec"]["template"]
            labels = template["metadata"]["labels"]
            env = {
                e["name"]: e.get("value", "") for e in template["spec"]["containers"][0].get("env", []) if "value" in e
            }
            wanted[labels["asgi.dev/track"]] = (labels["asgi.dev/revision"], env)
        changed = False
        for track in list(self.apps):
            app = self.apps[track]
            if track not in wanted or wanted[track][0] != app.revision:
                with self.lock:
                    self.apps.pop(track)
                self._kill(app)
                changed = True
        for track, (revision, env) in wanted.items():
            if track not in self.apps:
                app = self._spawn(revision, env)
                with self.lock:
                    self.apps[track] = app
                changed = True
        if changed:
            self.prometheus.set_targets(
                [
                    {
                        "targets": [f"127.0.0.1:{app.port}"],
                        "labels": {
                            "namespace": self.namespace,
                            "asgi_dev_name": self.name,
                            "asgi_dev_track": track,
                            "asgi_dev_revision": app.revision,
                        },
                    }
                    for track, app in self.apps.items()
                ]
            )

    def _spawn(self, revision: str, env: dict[str, str]) -> _App:
        port = free_port()
        proc = subprocess.Popen(
            [
                str(UVICORN),
                "main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=APP_DIR,
            env={**os.environ, **env},
            preexec_fn=die_with_parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        app = _App(revision, env, port, proc)
        wait_for(f"app {revision} on :{port}", lambda: _http_ok(port), 30)
        return app

    @staticmethod
    def _kill(app: _App) -> None:
        terminate(app.proc, grace=10)


def _http_ok(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    finally:
        conn.close()


@dataclass
class WeightSplitter:
    """Requests at `rate` per second, each sent to stable or canary by the HTTPRoute's weights."""

    cluster: Cluster
    namespace: str
    route: str
    plane: TrackPlane
    rate: float = 50.0
    workers: int = 4
    # (path, share) of the requests; the rest go to "/"
    paths: tuple[tuple[str, float], ...] = ()
    sent: dict[str, int] = field(default_factory=lambda: {"stable": 0, "canary": 0})
    statuses: dict[int, int] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=lambda: {"stable": 100, "canary": 0})
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> WeightSplitter:
        self._stop.clear()
        self._threads = [threading.Thread(target=self._read_weights, daemon=True, name="weights")]
        self._threads += [
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

    def _read_weights(self) -> None:
        while not self._stop.wait(0.3):
            out = self.cluster.kubectl("get", "httproute", self.route, "-n", self.namespace, "-o", "json", check=False)
            if out.returncode != 0:
                continue
            refs = json.loads(out.stdout)["spec"]["rules"][0]["backendRefs"]
            weights = {r["name"].rsplit("-", 1)[-1]: int(r.get("weight", 1)) for r in refs}
            with self._lock:
                self.weights = {"stable": weights.get("stable", 0), "canary": weights.get("canary", 0)}

    def _send(self, worker: int) -> None:
        interval = self.workers / self.rate
        rng = random.Random(worker)
        conns: dict[int, http.client.HTTPConnection] = {}
        next_at = time.monotonic() + rng.random() * interval
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            next_at += interval
            with self._lock:
                weights = dict(self.weights)
            total = weights["stable"] + weights["canary"]
            if total <= 0:
                continue
            track = "canary" if rng.random() * total < weights["canary"] else "stable"
            port = self.plane.port(track)
            if port is None:
                continue
            conn = conns.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conns[port] = conn
            path, draw = "/", rng.random()
            for candidate, share in self.paths:
                if draw < share:
                    path = candidate
                    break
                draw -= share
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except OSError:
                conn.close()
                conns.pop(port, None)
                status = 0
            with self._lock:
                self.sent[track] += 1
                self.statuses[status] = self.statuses.get(status, 0) + 1
        for conn in conns.values():
            conn.close()
