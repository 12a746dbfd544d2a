"""The command line of each ASGI server, built from `spec.server`.

One small interface (`AsgiServer`) and one class per server. Each renders exactly the options the contract
says it supports (`api/servers.py`); the CRD rejects the others at apply time. Durations become whole
seconds, rounded up, because that is what every server's flags take.
"""

from __future__ import annotations

import math
from typing import Final, Protocol

from ..api.durations import seconds
from ..api.models import AsgiServiceSpec
from ..api.servers import ServerKind

BIND_HOST: Final = "0.0.0.0"  # noqa: S104 - a pod serves on its pod IP
DEFAULT_TRUSTED_PROXIES: Final = "127.0.0.1"


def _secs(duration: str) -> str:
    return str(math.ceil(seconds(duration)))


def _jitter(max_requests: int) -> str:
    """Spread worker recycling so workers do not all restart at once."""
    return str(max(1, max_requests // 10))


class AsgiServer(Protocol):
    kind: ServerKind

    def command(self, spec: AsgiServiceSpec) -> list[str]:
        """argv for the container: the server, its flags, the app."""
        ...


class Uvicorn:
    kind = ServerKind.UVICORN

    def command(self, spec: AsgiServiceSpec) -> list[str]:
        s = spec.server
        argv = [
            "uvicorn",
            spec.app,
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
        return argv + list(s.extra_args)


class Gunicorn:
    """gunicorn as the process manager, uvicorn in each worker (the `uvicorn-worker` package)."""

    kind = ServerKind.GUNICORN

    def command(self, spec: AsgiServiceSpec) -> list[str]:
        s = spec.server
        # UvicornWorker always parses proxy headers; trusting nobody is how to turn that off
        trusted = "" if s.proxy_headers is False else ",".join(s.trusted_proxies or [DEFAULT_TRUSTED_PROXIES])
        argv = [
            "gunicorn",
            spec.app,
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
            "--access-logfile",
            "-",
            "--error-logfile",
            "-",
        ]
        if s.backlog is not None:
            argv += ["--backlog", str(s.backlog)]
        if s.max_requests is not None:
            argv += ["--max-requests", str(s.max_requests), "--max-requests-jitter", _jitter(s.max_requests)]
        return argv + list(s.extra_args)


class Hypercorn:
    """Always one worker (ServerSpec.RULES refuses more): with several, hypercorn's main process kills the busy
    workers on SIGTERM as soon as an idle one has exited (hypercorn/run.py, run()), so requests are dropped."""

    kind = ServerKind.HYPERCORN

    def command(self, spec: AsgiServiceSpec) -> list[str]:
        s = spec.server
        argv = [
            "hypercorn",
            spec.app,
            "--bind",
            f"{BIND_HOST}:{spec.port}",
            "--workers",
            str(s.workers),
            "--keep-alive",
            _secs(s.keep_alive),
            "--graceful-timeout",
            _secs(s.graceful_shutdown_timeout),
            "--access-logfile",
            "-",
        ]
        if s.backlog is not None:
            argv += ["--backlog", str(s.backlog)]
        if s.max_requests is not None:
            argv += ["--max-requests", str(s.max_requests), "--max-requests-jitter", _jitter(s.max_requests)]
        if s.root_path is not None:
            argv += ["--root-path", s.root_path]
        return argv + list(s.extra_args)


class Granian:
    """Granian's HTTP/1 keep-alive is on/off; an idle connection is closed when no request header arrives
    within the header-read timeout, so keepAliveTimeout maps onto that timeout."""

    kind = ServerKind.GRANIAN

    def command(self, spec: AsgiServiceSpec) -> list[str]:
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
            "--access-log",
        ]
        if s.concurrency_limit is not None:
            argv += ["--backpressure", str(s.concurrency_limit)]
        if s.backlog is not None:
            argv += ["--backlog", str(s.backlog)]
        if s.root_path is not None:
            argv += ["--url-path-prefix", s.root_path]
        return [*argv, *s.extra_args, spec.app]


SERVERS: Final[dict[ServerKind, AsgiServer]] = {
    server.kind: server for server in (Uvicorn(), Gunicorn(), Hypercorn(), Granian())
}


def server_command(spec: AsgiServiceSpec) -> list[str]:
    return SERVERS[spec.server.kind].command(spec)
