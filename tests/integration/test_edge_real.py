"""The in-app edge wrapper (asgi_edge.py) run for REAL in front of the example app (examples/app/main.py) by each
of the four servers, with the command line the operator renders (`server_command(spec)`, through the helpers of
test_servers_real.py) changed only as the pod will be: the app argument points at the wrapper, the server is told
where the wrapper's directory is (one flag per server, `EDGE_ARGV` below), and the user's app is named in
ASGI_EDGE_APP. The wrapper is copied alone into a temporary directory, as the ConfigMap mount holds it alone.

Nothing here needs Kubernetes (no `cluster` fixture): local processes only, every wait polled against a
deadline, every process killed in a `finally` (by `running`).
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest

from asgi_operator.api.models import AsgiServiceSpec
from asgi_operator.api.observability import ObservabilitySpec
from asgi_operator.api.servers import ServerKind
from asgi_operator.api.volumes import EDGE_DIR
from asgi_operator.edge import MODULE, SOURCE
from asgi_operator.render.servers import server_command
from integration.test_servers_real import (
    IDS,
    KINDS,
    MULTI_WORKER_KINDS,
    deadline_poll,
    make_spec,
    multiproc_env,
    running,
)
from lab.cluster import free_port

MOUNT = "asgi-edge"  # the directory the wrapper is mounted in (in the pod: a ConfigMap volume)
ALLOWED = "https://app.example.com"
DENIED = "https://evil.example.com"
CORS_IN_THE_APP = {
    "host": "app.example.com",
    "httpRoute": {"name": "platform-route"},  # an HTTPRoute the platform owns: CORS can only be in the app
    "cors": {
        "allowOrigins": [ALLOWED],
        "allowMethods": ["GET", "POST"],
        "allowHeaders": ["Authorization"],
        "allowCredentials": True,
        "maxAge": "2m",
        "enforcement": "App",
    },
}


# How the pod's argv changes when the wrapper is on (render/servers.py; everything else is the plain argv):
#   uvicorn   asgi_edge:app ... --app-dir DIR     (replaces uvicorn's default '' on sys.path: the wrapper puts the
#                                                  working directory back, see ASGI_EDGE_APP_DIR)
#   gunicorn  asgi_edge:app ... --pythonpath DIR  (gunicorn keeps --chdir, default the working directory, on sys.path)
#   hypercorn DIR/asgi_edge:app                   (hypercorn puts the module's directory on sys.path; no flag exists)
#   granian   ... DIR/asgi_edge:app               (the same; --working-dir would replace the working directory)
EDGE_ARGV: dict[ServerKind, Callable[[list[str]], bool]] = {
    ServerKind.UVICORN: lambda a: a[1] == f"{MODULE}:app" and a[a.index("--app-dir") + 1] == EDGE_DIR,
    ServerKind.GUNICORN: lambda a: a[1] == f"{MODULE}:app" and a[a.index("--pythonpath") + 1] == EDGE_DIR,
    ServerKind.HYPERCORN: lambda a: a[1] == f"{EDGE_DIR}/{MODULE}:app",
    ServerKind.GRANIAN: lambda a: a[-1] == f"{EDGE_DIR}/{MODULE}:app",
}


def edge_spec(kind: ServerKind, **server: Any) -> AsgiServiceSpec:
    """A spec as users write it (the wrapper is on by default), whose rendered argv points at the wrapper."""
    plain = make_spec(kind, free_port(), **server)
    spec = AsgiServiceSpec.model_validate({**plain.model_dump(by_alias=True), "expose": CORS_IN_THE_APP})
    argv = server_command(spec)
    assert EDGE_ARGV[kind](argv), argv
    assert spec.app not in argv, "the server imports the wrapper, the wrapper the app"
    return spec


def mount(tmp_path: Path) -> Path:
    """The wrapper alone in a directory laid out as the kubelet lays out a ConfigMap volume: the file is a
    symlink through `..data` to a timestamped directory (which is how updates are swapped in atomically)."""
    directory = tmp_path / MOUNT
    directory.mkdir(exist_ok=True)
    version = directory / "..2026_11_26_00_00_00.000000001"
    version.mkdir(exist_ok=True)
    shutil.copy(SOURCE, version / f"{MODULE}.py")
    if not (directory / "..data").exists():
        (directory / "..data").symlink_to(version.name)
        (directory / f"{MODULE}.py").symlink_to(f"..data/{MODULE}.py")
    return directory


def request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def access_lines(log: str) -> list[dict[str, Any]]:
    records = []
    for line in log.splitlines():
        if line.startswith('{"ts"'):
            record = json.loads(line)  # every line the wrapper writes parses, whole
            if record.get("logger") == "asgi_edge.access":
                records.append(record)
    return records


def line_for(server: Any, request_id: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        return next((r for r in access_lines(server.log()) if r["request_id"] == request_id), None)

    found: dict[str, Any] = deadline_poll(f"the access line of {request_id}", find, timeout=10)
    return found


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_the_wrapper_under_each_server(kind: ServerKind, tmp_path: Path) -> None:
    spec = edge_spec(kind)
    with running(spec, tmp_path, edge_dir=mount(tmp_path)) as server:
        server.wait_ready()

        # an incoming X-Request-ID goes through to the response and to the access line
        incoming = f"it-{uuid.uuid4()}"
        status, headers, body = request(server.port, "GET", "/", {"X-Request-ID": incoming, "User-Agent": "edge/1"})
        assert status == 200 and json.loads(body)["message"] == "hello"
        assert headers["x-request-id"] == incoming
        record = line_for(server, incoming)
        assert (record["method"], record["path"], record["route"], record["status"]) == ("GET", "/", "/", 200)
        assert isinstance(record["duration_ms"], float) and 0 <= record["duration_ms"] < 10_000
        assert record["bytes_out"] == len(body)
        assert record["client_ip"] == "127.0.0.1"
        assert record["user_agent"] == "edge/1"
        assert record["http_version"] == "1.1"
        assert record["level"] == "info" and record["ts"].endswith("Z")

        # none: a fresh one, echoed and logged
        status, headers, _ = request(server.port, "GET", "/checkout")
        fresh = headers["x-request-id"]
        assert status == 200 and len(fresh) == 32 and fresh != incoming
        assert line_for(server, fresh)["route"] == "/checkout"

        # CORS preflight: an allowed origin gets 200 and the headers, another origin gets neither
        preflight = {"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
        status, headers, _ = request(server.port, "OPTIONS", "/", preflight)
        assert status == 200
        assert headers["access-control-allow-origin"] == ALLOWED
        assert headers["access-control-allow-credentials"] == "true"
        assert headers["access-control-allow-methods"] == "GET, POST"
        assert headers["access-control-max-age"] == "120"
        assert line_for(server, headers["x-request-id"])["status"] == 200
        status, headers, _ = request(server.port, "OPTIONS", "/", {**preflight, "Origin": DENIED})
        assert status == 400
        assert "access-control-allow-origin" not in headers
        # a simple request from the allowed origin
        status, headers, _ = request(server.port, "GET", "/", {"Origin": ALLOWED})
        assert status == 200 and headers["access-control-allow-origin"] == ALLOWED

        # the app's own metrics still see every request (the wrapper sits outside the instrumentator)
        status, _, metrics = request(server.port, "GET", "/metrics")
        assert status == 200 and b'handler="/"' in metrics
        # /healthz (ASGI_EDGE_ACCESS_LOG_SKIP) is never logged, though the readiness wait polled it
        assert all(r["path"] != "/healthz" for r in access_lines(server.log()))
        # one line per request, nothing twice
        ids = [r["request_id"] for r in access_lines(server.log())]
        assert len(ids) == len(set(ids))


@pytest.mark.parametrize("kind", MULTI_WORKER_KINDS, ids=[k.value for k in MULTI_WORKER_KINDS])
def test_several_workers_write_whole_lines(kind: ServerKind, tmp_path: Path) -> None:
    """Every worker process imports the wrapper (spawned or forked) and writes its own lines to the same
    stdout: each request gets exactly one line, and every line parses (none interleaved with another)."""
    spec = edge_spec(kind, workers=2)
    env = multiproc_env(spec, tmp_path)
    with running(spec, tmp_path, env=env, edge_dir=mount(tmp_path)) as server:
        server.wait_ready()
        sent = [f"w-{n}-{uuid.uuid4().hex[:8]}" for n in range(24)]
        for request_id in sent:  # a new connection each time, so the requests spread over the workers
            status, headers, _ = request(server.port, "GET", "/", {"X-Request-ID": request_id})
            assert status == 200 and headers["x-request-id"] == request_id
        deadline_poll("every access line", lambda: len(access_lines(server.log())) >= len(sent), 10)
        assert sorted(r["request_id"] for r in access_lines(server.log())) == sorted(sent)


def exits(server: Any, timeout: float = 30) -> int:
    """The server's exit code once it gave up (in a pod: a restart, then CrashLoopBackOff), within `timeout`."""
    deadline_poll(f"{server.argv[0]} to exit", lambda: server.popen.poll() is not None, timeout)
    return int(server.popen.returncode)


