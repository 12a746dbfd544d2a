"""The command lines the operator renders, run as REAL server processes (uvicorn, gunicorn + UvicornWorker,
hypercorn, granian from the virtualenv) serving the example app (examples/app/main.py).

Nothing is mocked: each test takes `server_command(spec)` as the pod would run it (only the program is replaced
by the virtualenv's executable, and the pod's emptyDir by a temporary directory), waits until /healthz answers,
and checks what the rendered flags are there for: the app is served, metrics work (also with several workers,
in prometheus multiprocess mode), SIGTERM drains in-flight requests and ends the process within the graceful
shutdown timeout, and that timeout really bounds the shutdown.

Every wait is a poll against a deadline; every process is killed in a `finally`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from asgi_operator import edge
from asgi_operator.api.models import AsgiServiceSpec
from asgi_operator.api.observability import ObservabilitySpec
from asgi_operator.api.servers import ServerKind
from asgi_operator.api.volumes import EDGE_DIR
from asgi_operator.render import edge as edge_env
from asgi_operator.render.meta import Owner
from asgi_operator.render.servers import server_command
from asgi_operator.render.workload import MULTIPROC_DIR, MULTIPROC_ENV, pod_template
from lab.cluster import free_port

REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "examples" / "app"
VENV_BIN = Path(sys.executable).parent
KINDS = list(ServerKind)
IDS = [k.value for k in KINDS]
STARTUP_TIMEOUT = 30.0

# Granian rejects --http1-header-read-timeout above 60000 ms (see test_rendered_command_line_starts), so the
# granian specs keep keepAliveTimeout below 60 s.
GRANIAN_KEEP_ALIVE = {"keepAliveTimeout": "55s", "loadBalancerIdleTimeout": "50s"}

# What each server's main process exits with after a clean SIGTERM shutdown. uvicorn (single process) re-raises
# the signal once it has shut down gracefully, so it ends "killed by SIGTERM" (143 in a container).
CLEAN_EXIT: dict[ServerKind, set[int]] = {
    ServerKind.UVICORN: {0, -signal.SIGTERM},
    ServerKind.GUNICORN: {0},
    ServerKind.HYPERCORN: {0},
    ServerKind.GRANIAN: {0},
}
# Servers that stop accepting connections as soon as SIGTERM arrives, while in-flight requests drain. hypercorn
# keeps its listening socket open until it exits (harmless behind the preStop delay, but not testable here), and
# so does uvicorn's multiprocess supervisor (several workers): it holds the socket until its workers have exited.
CLOSES_LISTENER_ON_SIGTERM = {ServerKind.UVICORN, ServerKind.GUNICORN, ServerKind.GRANIAN}


def closes_listener_on_sigterm(kind: ServerKind, workers: int) -> bool:
    return kind in CLOSES_LISTENER_ON_SIGTERM and not (kind is ServerKind.UVICORN and workers > 1)


ACCESS_LOG = re.compile(r'"GET / (HTTP/)?1\.1" 200')
# A log line each worker prints once it serves. Signals that arrive while workers are still starting are not what
# these tests are about (granian, for one, can hang on a SIGTERM that arrives while it spawns a worker).
WORKER_READY: dict[ServerKind, str] = {
    ServerKind.UVICORN: "Application startup complete",
    ServerKind.GUNICORN: "Application startup complete",
    ServerKind.HYPERCORN: "Running on http://",
    ServerKind.GRANIAN: "Started worker-",
}


def make_spec(kind: ServerKind, port: int, **server: Any) -> AsgiServiceSpec:
    base = dict(GRANIAN_KEEP_ALIVE) if kind is ServerKind.GRANIAN else {}
    return AsgiServiceSpec.model_validate(
        {
            "image": "registry.example.com/hello:1.0",
            "app": "main:app",
            "port": port,
            "server": {"kind": kind.value, **base, **server},
        }
    )


def accepts(kind: ServerKind, **server: Any) -> bool:
    """Whether the models (and so the CRD, see tests/invalid_specs.py) accept these server options for `kind`."""
    try:
        make_spec(kind, 8000, **server)
    except ValidationError:
        return False
    return True


# Every server kind with every worker count the contract lets it run with: several workers are a separate case
# for shutdown, since the main process must wait for every worker to drain, not only the first one to exit.
KIND_WORKERS = [
    pytest.param(kind, workers, id=f"{kind.value}-{workers}w")
    for kind in KINDS
    for workers in (1, 2)
    if accepts(kind, workers=workers)
]
MULTI_WORKER_KINDS = [kind for kind in KINDS if accepts(kind, workers=2)]


def multiproc_env(spec: AsgiServiceSpec, tmp_path: Path) -> dict[str, str]:
    """The pod's prometheus multiprocess directory (several workers only), as a temporary directory."""
    if spec.server.workers == 1:
        return {}
    directory = tmp_path / "prometheus-multiproc"
    directory.mkdir(exist_ok=True)
    return {MULTIPROC_ENV: str(directory)}


