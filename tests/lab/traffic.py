"""The data plane the lab lacks, played by real processes: what a gateway and kubelets would do.

- `Prometheus`: a real Prometheus scraping every second, with the labels a PodMonitor would attach.
- `DataPlane`: for each of an AsgiService's Deployments (stable, canary) with pods, one real Uvicorn process
  running the example app with the env of that Deployment's pod template (so a release with ERROR_RATE=0.05
  in its spec really answers 5 % errors), registered as a scrape target with namespace, name, track and
  revision labels.
- `LoadDriver`: sends requests at a fixed rate, split between stable and canary by the weights the operator
  wrote into the HTTPRoute.

Everything binds to 127.0.0.1 and is bounded in time and count; stop() ends every process.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cluster import REPO, Cluster, GaveUp, die_with_parent, free_port, terminate, wait_for
from .pki import ServerCert

APP_DIR = REPO / "examples" / "app"
UVICORN = Path(sys.executable).parent / "uvicorn"


@dataclass(frozen=True)
class WebSecurity:
    """Prometheus' own `--web.config.file`: HTTPS with this certificate, and basic auth (stored as a bcrypt hash)."""

    cert: ServerCert
    ca_file: Path  # what the lab's own requests trust
    username: str
    password: str

    def config(self) -> dict[str, Any]:
        import bcrypt

        hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=4)).decode()  # cheap rounds: a test
        return {
            "tls_server_config": {"cert_file": str(self.cert.cert_file), "key_file": str(self.cert.key_file)},
            "basic_auth_users": {self.username: hashed},
        }


class Prometheus:
    """A real Prometheus, scraping the targets in a file (file_sd) every second; with `web`, only over HTTPS and
    with basic auth (its own --web.config.file)."""

    def __init__(self, bin_dir: Path, scrape_interval: str = "1s", web: WebSecurity | None = None) -> None:
        self.web = web
        self.workdir = Path(tempfile.mkdtemp(prefix="asgi-prom-"))
        self.targets = self.workdir / "targets.json"
        self.targets.write_text("[]")
        self.port = free_port()
        self.binary = str(bin_dir / "prometheus")
        (self.workdir / "prometheus.yml").write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
                    "scrape_configs": [
                        {
                            "job_name": "asgi",
                            "scrape_interval": scrape_interval,
                            "scrape_timeout": "900ms",
                            "file_sd_configs": [{"files": [str(self.targets)], "refresh_interval": "1s"}],
                        }
                    ],
                }
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.web else 'http'}://127.0.0.1:{self.port}"

    def _open(self, url: str, timeout: float) -> Any:
        """GET `url` as the lab's own client (with `web`: its basic auth, trusting the lab's CA)."""
        if self.web is None:
            return urllib.request.urlopen(url, timeout=timeout)
        context = ssl.create_default_context(cafile=str(self.web.ca_file))
        context.check_hostname = False  # the certificate names prometheus.lab.test, not 127.0.0.1; still verified
        request = urllib.request.Request(url)
        token = f"{self.web.username}:{self.web.password}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
        return urllib.request.urlopen(request, timeout=timeout, context=context)

    def start(self) -> Prometheus:
        log = (self.workdir / "prometheus.log").open("ab")
        web_flags = []
        if self.web is not None:
            (self.workdir / "web.yml").write_text(json.dumps(self.web.config()))
            web_flags = [f"--web.config.file={self.workdir / 'web.yml'}"]
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
                "--storage.tsdb.retention.time=1h",
                *web_flags,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        wait_for("Prometheus ready", self.ready, 60)
        return self

    def ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise GaveUp("Prometheus exited:\n" + (self.workdir / "prometheus.log").read_text()[-2000:])
        with self._open(f"{self.url}/-/ready", timeout=2) as resp:
            return bool(resp.status == 200)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, grace=20)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def set_targets(self, groups: list[dict[str, Any]]) -> None:
        tmp = self.targets.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups))
        tmp.replace(self.targets)

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with self._open(url, timeout=5) as resp:
            return list(json.loads(resp.read())["data"]["result"])

    def queries_served(self) -> float:
        """How many instant queries this Prometheus has answered (its own counter)."""
        with self._open(f"{self.url}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/query"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total


@dataclass
class _App:
    revision: str
    env: dict[str, str]
    port: int
    proc: subprocess.Popen[bytes]


@dataclass
class DataPlane:
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

    def start(self) -> DataPlane:
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
class LoadDriver:
    """Requests at `rate` per second, each sent to stable or canary by the HTTPRoute's weights."""

    cluster: Cluster
    namespace: str
    route: str
    plane: DataPlane
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

    def start(self) -> LoadDriver:
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