# hypercorn 0.18 exits 0 when its worker cannot load the app (hypercorn/run.py run(): the worker's exit code is
# read by _join_exited, which forgets the worker, and the second _join_exited over no workers returns 0). The pod
# still restarts (restartPolicy Always), so it crash-loops all the same; the wrapper changes nothing about it.
EXITS_ZERO_ON_IMPORT_ERROR = {ServerKind.HYPERCORN}


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_an_app_that_fails_to_import_fails_as_without_the_wrapper(kind: ServerKind, tmp_path: Path) -> None:
    """The example app raises at import on a bad ERROR_RATE (the user's bug): with and without the wrapper the
    server exits with the same code (non-zero, but for hypercorn's quirk), and its log holds the user's exception
    with its traceback into main.py."""
    broken = {"ERROR_RATE": "not-a-number"}
    (tmp_path / "plain").mkdir()
    (tmp_path / "edge").mkdir()
    plain = make_spec(kind, free_port()).model_copy(update={"observability": ObservabilitySpec(wrapper=False)})
    with running(plain, tmp_path / "plain", env=broken) as s:
        plain_code = exits(s)
        plain_log = s.log()
    edged = edge_spec(kind)
    with running(edged, tmp_path / "edge", env=broken, edge_dir=mount(tmp_path)) as s:
        edge_code = exits(s)
        edge_log = s.log()
    assert (plain_code == 0) is (kind in EXITS_ZERO_ON_IMPORT_ERROR), f"{kind.value} exited {plain_code}"
    assert edge_code == plain_code, f"plain {plain_code}, wrapped {edge_code}:\n{edge_log[-3000:]}"
    for log in (plain_log, edge_log):
        assert "could not convert string to float: 'not-a-number'" in log, log[-3000:]
        assert "main.py" in log, "the traceback reaches into the user's module"
    assert "asgi_edge disabled" not in edge_log, "an app's own error is not the wrapper's to hide"


def test_a_bad_wrapper_configuration_serves_the_plain_app(tmp_path: Path) -> None:
    """A value the wrapper cannot use: one JSON error line, and the app is served as without the wrapper."""
    spec = edge_spec(ServerKind.UVICORN)
    env = {"ASGI_EDGE_CORS_MAX_AGE": "ten minutes"}
    with running(spec, tmp_path, env=env, edge_dir=mount(tmp_path)) as server:
        server.wait_ready()
        status, headers, body = request(server.port, "GET", "/", {"X-Request-ID": "r-1"})
        assert status == 200 and json.loads(body)["message"] == "hello"
        assert "x-request-id" not in headers
        reports = [json.loads(line) for line in server.log().splitlines() if line.startswith('{"ts"')]
        assert [r["logger"] for r in reports] == ["asgi_edge"]
        assert "ASGI_EDGE_CORS_MAX_AGE" in reports[0]["error"]
