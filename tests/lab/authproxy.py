"""A small, real reverse proxy in front of the lab's Prometheus, as the gateway of a hosted or multi-tenant
Prometheus (Grafana Cloud, Mimir) is: HTTPS only, and every request must carry `Authorization: Bearer <token>`
and the tenant header `X-Scope-OrgID`, else 401. The accepted token is read from a file at each request, so a
test rotates it by rewriting the file. Upstream, it speaks to Prometheus with Prometheus' own basic auth.

Run as a process: `python -m lab.authproxy --listen 127.0.0.1:PORT --cert C --key K --token-file F --tenant T
--upstream https://127.0.0.1:P --upstream-ca CA --upstream-user U --upstream-password-file PF`.
`AuthProxy` starts and stops it from a test.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import http.server
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .cluster import REPO, GaveUp, die_with_parent, free_port, terminate, wait_for
from .pki import ServerCert

TENANT_HEADER = "X-Scope-OrgID"
HEALTH_PATH = "/proxy-health"  # the proxy's own readiness, without auth


def _handler(args: argparse.Namespace) -> type[http.server.BaseHTTPRequestHandler]:
    upstream_ctx = ssl.create_default_context(cafile=args.upstream_ca)
    upstream_ctx.check_hostname = False  # Prometheus' certificate names prometheus.lab.test; the CA is checked
    password = Path(args.upstream_password_file).read_text().strip()
    upstream_auth = "Basic " + base64.b64encode(f"{args.upstream_user}:{password}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._proxy()

        def do_POST(self) -> None:
            self._proxy()

        def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.path == HEALTH_PATH:
                self._send(200, b"ok")
                return
            token = Path(args.token_file).read_text().strip()
            given = self.headers.get("Authorization") or ""
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                self._send(401, b"invalid or missing bearer token\n")
                return
            if self.headers.get(TENANT_HEADER) != args.tenant:
                self._send(401, b"no org id\n")
                return
            request = urllib.request.Request(args.upstream + self.path, data=body, method=self.command)
            request.add_header("Authorization", upstream_auth)
            if self.headers.get("Content-Type"):
                request.add_header("Content-Type", self.headers["Content-Type"])
            try:
                with urllib.request.urlopen(request, timeout=10, context=upstream_ctx) as resp:
                    status, data, kind = resp.status, resp.read(), resp.headers.get("Content-Type", "")
            except urllib.error.HTTPError as e:
                status, data, kind = e.code, e.read(), e.headers.get("Content-Type", "")
            except OSError as e:
                status, data, kind = 502, f"upstream: {e}".encode(), "text/plain"
            self._send(status, data, kind or "application/json")

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="authproxy")
    for flag in (
        "--listen",
        "--cert",
        "--key",
        "--token-file",
        "--tenant",
        "--upstream",
        "--upstream-ca",
        "--upstream-user",
        "--upstream-password-file",
    ):
        parser.add_argument(flag, required=True)
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    server = http.server.ThreadingHTTPServer((host, int(port)), _handler(args))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()
    return 0


class AuthProxy:
    """The proxy as a child process of the test."""

    def __init__(
        self,
        *,
        cert: ServerCert,
        ca_file: Path,
        token: str,
        tenant: str,
        upstream: str,
        upstream_user: str,
        upstream_password: str,
    ) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="asgi-authproxy-"))
        self.port = free_port()
        self.token_file = self.workdir / "token"
        self.set_token(token)
        password_file = self.workdir / "upstream-password"
        password_file.write_text(upstream_password)
        self.ca_file = ca_file
        self.command = [
            sys.executable,
            "-m",
            "lab.authproxy",
            f"--listen=127.0.0.1:{self.port}",
            f"--cert={cert.cert_file}",
            f"--key={cert.key_file}",
            f"--token-file={self.token_file}",
            f"--tenant={tenant}",
            f"--upstream={upstream}",
            f"--upstream-ca={ca_file}",
            f"--upstream-user={upstream_user}",
            f"--upstream-password-file={password_file}",
        ]
        self.log = self.workdir / "authproxy.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def set_token(self, token: str) -> None:
        """From now on only this token is accepted."""
        tmp = self.token_file.with_suffix(".tmp")
        tmp.write_text(token)
        tmp.replace(self.token_file)

    def start(self) -> AuthProxy:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO / "tests",
                env={**os.environ, "PYTHONPATH": str(REPO / "tests")},
                preexec_fn=die_with_parent,
            )
        wait_for("the auth proxy", self.ready, 30)
        return self

    def ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise GaveUp("the auth proxy exited:\n" + self.log.read_text()[-2000:])
        context = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(f"{self.url}{HEALTH_PATH}", timeout=2, context=context) as resp:
            return bool(resp.status == 200)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, grace=10)
        self.proc = None


if __name__ == "__main__":
    sys.exit(main())
