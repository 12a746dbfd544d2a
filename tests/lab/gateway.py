"""A real gateway for the lab: Traefik (a conformant Gateway API implementation, data plane included).

Traefik runs as a local process inside the lab's network namespace (see netns.py), under its own ServiceAccount
and the RBAC its module documents, and does what it does in a cluster: it watches GatewayClasses, Gateways,
HTTPRoutes, Services and EndpointSlices, writes their status (GatewayClass `supportedFeatures`, Gateway
`Programmed`, route `Accepted`/`ResolvedRefs`), and proxies requests to the pods' IPs (EndpointSlices) with the
weights, filters and redirects of the routes. Its CRDs (Middleware, for rate limits) come from its Go module,
like every third-party CRD of the lab.

The lab's Gateway is `gateway-system/public` (class `traefik`): listener `http` on port 80 and `https` on port 443
(a certificate for *.example.com from the lab's own CA), routes from every namespace.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from . import netns
from .cluster import Cluster, GaveUp, crd_dir, die_with_parent, terminate, wait_for
from .pki import CA

NAMESPACE: Final = "gateway-system"
NAME: Final = "public"  # what examples/hello.yaml names (in gateway-system)
CLASS: Final = "traefik"
CONTROLLER: Final = "traefik.io/gateway-controller"
HTTP_PORT: Final = 80
HTTPS_PORT: Final = 443
PING_PORT: Final = 9000
HOSTS: Final = ("*.example.com", "example.com")
TLS_SECRET: Final = "lab-gateway-tls"
# Traefik's two providers run under the ServiceAccounts its module's RBAC files bind (kubernetes-gateway-rbac.yml,
# kubernetes-crd-rbac.yml: fetched into the cache by tests/lab/build.sh), each with its own token
GATEWAY_ACCOUNT: Final = ("default", "traefik-controller")
CRD_ACCOUNT: Final = ("default", "traefik-ingress-controller")


def gateway_ref(**extra: str) -> dict[str, str]:
    """What an AsgiService's expose.gateway says to use the lab's Gateway."""
    return {"name": NAME, "namespace": NAMESPACE, **extra}


@dataclass
class Traefik:
    """Traefik and the lab's GatewayClass and Gateway. Needs the lab's network namespace (pods at their IPs)."""

    cluster: Cluster
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="asgi-traefik-")))
    proc: subprocess.Popen[bytes] | None = None
    ca: CA | None = None

    @property
    def log(self) -> Path:
        return self.workdir / "traefik.log"

    @property
    def access_log(self) -> Path:
        return self.workdir / "access.log"

    def start(self) -> Traefik:
        if netns.current() is None:
            raise netns.Unavailable("Traefik routes to pod IPs, which only the lab's network namespace has")
        self._install()
        server, ca_file = self._server()
        provider = []
        for name, account in (("kubernetesGateway", GATEWAY_ACCOUNT), ("kubernetesCRD", CRD_ACCOUNT)):
            provider += [
                f"--providers.{name}.endpoint={server}",
                f"--providers.{name}.token={self._token(account)}",
                f"--providers.{name}.certAuthFilePath={ca_file}",
            ]
        argv = [
            self.cluster.bin("traefik"),
            f"--entryPoints.http.address=:{HTTP_PORT}",
            f"--entryPoints.https.address=:{HTTPS_PORT}",
            f"--entryPoints.ping.address=127.0.0.1:{PING_PORT}",
            "--ping=true",
            "--ping.entryPoint=ping",
            "--api.dashboard=false",
            "--global.checkNewVersion=false",
            "--global.sendAnonymousUsage=false",
            "--providers.kubernetesGateway=true",
            "--providers.kubernetesGateway.statusAddress.ip=127.0.0.1",
            "--providers.kubernetesCRD=true",
            # weight changes reach the data plane in 0.1-0.3 s (the default waits 2 s between configurations)
            "--providers.providersThrottleDuration=100ms",
            "--providers.kubernetesGateway.throttleDuration=0s",
            *provider,
            "--log.level=INFO",
            f"--log.filePath={self.log}",
            "--accessLog=true",
            f"--accessLog.filePath={self.access_log}",
            "--accessLog.format=json",
        ]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=(self.workdir / "stderr.log").open("ab"), preexec_fn=die_with_parent
        )
        wait_for("Traefik answering its ping", self._pinged, 60)
        wait_for(f"GatewayClass {CLASS} accepted", lambda: self._condition("gatewayclass", CLASS, "Accepted"), 60)
        wait_for(f"Gateway {NAME} programmed", lambda: self._condition("gateway", NAME, "Programmed", NAMESPACE), 60)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, grace=10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def logs(self, tail: int = 4000) -> str:
        return self.log.read_text()[-tail:] if self.log.exists() else ""

    @property
    def ca_file(self) -> Path:
        assert self.ca is not None
        return self.ca.cert_file

    def ssl_context(self) -> ssl.SSLContext:
        """What a client that trusts the lab's CA uses for the https listener."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def supported_features(self) -> list[str]:
        gc = json.loads(self.cluster.kubectl("get", "gatewayclass", CLASS, "-o", "json").stdout)
        return [f["name"] if isinstance(f, dict) else str(f) for f in gc.get("status", {}).get("supportedFeatures", [])]

    # ------------------------------------------------------------------ setup
    def _install(self) -> None:
        """Traefik's CRDs are the lab's (Cluster.install_crds); here its RBAC from its module, the lab's
        GatewayClass and Gateway, and the Gateway's certificate."""
        for path in sorted((crd_dir() / "traefik-rbac").glob("*.yml")):
            self.cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
        self.ca = CA(self.workdir, name="asgi-operator lab gateway CA")
        cert = self.ca.issue("gateway", list(HOSTS))
        docs: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            *(
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
                for namespace, name in (GATEWAY_ACCOUNT, CRD_ACCOUNT)
            ),
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/tls",
                "metadata": {"name": TLS_SECRET, "namespace": NAMESPACE},
                "stringData": {"tls.crt": cert.cert_file.read_text(), "tls.key": cert.key_file.read_text()},
            },
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "GatewayClass",
                "metadata": {"name": CLASS},
                "spec": {"controllerName": CONTROLLER},
            },
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": NAME, "namespace": NAMESPACE},
                "spec": {
                    "gatewayClassName": CLASS,
                    "listeners": [
                        {
                            "name": "http",
                            "port": HTTP_PORT,
                            "protocol": "HTTP",
                            "allowedRoutes": {"namespaces": {"from": "All"}},
                        },
                        {
                            "name": "https",
                            "port": HTTPS_PORT,
                            "protocol": "HTTPS",
                            "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": TLS_SECRET}]},
                            "allowedRoutes": {"namespaces": {"from": "All"}},
                        },
                    ],
                },
            },
        ]
        for doc in docs:
            self.cluster.kubectl_apply(json.dumps(doc))

    def _token(self, account: tuple[str, str]) -> str:
        """A file holding a token of one of Traefik's ServiceAccounts."""
        namespace, name = account
        token = self.cluster.kubectl("create", "token", name, "-n", namespace, "--duration=24h").stdout.strip()
        path = self.workdir / f"{name}.token"
        path.write_text(token)
        return str(path)

    def _server(self) -> tuple[str, str]:
        """The API server's address and the CA to trust."""
        view = json.loads(self.cluster.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
        cluster = view["clusters"][0]["cluster"]
        ca_file = cluster.get("certificate-authority")
        if ca_file is None:
            import base64

            ca_file = str(self.workdir / "apiserver-ca.crt")
            Path(ca_file).write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        return str(cluster["server"]), str(ca_file)

    def _pinged(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise GaveUp("Traefik exited:\n" + self.logs() + (self.workdir / "stderr.log").read_text()[-2000:])
        with urllib.request.urlopen(f"http://127.0.0.1:{PING_PORT}/ping", timeout=2) as resp:
            return bool(resp.status == 200)

    def _condition(self, kind: str, name: str, type_: str, namespace: str | None = None) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise GaveUp("Traefik exited:\n" + self.logs())
        args = ["get", kind, name, "-o", "json"] + (["-n", namespace] if namespace else [])
        out = self.cluster.kubectl(*args, check=False)
        if out.returncode != 0:
            return False
        conditions = json.loads(out.stdout).get("status", {}).get("conditions", [])
        return any(c.get("type") == type_ and c.get("status") == "True" for c in conditions)