def deadline_poll(what: str, predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def connection_refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


@dataclass
class Server:
    spec: AsgiServiceSpec
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def port(self) -> int:
        return self.spec.port

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"{self.argv[0]} exited with {self.popen.returncode} before serving:\n{self.log()[-3000:]}"
                )
            with contextlib.suppress(OSError):
                workers_up = self.log().count(WORKER_READY[self.spec.server.kind]) >= self.spec.server.workers
                if workers_up and get(self.port, "/healthz", timeout=2)[0] == 200:
                    return
            time.sleep(0.05)
        raise AssertionError(f"{self.argv} not serving /healthz after {timeout}s:\n{self.log()[-3000:]}")

    def sigterm(self) -> float:
        """SIGTERM to the main process only, as the kubelet does; returns when it was sent."""
        self.popen.send_signal(signal.SIGTERM)
        return time.monotonic()

    def wait_exit(self, timeout: float) -> tuple[int, float]:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.argv[0]} still running {timeout}s after SIGTERM:\n{self.log()[-3000:]}"
            ) from None
        return code, time.monotonic()

    def kill(self) -> None:
        # the server runs in its own session: its process group is the server and its workers, nothing else
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)


def edge_mount(tmp_path: Path) -> Path:
    """The asgi_edge wrapper alone in a directory, as its ConfigMap volume holds it in the pod."""
    directory = tmp_path / "asgi-edge"
    directory.mkdir(exist_ok=True)
    (directory / f"{edge.MODULE}.py").write_text(edge.SOURCE.read_text())
    return directory


@contextlib.contextmanager
def running(
    spec: AsgiServiceSpec, tmp_path: Path, env: dict[str, str] | None = None, edge_dir: Path | None = None
) -> Iterator[Server]:
    """The server as the pod runs it: the rendered argv, behind the asgi_edge wrapper when the spec has it (by
    default), with the wrapper's environment from the rendering and its directory in place of the mount."""
    argv = server_command(spec)
    wrapper_env: dict[str, str] = {}
    if edge_env.enabled(spec):
        mount = str(edge_dir or edge_mount(tmp_path))
        argv = [arg.replace(EDGE_DIR, mount) for arg in argv]
        wrapper_env = {e["name"]: e["value"] for e in edge_env.environment(spec)}
    program = VENV_BIN / argv[0]
    assert program.exists(), f"{program} is not installed in the virtualenv (pip install -e '.[example]')"
    argv = [str(program), *argv[1:]]
    log_path = tmp_path / f"{spec.server.kind.value}-{spec.port}.log"
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    process_env = {
        **os.environ,
        # gunicorn puts its control socket under $XDG_RUNTIME_DIR (else ~/.gunicorn): keep it in the test's dir
        "XDG_RUNTIME_DIR": str(runtime),
        **wrapper_env,
        **(env or {}),
    }
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            argv, cwd=APP_DIR, stdout=log, stderr=subprocess.STDOUT, env=process_env, start_new_session=True
        )
    server = Server(spec, argv, popen, log_path)
    try:
        yield server
    finally:
        server.kill()


def request_in_background(port: int, path: str = "/") -> tuple[threading.Thread, dict[str, Any], int]:
    """Send a request and read its response in a thread. Returns once the server process has READ the
    request (so it is in flight, not just queued in the kernel), with the thread, its result and the client
    port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.connect()
    assert conn.sock is not None
    client_port = conn.sock.getsockname()[1]
    conn.request("GET", path)
    result: dict[str, Any] = {}

    def read() -> None:
        try:
            response = conn.getresponse()
            result["status"], result["body"] = response.status, response.read()
        except (OSError, http.client.HTTPException) as e:
            result["error"] = e
        finally:
            result["at"] = time.monotonic()
            conn.close()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    deadline_poll("the server to read the request", lambda: request_was_read(port, client_port), 10)
    return thread, result, client_port


def _tcp_sockets() -> Iterator[tuple[int, int, int, int, int]]:
    """(local port, remote port, state, tx_queue, rx_queue) of every IPv4 TCP socket on loopback."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote, state, queues = parts[1], parts[2], parts[3], parts[4]
        if not local.startswith("0100007F:") or not remote.startswith("0100007F:"):
            continue
        tx, rx = (int(q, 16) for q in queues.split(":"))
        yield int(local.split(":")[1], 16), int(remote.split(":")[1], 16), int(state, 16), tx, rx


