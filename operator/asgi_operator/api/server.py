"""`spec.server`: how the ASGI server runs the app, and the defaults that differ between servers."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Final, Literal

from pydantic import Field

from .base import Model
from .durations import Duration, format_seconds, seconds
from .patterns import is_ip_or_cidr
from .rules import Rule, cel_string
from .servers import UNSUPPORTED, ServerKind

DEFAULT_KEEP_ALIVE: Final = "65s"
# AWS ALB's default idle timeout
DEFAULT_LB_IDLE: Final = "60s"
# granian keeps an idle connection at most this long (its HTTP/1 header-read timeout) ...
GRANIAN_KEEP_ALIVE: Final = "60s"
# ... so the load balancer in front of it must close idle connections sooner
GRANIAN_LB_IDLE: Final = "55s"
# granian's --workers-kill-timeout range, in seconds
GRANIAN_MIN_GRACEFUL_SHUTDOWN: Final = 1
GRANIAN_MAX_GRACEFUL_SHUTDOWN: Final = 1800
GRANIAN_MIN_BACKLOG: Final = 128

_GRANIAN: Final = cel_string(ServerKind.GRANIAN.value)


def _unsupported(option: str, kind: ServerKind, why: str) -> Rule:
    attribute = _snake(option)

    def check(server: ServerSpec) -> bool:
        return server.kind != kind or getattr(server, attribute) is None

    return Rule(
        f"!has(self.{option}) || self.kind != {cel_string(kind.value)}",
        f"{option} is not supported by {kind.value}: {why}",
        check,
        f".{option}",
    )


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


class ServerSpec(Model):
    """How the ASGI server runs the app. Defaults suit a container behind a load balancer."""

    kind: ServerKind = Field(ServerKind.UVICORN, description="The ASGI server the image runs the app with.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Worker processes per pod. Scale with replicas (and the HPA) first; the operator never "
        "derives this from the node's CPU count. Above 1, prometheus_client runs in multiprocess mode.",
    )
    keep_alive_timeout: Duration | None = Field(
        None,
        description="How long an idle keep-alive connection stays open. Must be longer than "
        "loadBalancerIdleTimeout, or the load balancer reuses connections the server is closing (502s). "
        f"Unset: {DEFAULT_KEEP_ALIVE}; granian: {GRANIAN_KEEP_ALIVE}, the most it can do (its HTTP/1 header-read "
        "timeout).",
    )
    load_balancer_idle_timeout: Duration | None = Field(
        None,
        description="The idle timeout of the proxy or load balancer in front of the pods. Unset: "
        f"{DEFAULT_LB_IDLE} (AWS ALB's default); granian: {GRANIAN_LB_IDLE}, so set your load balancer's idle "
        f"timeout below {GRANIAN_KEEP_ALIVE}.",
    )
    graceful_shutdown_timeout: Duration = Field(
        "30s",
        description="After SIGTERM, how long in-flight requests may take before the server stops.",
    )
    proxy_headers: bool | None = Field(
        None,
        description="Trust X-Forwarded-* headers from trustedProxies (uvicorn, gunicorn). Unset: on for "
        "uvicorn and gunicorn.",
    )
    trusted_proxies: list[Annotated[str, Field(max_length=64)]] | None = Field(
        None,
        max_length=32,
        description="IPs or CIDRs whose X-Forwarded-* headers are trusted (uvicorn's --forwarded-allow-ips). "
        "Unset: only 127.0.0.1. Set it to your gateway's pod CIDR; '*' trusts every client.",
    )
    concurrency_limit: int | None = Field(
        None,
        ge=1,
        le=100000,
        description="Most concurrent connections (uvicorn) or requests per worker (granian's backpressure) "
        "before the server sheds load.",
    )
    backlog: int | None = Field(None, ge=1, le=65535, description="The listen() queue length.")
    max_requests: int | None = Field(
        None, ge=1, description="Recycle a worker after this many requests (a guard against leaks)."
    )
    root_path: str | None = Field(
        None,
        max_length=256,
        description="The ASGI root_path, for an app served under a path prefix (e.g. /api). uvicorn adds it to "
        "every request path, so the proxy must strip it: the generated HTTPRoute does (set expose.path to the "
        "same prefix); with an Ingress, configure the rewrite yourself. hypercorn and granian take requests with "
        "the prefix.",
    )
    lifespan: Literal["on", "auto", "off"] | None = Field(
        None,
        description="uvicorn only: the lifespan mode. Unset: on, so a failing startup stops the pod instead "
        "of being logged as 'lifespan unsupported'.",
    )
    extra_args: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list,
        max_length=64,
        description="Extra command-line arguments appended to the server's command.",
    )

    @property
    def keep_alive(self) -> str:
        """keepAliveTimeout, or this server's default."""
        if self.keep_alive_timeout is not None:
            return self.keep_alive_timeout
        return GRANIAN_KEEP_ALIVE if self.kind == ServerKind.GRANIAN else DEFAULT_KEEP_ALIVE

    @property
    def load_balancer_idle(self) -> str:
        if self.load_balancer_idle_timeout is not None:
            return self.load_balancer_idle_timeout
        return GRANIAN_LB_IDLE if self.kind == ServerKind.GRANIAN else DEFAULT_LB_IDLE

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "duration(has(self.keepAliveTimeout) ? self.keepAliveTimeout : "
            f"(self.kind == {_GRANIAN} ? '{GRANIAN_KEEP_ALIVE}' : '{DEFAULT_KEEP_ALIVE}')) > "
            "duration(has(self.loadBalancerIdleTimeout) ? self.loadBalancerIdleTimeout : "
            f"(self.kind == {_GRANIAN} ? '{GRANIAN_LB_IDLE}' : '{DEFAULT_LB_IDLE}'))",
            "keepAliveTimeout must be longer than loadBalancerIdleTimeout: otherwise the load balancer sends "
            "requests on connections the server is closing, and clients see 502s",
            lambda s: seconds(s.keep_alive) > seconds(s.load_balancer_idle),
            ".keepAliveTimeout",
        ),
        Rule(
            f"self.kind != {_GRANIAN} || !has(self.keepAliveTimeout) || "
            f"duration(self.keepAliveTimeout) <= duration('{GRANIAN_KEEP_ALIVE}')",
            f"granian keeps an idle connection at most {GRANIAN_KEEP_ALIVE} (its HTTP/1 header-read timeout): set "
            f"keepAliveTimeout to {GRANIAN_KEEP_ALIVE} or less, and your load balancer's idle timeout "
            "(loadBalancerIdleTimeout) below it",
            lambda s: (
                s.kind != ServerKind.GRANIAN
                or s.keep_alive_timeout is None
                or seconds(s.keep_alive_timeout) <= seconds(GRANIAN_KEEP_ALIVE)
            ),
            ".keepAliveTimeout",
        ),
        Rule(
            f"self.kind != {_GRANIAN} || "
            f"(duration(self.gracefulShutdownTimeout) >= duration('{GRANIAN_MIN_GRACEFUL_SHUTDOWN}s') && "
            f"duration(self.gracefulShutdownTimeout) <= duration('{GRANIAN_MAX_GRACEFUL_SHUTDOWN}s'))",
            f"granian takes a gracefulShutdownTimeout from {format_seconds(GRANIAN_MIN_GRACEFUL_SHUTDOWN)} to "
            f"{format_seconds(GRANIAN_MAX_GRACEFUL_SHUTDOWN)} (its --workers-kill-timeout)",
            lambda s: (
                s.kind != ServerKind.GRANIAN
                or GRANIAN_MIN_GRACEFUL_SHUTDOWN
                <= seconds(s.graceful_shutdown_timeout)
                <= GRANIAN_MAX_GRACEFUL_SHUTDOWN
            ),
            ".gracefulShutdownTimeout",
        ),
        Rule(
            f"self.kind != {_GRANIAN} || !has(self.backlog) || self.backlog >= {GRANIAN_MIN_BACKLOG}",
            f"granian takes a backlog of at least {GRANIAN_MIN_BACKLOG}",
            lambda s: s.kind != ServerKind.GRANIAN or s.backlog is None or s.backlog >= GRANIAN_MIN_BACKLOG,
            ".backlog",
        ),
        Rule(
            "!has(self.trustedProxies) || self.trustedProxies.all(p, p == '*' || isIP(p) || isCIDR(p))",
            "trustedProxies entries must be IP addresses, CIDRs (10.0.0.0/8) or '*'",
            lambda s: all(is_ip_or_cidr(p) for p in s.trusted_proxies or ()),
            ".trustedProxies",
        ),
        Rule(
            "!has(self.rootPath) || self.rootPath.matches('^/[^ ]*[^/ ]$')",
            "rootPath must start with '/' and not end with '/', e.g. /api",
            lambda s: s.root_path is None or re.fullmatch(r"/[^ ]*[^/ ]", s.root_path) is not None,
            ".rootPath",
        ),
        # hypercorn (0.18, hypercorn/run.py run()): on SIGTERM the main process waits for the FIRST worker to
        # exit, then terminate()s the others; an idle worker exits at once, and a busy one dies with its requests.
        Rule(
            f"self.kind != {cel_string(ServerKind.HYPERCORN.value)} || self.workers == 1",
            "hypercorn with workers > 1 drops in-flight requests on SIGTERM (its main process kills the busy "
            "workers as soon as an idle one has exited): use workers: 1 and scale with replicas, or use uvicorn, "
            "gunicorn or granian for several workers per pod",
            lambda s: s.kind != ServerKind.HYPERCORN or s.workers == 1,
            ".workers",
        ),
        *(_unsupported(option, kind, why) for option, kinds in UNSUPPORTED.items() for kind, why in kinds.items()),
    )
