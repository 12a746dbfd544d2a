"""The command line of each ASGI server, built from `spec.server`.

One small interface (`AsgiServer`) and one class per server. Each renders exactly the options the contract
says it supports (`api/servers.py`); the CRD rejects the others at apply time. Durations become whole
seconds, rounded up, because that is what every server's flags take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Protocol

from ..api.durations import seconds
from ..api.models import AsgiServiceSpec
from ..api.servers import ServerKind
from ..api.volumes import EDGE_DIR
from ..edge import MODULE
from .edge import FACTORY_FLAG
from .edge import enabled as edge_enabled

BIND_HOST: Final = "0.0.0.0"  # noqa: S104 - a pod serves on its pod IP
DEFAULT_TRUSTED_PROXIES: Final = "127.0.0.1"


def _secs(duration: str) -> str:
    return str(math.ceil(seconds(duration)))


def _jitter(max_requests: int) -> str:
    """Spread worker recycling so workers do not all restart at once."""
    return str(max(1, max_requests // 10))


@dataclass(frozen=True)
class Launch:
    """What the server is told to run, and around it: the app itself, or the asgi_edge wrapper in front of it."""

    app: str  # the import path given to the server
    app_dir: tuple[str, ...] = ()  # the server's flag adding the wrapper's directory to the import path
    access_log: bool = True  # the server's own access log (off behind the wrapper: it writes the JSON line)
    extra_args: tuple[str, ...] = ()


class AsgiServer(Protocol):
    kind: ServerKind

    def command(self, spec: AsgiServiceSpec, launch: Launch) -> list[str]:
        """argv for the container: the server, its flags, the app."""
        ...

    def behind_edge(self) -> tuple[str, tuple[str, ...]]:
        """The app argument and flags that make this server import the wrapper from its mount."""
        ...


class Uvicorn:
    kind = ServerKind.UVICORN

    def behind_edge(self) -> tuple[str, tuple[str, ...]]:
        return f"{MODULE}:app", ("--app-dir", EDGE_DIR)

    def command(self, spec: AsgiServiceSpec, launch: Launch) -> list[str]:
        s = spec.server
        argv = [
            "uvicorn",
            launch.app,
            *launch.app_dir,
            "--host",
            BIND_HOST,
            "--port",
            str(spec.port),
            "--workers",
            str(s.workers),
            "--timeout-keep-alive",
            _secs(s.keep_alive),
            "--timeout-graceful-shutdown",
            _secs(s.graceful_shutdown_timeout),
            "--lifespan",
            s.lifespan or "on",
        ]
        if s.proxy_headers is False:
            argv += ["--no-proxy-headers"]
        else:
            argv += [
                "--proxy-headers",
                "--forwarded-allow-ips",
                ",".join(s.trusted_proxies or [DEFAULT_TRUSTED_PROXIES]),
            ]
        if s.concurrency_limit is not None:
            argv += ["--limit-concurrency", str(s.concurrency_limit)]
        if s.backlog is not None:
            argv += ["--backlog", str(s.backlog)]
        if s.max_requests is not None:
            argv += [
                "--limit-max-requests",
                str(s.max_requests),
                "--limit-max-requests-jitter",
                _jitter(s.max_requests),
            ]
        if s.root_path is not None:
            argv += ["--root-path", s.root_path]
        if not launch.access_log:
            argv += ["--no-access-log"]
        return argv + list(launch.extra_args)


class Gunicorn:
    """gunicorn as the process manager, uvicorn in each worker (the `uvicorn-worker` package)."""

    kind = ServerKind.GUNICORN

    def behind_edge(self) -> tuple[str, tuple[str, ...]]:
        return f"{MODULE}:app", ("--pythonpath", EDGE_DIR)

    def command(self, spec: AsgiServiceSpec, launch: Launch) -> list[str]:
        s = spec.server
        # UvicornWorker always parses proxy headers; trusting nobody is how to turn that off
        trusted = "" if s.proxy_headers is False else ",".join(s.trusted_proxies or [DEFAULT_TRUSTED_PROXIES])
        argv = [
            "gunicorn",
            launch.app,
            *launch.app_dir,
            "--worker-class",
            "uvicorn_worker.UvicornWorker",
            "--bind",
            f"{BIND_HOST}:{spec.port}",
            "--workers",
            str(s.workers),
            "--keep-alive",
            _secs(s.keep_alive),
            "--graceful-timeout",
            _secs(s.graceful_shutdown_timeout),
            "--forwarded-allow-ips",
            trusted,
            "--worker-tmp-dir",
            "/tmp",  # noqa: S108 - the pod's writable emptyDir; the root fs is read-only
            *(["--access-logfile", "-"] if launch.access_log else []),
            "--error-logfile",
            "-",
        ]
        if s.backlog is not None:
            argv += ["--backlog", str(s.backlog)]
        if s.max_requests is not None:
            argv += ["--max-requests", str(s.max_requests), "--max-requests-jitter", _jitter(s.max_requests)]
        return argv + list(launch.extra_args)


class Hypercorn:
    """Always one worker (ServerSpec.RULES refuses more): with several, hypercorn's main process kills the busy
    workers on SIGTERM as soon as an idle one has exited (hypercorn/run.py, run()), so requests are dropped."""

    kind = ServerKind.HYPERCORN

    def behind_edge(self) -> tuple[str, tuple[str, ...]]:
        return f"{EDGE_DIR}/{MODULE}:app", ()  # hypercorn puts a path's directory on the import path itself

    def command(self, spec: AsgiServiceSpec, launch: Launch) -> list[str]:
        s = spec.server
        argv = [
            "hypercorn",
            launch.app,
            "--bind",
            f"{BIND_HOST}:{spec.port}",
            "--workers",
            str(s.workers),
            "--keep-alive",
            _secs(s.keep_alive),
            "--graceful-timeout",
            _secs(s.graceful_shutdown_timeout),
            *(["--access-logfile", "-"] if launch.access_log else []),
        ]
        if s.backlog is not None:
            argv += ["--backlog", str(s.backlog)]
        if s.max_requests is not None:
            argv += ["--max-requests", str(s.max_requests), "--max-requests-jitter", _jitter(s.max_requests)]
        if s.root_path is not None:
            argv += ["--root-path", s.root_path]
        return argv + list(launch.extra_args)


class Granian:
    """Granian's HTTP/1 keep-alive is on/off; an idle connection is closed when no request header arrives
    within the header-read timeout, so keepAliveTimeout maps onto that timeout."""

    kind = ServerKind.GRANIAN

    def behind_edge(self) -> tuple[str, tuple[str, ...]]:
        # a path target (not --working-dir, which would change where the user's app is imported from)
        return f"{EDGE_DIR}/{MODULE}:app", ()

    def command(self, spec: AsgiServiceSpec, launch: Launch) -> list[str]:
        s = spec.server
        argv = [
            "granian",
            "--interface",
            "asgi",
            "--host",
            BIND_HOST,
            "--port",
            str(spec.port),
            "--workers",
            str(s.workers),
            "--http1-keep-alive",
            "--http1-header-read-timeout",
            str(math.ceil(seconds(s.keep_alive) * 1000)),
            "--workers-kill-timeout",
            _secs(s.graceful_shutdown_timeout),
            "--respawn-failed-workers",
            *(["--access-log"] if launch.access_log else []),
        ]
        if s.concurrency_limit is not None:
            argv += ["--backpressure", str(s.concurrency_limit)]
        if s.backlog is not None:
            argv += ["--backlog", str(s.backlog)]
        if s.root_path is not None:
            argv += ["--url-path-prefix", s.root_path]
        return [*argv, *launch.extra_args, launch.app]


SERVERS: Final[dict[ServerKind, AsgiServer]] = {
    server.kind: server for server in (Uvicorn(), Gunicorn(), Hypercorn(), Granian())
}


def launch(spec: AsgiServiceSpec) -> Launch:
    if not edge_enabled(spec):
        return Launch(spec.app, extra_args=tuple(spec.server.extra_args))
    app, app_dir = SERVERS[spec.server.kind].behind_edge()
    # --factory moves to the wrapper (ASGI_EDGE_FACTORY): the server must call asgi_edge.app, not build it
    extra = tuple(a for a in spec.server.extra_args if a != FACTORY_FLAG)
    return Launch(app, app_dir, access_log=False, extra_args=extra)


def server_command(spec: AsgiServiceSpec) -> list[str]:
    return SERVERS[spec.server.kind].command(spec, launch(spec))