def request_was_read(server_port: int, client_port: int) -> bool:
    """True once our request bytes were acknowledged (client send queue empty) and read by the server process
    (its receive queue empty): the server is handling the request."""
    established = 1
    client = server = None
    for local, remote, state, tx, rx in _tcp_sockets():
        if state != established:
            continue
        if (local, remote) == (client_port, server_port):
            client = tx
        elif (local, remote) == (server_port, client_port):
            server = rx
    return client == 0 and server == 0


def requests_total(metrics_text: str, handler: str = "/") -> float:
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "http_requests_total" and sample.labels.get("handler") == handler:
                total += sample.value
    return total


# ------------------------------------------------------------------------------------------------ serving
@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_server_serves_the_app_and_shuts_down_cleanly(kind: ServerKind, tmp_path: Path) -> None:
    spec = make_spec(kind, free_port(), gracefulShutdownTimeout="10s")
    with running(spec, tmp_path) as server:
        server.wait_ready()
        for _ in range(3):
            status, body = get(server.port, "/")
            assert status == 200
            assert json.loads(body) == {"message": "hello", "version": "v1"}
        status, body = get(server.port, "/metrics")
        assert status == 200
        assert requests_total(body.decode()) == 3  # the instrumentator counted every GET /

        sent = server.sigterm()
        code, exited = server.wait_exit(timeout=10 + 5)
        assert exited - sent < 10, "an idle server must exit well within its graceful timeout"
        assert code in CLEAN_EXIT[kind], f"exit code {code}:\n{server.log()[-3000:]}"
        assert connection_refused(server.port)
        log = server.log()
        # behind the asgi_edge wrapper (the default): its JSON line per request, and not the server's own
        lines = [json.loads(x) for x in log.splitlines() if x.startswith('{"ts"') and '"asgi_edge.access"' in x]
        assert [(x["path"], x["status"]) for x in lines if x["path"] == "/"] == [("/", 200)] * 3, log[-3000:]
        assert not ACCESS_LOG.search(log), "the server's own access line too: every request logged twice"
        if kind in (ServerKind.UVICORN, ServerKind.GUNICORN):
            assert "Application shutdown complete" in log  # lifespan shutdown ran: a graceful exit, not a kill


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_without_the_wrapper_the_server_runs_the_app_itself_and_logs_access(kind: ServerKind, tmp_path: Path) -> None:
    spec = make_spec(kind, free_port()).model_copy(update={"observability": ObservabilitySpec(wrapper=False)})
    assert spec.app in server_command(spec) and EDGE_DIR not in " ".join(server_command(spec))
    with running(spec, tmp_path) as server:
        server.wait_ready()
        status, _ = get(server.port, "/")
        assert status == 200
        deadline_poll("the server's own access line", lambda: ACCESS_LOG.search(server.log()), 10)
        assert '"asgi_edge.access"' not in server.log()


@pytest.mark.parametrize("kind", MULTI_WORKER_KINDS, ids=[k.value for k in MULTI_WORKER_KINDS])
def test_several_workers_share_metrics_in_multiprocess_mode(kind: ServerKind, tmp_path: Path) -> None:
    spec = make_spec(kind, free_port(), workers=2)
    # the environment the pod gets, with the pod's emptyDir replaced by a temporary directory
    template, _ = pod_template(Owner("hello", "default", "uid"), spec)
    rendered_env = {e["name"]: e["value"] for e in template["spec"]["containers"][0]["env"] if "value" in e}
    assert rendered_env[MULTIPROC_ENV] == MULTIPROC_DIR
    multiproc = tmp_path / "prometheus-multiproc"
    multiproc.mkdir()
    env = {**rendered_env, MULTIPROC_ENV: str(multiproc)}
    requests = 24
    with running(spec, tmp_path, env=env) as server:
        server.wait_ready()
        for _ in range(requests):  # a new connection each time, so the requests spread over the workers
            assert get(server.port, "/")[0] == 200
        # whichever worker answers /metrics reports what every worker counted
        for _ in range(4):
            status, body = get(server.port, "/metrics")
            assert status == 200
            assert requests_total(body.decode()) == requests
        assert list(multiproc.glob("counter_*.db")), "prometheus_client did not run in multiprocess mode"
        server.sigterm()
        code, _ = server.wait_exit(timeout=30)
        assert code in CLEAN_EXIT[kind]


