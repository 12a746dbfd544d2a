"""`asgi-operator run`: start the operator (also `python -m asgi_operator run`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import re
import secrets
import socket
import sys
from typing import Any, Final, cast

from . import __version__


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="asgi-operator", description="A Kubernetes operator for ASGI services.")
    parser.add_argument("--version", action="version", version=f"asgi-operator {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the operator")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (default)")
    scope.add_argument("-n", "--namespace", action="append", default=[], help="watch only these namespaces")
    run.add_argument("--kubeconfig", default=env("KUBECONFIG"), help="default: in-cluster, then ~/.kube/config")
    run.add_argument(
        "--prometheus-url", default=env("ASGI_PROMETHEUS_URL"), help="the Prometheus for AsgiServices that name none"
    )
    # credentials for --prometheus-url only, as files (a mounted Secret: read at each analysis, so a rotation
    # needs no restart); never sent to an address an AsgiService names itself
    auth = run.add_argument_group("credentials for --prometheus-url")
    auth.add_argument("--prometheus-bearer-token-file", default=env("ASGI_PROMETHEUS_BEARER_TOKEN_FILE"))
    auth.add_argument("--prometheus-username-file", default=env("ASGI_PROMETHEUS_USERNAME_FILE"))
    auth.add_argument("--prometheus-password-file", default=env("ASGI_PROMETHEUS_PASSWORD_FILE"))
    auth.add_argument(
        "--prometheus-header", action="append", default=[], metavar="NAME=VALUE", help="a header (repeatable)"
    )
    auth.add_argument(
        "--prometheus-header-file",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a header whose value is read from a file (repeatable)",
    )
    auth.add_argument("--prometheus-ca-file", default=env("ASGI_PROMETHEUS_CA_FILE"), help="PEM CAs to trust")
    auth.add_argument(
        "--prometheus-server-name", default=env("ASGI_PROMETHEUS_SERVER_NAME"), help="the name its certificate carries"
    )
    run.add_argument(
        "--concurrency", type=int, default=int(env("ASGI_CONCURRENCY", "8")), help="AsgiServices reconciled at once"
    )
    run.add_argument(
        "--api-qps",
        type=float,
        default=float(env("ASGI_API_QPS", "100")),
        help="sustained requests per second to the Kubernetes API (0: unlimited); 429s are waited out",
    )
    run.add_argument("--api-burst", type=int, default=int(env("ASGI_API_BURST", "200")), help="requests in a burst")
    run.add_argument(
        "--metrics-address",
        default=env("ASGI_METRICS_ADDRESS", "0.0.0.0:8081"),
        help="host:port of the operator's /metrics ('' to disable)",
    )
    run.add_argument(
        "--liveness",
        default=env("ASGI_LIVENESS", "http://0.0.0.0:8080/healthz"),
        help="Kopf's liveness endpoint ('' to disable)",
    )
    run.add_argument(
        "--peering",
        default=env("ASGI_PEERING"),
        help="Kopf peering name for high availability (several replicas, one active); default: standalone",
    )
    run.add_argument(
        "--priority",
        default=env("ASGI_PRIORITY", "auto"),
        help="peering priority, the highest alive replica is active; 'auto' (default) draws a random "
        "one, since replicas with equal priorities all pause",
    )
    run.add_argument(
        "--peering-lifetime",
        type=int,
        default=int(env("ASGI_PEERING_LIFETIME", "30")),
        help="seconds after its last keep-alive a silent replica is presumed dead (the takeover time)",
    )
    run.add_argument("--log-format", choices=["plain", "full", "json"], default=env("ASGI_LOG_FORMAT", "full"))
    run.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return run(args)
    return 2


def _pairs(items: list[str], flag: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"{flag} takes NAME=VALUE, not {name or item!r}")
        out.append((name, value))
    return tuple(out)


class ExpectedRetries(logging.Filter):
    """Kopf logs each failed try of a request it tries again at ERROR ("Request attempt #2/9 failed; will
    retry: ..."): while the API server restarts, a line for every try of each of its watches (CRDs, namespaces,
    peering) and keep-alives. Those tries are expected, and most succeed: the first of a request is logged at
    INFO, the later ones at DEBUG (shown with --verbose). The last ("escalating") stays an ERROR."""

    RETRY: Final = re.compile(r"Request attempt #(\d+)\S* failed; will retry")

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "expected_retry", False):  # not lowered yet (by another handler's filter)
            if record.levelno != logging.ERROR or not record.name.startswith("kopf"):
                return True
            found = self.RETRY.match(record.getMessage())
            if found is None:
                return True
            level = logging.INFO if found.group(1) == "1" else logging.DEBUG
            record.__dict__.update(levelno=level, levelname=logging.getLevelName(level), expected_retry=True)
        return logging.getLogger(record.name).isEnabledFor(record.levelno)


def configure_logging(log_format: str, *, verbose: bool) -> None:
    import kopf

    formats = {"plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL, "json": kopf.LogFormat.JSON}
    kopf.configure(verbose=verbose, log_format=formats[log_format])
    for handler in logging.getLogger().handlers:  # Kopf's own, on the root logger
        handler.addFilter(ExpectedRetries())
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    if not verbose:  # Kopf logs every handler call at INFO; ours only enqueue
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)


def run(args: argparse.Namespace) -> int:
    from .controller.memory import limit_arenas

    limit_arenas()  # before any thread starts
    if args.kubeconfig:
        # before the kubernetes client is imported (it reads $KUBECONFIG once, at import): whatever reads it gets
        # the same file as the operator and its Kopf login (handlers.login), which are given it explicitly
        os.environ["KUBECONFIG"] = args.kubeconfig
    import kopf
    from prometheus_client import start_http_server

    from . import handlers
    from .controller.credentials import DefaultAuth
    from .controller.settings import Settings

    priority = random.randint(1, 2**30) if args.priority == "auto" else int(args.priority)  # noqa: S311
    # Kopf's identity in the peering object, known to the controller too (it reconciles only while active)
    identity = os.environ.get("POD_ID") or f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"
    prometheus_auth = DefaultAuth(
        bearer_token_file=args.prometheus_bearer_token_file,
        username_file=args.prometheus_username_file,
        password_file=args.prometheus_password_file,
        headers=_pairs(args.prometheus_header, "--prometheus-header"),
        header_files=_pairs(args.prometheus_header_file, "--prometheus-header-file"),
        ca_file=args.prometheus_ca_file,
        server_name=args.prometheus_server_name,
    )
    handlers.configure(
        Settings(
            prometheus_url=args.prometheus_url,
            prometheus_auth=prometheus_auth,
            concurrency=args.concurrency,
            namespaces=tuple(args.namespace),
            api_qps=args.api_qps,
            api_burst=args.api_burst,
            kubeconfig=args.kubeconfig,
            peering_lifetime=args.peering_lifetime,
            peering=args.peering,
            priority=priority,
            identity=identity,
        )
    )
    configure_logging(args.log_format, verbose=args.verbose)
    if args.metrics_address:
        host, _, port = args.metrics_address.rpartition(":")
        start_http_server(int(port), addr=host or "0.0.0.0")  # noqa: S104
    asyncio.run(
        kopf.operator(
            clusterwide=not args.namespace,
            namespaces=list(args.namespace),
            standalone=not args.peering,
            peering_name=args.peering,
            priority=priority,
            identity=cast("Any", identity),  # kopf's Identity: a NewType of str, not exported
            liveness_endpoint=args.liveness or None,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
