"""The lab's real Prometheus: scraping every second the targets it is given (file_sd), with the labels a
PodMonitor would attach; optionally only over HTTPS with basic auth. The pods it scrapes are played by
dataplane.py; the gateway in front of them is gateway.py; the clients are load.py.
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cluster import REPO, GaveUp, die_with_parent, free_port, terminate, wait_for
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