# ------------------------------------------------------------------------------------------------ shutdown
@pytest.mark.parametrize(("kind", "workers"), KIND_WORKERS)
def test_in_flight_request_completes_after_sigterm(kind: ServerKind, workers: int, tmp_path: Path) -> None:
    """SIGTERM goes to the main process only (the kubelet signals the container's PID 1): with several workers
    it must still wait for the busy worker, however soon the idle ones exit."""
    spec = make_spec(kind, free_port(), workers=workers, gracefulShutdownTimeout="10s")
    with running(spec, tmp_path, env={"LATENCY_MS": "1500", **multiproc_env(spec, tmp_path)}) as server:
        server.wait_ready()
        thread, result, _ = request_in_background(server.port)
        sent = server.sigterm()
        if closes_listener_on_sigterm(kind, workers):
            # new connections are refused at once, while the slow request is still being served
            deadline_poll("the listener to close", lambda: connection_refused(server.port), 5)
            assert "at" not in result, "the in-flight request had already finished: the test proves nothing"
            assert server.popen.poll() is None
        thread.join(timeout=15)
        assert not thread.is_alive()
        assert result.get("status") == 200, f"in-flight request lost: {result}\n{server.log()[-3000:]}"
        assert json.loads(result["body"])["message"] == "hello"
        assert result["at"] > sent  # it was answered after SIGTERM, i.e. drained
        code, exited = server.wait_exit(timeout=15)
        assert exited - sent < 10
        assert code in CLEAN_EXIT[kind], f"exit code {code}:\n{server.log()[-3000:]}"


@pytest.mark.parametrize(("kind", "workers"), KIND_WORKERS)
def test_graceful_timeout_bounds_the_shutdown(kind: ServerKind, workers: int, tmp_path: Path) -> None:
    """A request slower than gracefulShutdownTimeout does not hold the pod: the rendered flag makes the server
    give up after ~1 s. (Every server's own default is longer: uvicorn waits forever, gunicorn 30 s, hypercorn
    3 s, granian forever, so this fails if the flag is missing or mis-mapped.)"""
    spec = make_spec(kind, free_port(), workers=workers, gracefulShutdownTimeout="1s")
    with running(spec, tmp_path, env={"LATENCY_MS": "20000", **multiproc_env(spec, tmp_path)}) as server:
        server.wait_ready()
        thread, result, _ = request_in_background(server.port)
        sent = server.sigterm()
        _, exited = server.wait_exit(timeout=15)
        assert 0.8 <= exited - sent <= 2.6, f"exited {exited - sent:.2f}s after SIGTERM, graceful timeout 1s"
        thread.join(timeout=5)
        assert result.get("status") != 200


def test_hypercorn_with_several_workers_drops_in_flight_requests(tmp_path: Path) -> None:
    """Why the models and the CRD refuse hypercorn with workers > 1. hypercorn 0.18 (hypercorn/run.py, run()): on
    SIGTERM the main process sets the workers' shutdown event and waits only until the FIRST worker exits; an idle
    worker exits at once, and the main process then terminate()s the rest. hypercorn's spawned workers have no
    SIGTERM handler (they poll the shutdown event instead), so the busy one dies with its requests, and the main
    process still exits 0. If this test fails, hypercorn drains now: lift the rule in ServerSpec.RULES."""
    with pytest.raises(ValidationError, match="drops in-flight requests on SIGTERM"):
        make_spec(ServerKind.HYPERCORN, free_port(), workers=2)
    one = make_spec(ServerKind.HYPERCORN, free_port(), gracefulShutdownTimeout="10s")
    # model_copy skips validation: the command line the operator would render if it accepted workers: 2
    spec = one.model_copy(update={"server": one.server.model_copy(update={"workers": 2})})
    argv = server_command(spec)
    assert argv[argv.index("--workers") + 1] == "2"
    with running(spec, tmp_path, env={"LATENCY_MS": "5000", **multiproc_env(spec, tmp_path)}) as server:
        server.wait_ready()
        thread, result, _ = request_in_background(server.port)
        sent = server.sigterm()
        code, exited = server.wait_exit(timeout=15)
        thread.join(timeout=15)
        assert not thread.is_alive()
        assert "error" in result, f"hypercorn drained with 2 workers ({result}): lift the rule\n{server.log()[-3000:]}"
        assert result["at"] - sent < 3, "the request was dropped long before its 5 s latency"
        assert exited - sent < 3, "the main process did not wait for the busy worker"
        assert code == 0, "and its exit code hides the killed worker"


# ------------------------------------------------------------------------------------------------ options
ALL_OPTIONS: dict[ServerKind, dict[str, Any]] = {
    ServerKind.UVICORN: {
        "workers": 2,
        "backlog": 256,
        "maxRequests": 1000,
        "concurrencyLimit": 100,
        "trustedProxies": ["10.0.0.0/8", "127.0.0.1"],
        "lifespan": "auto",
        "rootPath": "/api",
    },
    ServerKind.GUNICORN: {"workers": 2, "backlog": 256, "maxRequests": 1000, "proxyHeaders": False},
    # one worker: hypercorn with several is refused (test_hypercorn_with_several_workers_drops_in_flight_requests)
    ServerKind.HYPERCORN: {"backlog": 256, "maxRequests": 1000, "rootPath": "/api"},
    ServerKind.GRANIAN: {"workers": 2, "backlog": 256, "concurrencyLimit": 100, "rootPath": "/api"},
}
STARTS = [
    *(pytest.param(kind, options, id=f"{kind.value}-all-options") for kind, options in ALL_OPTIONS.items()),
    # granian's keep-alive is capped at 60 s: its defaults (60 s, load balancer 55 s) must start
    pytest.param(ServerKind.GRANIAN, {}, id="granian-defaults"),
    pytest.param(ServerKind.GRANIAN, {"keepAliveTimeout": "60s", "loadBalancerIdleTimeout": "50s"}, id="granian-60s"),
]


GRANIAN_OUT_OF_RANGE = [
    pytest.param({"keepAliveTimeout": "65s", "loadBalancerIdleTimeout": "60s"}, "at most 60s", id="keep-alive-65s"),
    pytest.param({"backlog": 64}, "at least 128", id="small-backlog"),
    pytest.param({"gracefulShutdownTimeout": "0s"}, "from 1s to 30m", id="no-graceful-shutdown"),
    pytest.param({"gracefulShutdownTimeout": "45m"}, "from 1s to 30m", id="long-graceful-shutdown"),
]


@pytest.mark.parametrize(("options", "words"), GRANIAN_OUT_OF_RANGE)
def test_granian_values_its_cli_refuses_are_rejected_up_front(options: dict[str, Any], words: str) -> None:
    """granian's CLI refuses these (the pod would crash-loop): the models, like the CRD, reject them."""
    with pytest.raises(ValidationError, match=words):
        make_spec(ServerKind.GRANIAN, free_port(), **options)


@pytest.mark.parametrize(("kind", "options"), STARTS)
def test_rendered_command_line_starts(kind: ServerKind, options: dict[str, Any], tmp_path: Path) -> None:
    """Every spec the models accept renders a command line the server accepts."""
    spec = make_spec(kind, free_port(), **options)
    multiproc = tmp_path / "prometheus-multiproc"
    multiproc.mkdir()
    env = {MULTIPROC_ENV: str(multiproc)} if spec.server.workers > 1 else {}
    with running(spec, tmp_path, env=env) as server:
        server.wait_ready()
        assert get(server.port, "/")[0] == 200


@pytest.mark.parametrize(
    "kind",
    [
        ServerKind.UVICORN,
        ServerKind.HYPERCORN,
        ServerKind.GRANIAN,
    ],
    ids=["uvicorn", "hypercorn", "granian"],
)
def test_root_path_serves_prefixed_requests(kind: ServerKind, tmp_path: Path) -> None:
    spec = make_spec(kind, free_port(), rootPath="/api")
    # uvicorn prepends root_path to every path, so the operator's HTTPRoute strips the prefix for it
    # (render.network: URLRewrite ReplacePrefixMatch); hypercorn and granian take the prefixed path
    forwarded = "/" if kind is ServerKind.UVICORN else "/api/"
    with running(spec, tmp_path) as server:
        server.wait_ready()  # probes hit the pod without the prefix
        status, body = get(server.port, forwarded)  # what the rendered route forwards for https://host/api/
        assert status == 200, body
        assert json.loads(body)["message"] == "hello"
