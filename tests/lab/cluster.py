"""A real Kubernetes control plane on loopback, without containers.

etcd, kube-apiserver (RBAC on, audit log of every write), kube-controller-manager (garbage collection,
Deployments -> ReplicaSets -> Pods, ServiceAccounts), kube-scheduler and kwok (fake nodes that make scheduled
pods Running and Ready). Everything binds to 127.0.0.1 on free ports and keeps its state in one temporary
directory; `stop()` ends every process group and removes the directory. Child processes also receive
SIGKILL if the process that started them dies (PR_SET_PDEATHSIG), so an interrupted test run leaves no
stray processes behind.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "lab-admin-token"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
# The fake nodes: how many, and how much each declares (kwok makes them hold whatever they declare). Room for
# thousands of pods by default, so scale runs fit; ASGI_LAB_NODES / ASGI_LAB_NODE_PODS change it.
DEFAULT_NODES = int(os.environ.get("ASGI_LAB_NODES", "2"))
DEFAULT_NODE_PODS = int(os.environ.get("ASGI_LAB_NODE_PODS", "2000"))

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Run in the child before exec: its own process group, and SIGKILL when the parent goes away."""
    os.setsid()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def terminate(popen: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM a child started with `die_with_parent` (its own process group), SIGKILL it after `grace`."""
    if popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGTERM)
    try:
        popen.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cache_dir() -> Path:
    base = os.environ.get("ASGI_LAB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "asgi-operator"
    )
    return Path(base)


def ensure_binaries(which: str = "all") -> Path:
    """Build (or find) the lab's binaries: `which` is a set of tests/lab/build.sh (`all`: what the tests need;
    `demo`: the lab and Prometheus only). Returns the directory holding them."""
    out = subprocess.run(
        ["bash", str(REPO / "tests/lab/build.sh"), which], check=True, stdout=subprocess.PIPE, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def crd_dir() -> Path:
    return cache_dir() / "crds"


class GaveUp(Exception):
    """Raised by a `wait_for` predicate when waiting longer cannot help (a process died)."""


class PortInUse(GaveUp):
    """A component exited because a port picked for it was taken by another process before it could bind it."""


# how many times a component is started on fresh ports when the ones picked were taken before it bound them
PORT_ATTEMPTS = 5


def listening(pid: int, port: int) -> bool:
    """Whether process `pid` itself holds a listening TCP socket on 127.0.0.1:`port` (Linux: /proc). Not just
    "something answers there": after a lost pick-then-bind race, another process answers on that port."""
    wanted = f"0100007F:{port:04X}"
    inodes = set()
    with contextlib.suppress(FileNotFoundError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == wanted and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return False
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir() if fds.exists() else ():
        with contextlib.suppress(OSError):
            if os.readlink(fd) in inodes:
                return True
    return False


def wait_for(what: str, predicate: Callable[[], object], timeout: float, interval: float = 0.2) -> object:
    """Poll `predicate` until it returns something truthy, or fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except GaveUp:
            raise
        except Exception as e:
            last_error = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}" + (f": {last_error}" if last_error else ""))


class KubectlError(RuntimeError):
    def __init__(self, args: tuple[str, ...], stderr: str) -> None:
        super().__init__(f"kubectl {' '.join(args)} failed:\n{stderr}")
        self.stderr = stderr


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    stopped: bool = False  # stopped on purpose (a fault drill): not a component that died


class Cluster:
    """What the tests need of a cluster: kubectl against it, our CRDs installed, and (when it can) an audit
    log of writes and fake nodes. `Lab` is one; `ExistingCluster` is any cluster given by kubeconfig."""

    bin_dir: Path
    admin_kubeconfig: Path
    fake_nodes = False  # pods become Ready without real containers (kwok)

    def bin(self, name: str) -> str:
        own = self.bin_dir / name
        return str(own) if own.exists() else name

    def assert_running(self) -> None:
        """Raise if a component of the cluster has died (only the lab can tell)."""

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, kubeconfig: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        self.assert_running()
        result = subprocess.run(
            [self.bin("kubectl"), f"--kubeconfig={kubeconfig or self.admin_kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise KubectlError(args, result.stderr)
        return result

    def kubectl_apply(self, manifest: str) -> None:
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=manifest)

    def install_crds(self) -> None:
        """Gateway API (standard channel) and our own CRD, then wait until they are served."""
        for path in sorted((crd_dir() / "gateway-api").glob("*.yaml")):
            self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
        # expose.rateLimit's policy CRD from Envoy Gateway's module (make lab-bin; NGINX Gateway Fabric's is not
        # fetchable from the Go module proxy, so its RateLimitPolicy is absent from the lab)
        for path in sorted((crd_dir() / "envoy-gateway").glob("*.yaml")):
            self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
        # expose.rateLimit with Traefik: its Middleware CRD (with Traefik's other CRDs, one file in its module)
        for path in sorted([*(crd_dir() / "traefik").glob("*.yaml"), *(crd_dir() / "traefik").glob("*.yml")]):
            self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
        # expose.tls.issuerRef's Certificate (and its issuers' kinds), from cert-manager's module
        for path in sorted((crd_dir() / "cert-manager").glob("*.yaml")):
            self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds" / "asgiservice.yaml"))
        self.wait_established()

    def wait_established(self, name: str | None = None, timeout: float = 60) -> None:
        """Until the CRD `name` (every CRD: None) is Established. (`kubectl wait --for=condition=Established` fails
        at once on a CRD the API server has not written any condition for yet, as happens on a busy machine.)"""

        def established() -> bool:
            out = self.kubectl("get", "crd", *([name] if name else []), "-o", "json").stdout
            found = json.loads(out)
            crds = [found] if name else found["items"]
            return all(
                any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
                for conditions in ((crd.get("status") or {}).get("conditions") or [] for crd in crds)
            )

        wait_for(f"crd/{name or '*'} Established", established, timeout)

    def audit_events(self) -> Iterator[dict[str, object]] | None:
        """Every write request the API server received, if this cluster keeps an audit log we can read."""
        return None


class ExistingCluster(Cluster):
    """A cluster you already have (kind, ...), given by its kubeconfig."""

    def __init__(self, kubeconfig: Path, bin_dir: Path | None = None) -> None:
        self.admin_kubeconfig = kubeconfig
        self.bin_dir = bin_dir or cache_dir() / "bin"


@dataclass
class Lab(Cluster):
    bin_dir: Path
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="asgi-lab-")))
    processes: list[Process] = field(default_factory=list)
    api_port: int = 0
    nodes: int = DEFAULT_NODES
    node_pods: int = DEFAULT_NODE_PODS
    audit_reads: bool = False  # log reads too (for the benchmark's request counts; slows the API server)
    fake_nodes = True

    # ------------------------------------------------------------------ paths
    @property
    def node_names(self) -> list[str]:
        return [f"kwok-node-{i}" for i in range(1, self.nodes + 1)]

    @property
    def admin_kubeconfig(self) -> Path:  # type: ignore[override]
        return self.workdir / "admin.kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "certs" / "apiserver.crt"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Lab:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self._write_credentials()

        def etcd(client: int, peer: int) -> list[str]:
            shutil.rmtree(self.workdir / "etcd", ignore_errors=True)  # a failed attempt's bootstrap is not reused
            return [
                self.bin("etcd"),
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{client}",
                f"--advertise-client-urls=http://127.0.0.1:{client}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync",
                "--quota-backend-bytes=1073741824",
                "--log-level=warn",
            ]

        self.etcd_port, _ = self._launch(
            "etcd", 2, etcd, lambda client, _: _http_ok(f"http://127.0.0.1:{client}/health"), timeout=30
        )

        def apiserver(port: int) -> list[str]:
            return [
                self.bin("kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'certs'}",
                "--service-cluster-ip-range=10.96.0.0/16",  # 3 Services per AsgiService: room for thousands
                "--authorization-mode=RBAC",
                f"--token-auth-file={self.workdir / 'tokens.csv'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={self.workdir / 'sa.pub'}",
                f"--service-account-signing-key-file={self.workdir / 'sa.key'}",
                f"--audit-policy-file={self.workdir / 'audit-policy.yaml'}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-mode=blocking",
                # never rotated in practice (the default rotates at 100 MB, which the bench's reads at N = 5,000
                # pass, and its incremental reader then lost most of the burst; 0 means "no rotation" only
                # in recent releases)
                "--audit-log-maxsize=1000000",
                "--profiling=false",
                "--enable-priority-and-fairness=false",
                # PodDisruptionBudgets are watched from etcd itself (no watch cache), as on clusters that turn it
                # off: after compact_etcd() a watch from an old version ends in 410 Gone, which the informer tests
                # need (the watch cache answers an old version with the events it has instead)
                f"--watch-cache-sizes={UNCACHED}#0",
                "--v=1",
            ]

        def api_ready(port: int) -> bool:
            self.api_port = port
            return self._api_ok("/readyz")

        (self.api_port,) = self._launch("kube-apiserver", 1, apiserver, api_ready, timeout=90)
        self._write_kubeconfig(self.admin_kubeconfig, "admin", ADMIN_TOKEN)

        kc = str(self.admin_kubeconfig)

        def controller_manager(port: int) -> list[str]:
            return [
                self.bin("kube-controller-manager"),
                f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}",
                f"--authorization-kubeconfig={kc}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--service-account-private-key-file={self.workdir / 'sa.key'}",
                f"--root-ca-file={self.ca_file}",
                "--leader-elect=false",
                "--controllers=*",
                "--use-service-account-credentials=false",
                # the lab's kwok nodes report status via leases; keep the node controller patient: after an API
                # server restart (a fault drill) its informers take up to 30 s to list again, and a node it then
                # calls NotReady has its pods marked unready for good (kwok never marks them Ready again)
                "--node-monitor-grace-period=180s",
                "--concurrent-deployment-syncs=10",
                "--concurrent-replicaset-syncs=10",
                # its client's default (20 QPS) makes a burst of a thousand Deployments take minutes to get pods:
                # the lab measures the operator, not the controller manager's rate limit
                "--kube-api-qps=300",
                "--kube-api-burst=600",
                "--concurrent-gc-syncs=20",
                "--horizontal-pod-autoscaler-sync-period=60s",
                "--v=1",
            ]

        def scheduler(port: int) -> list[str]:
            return [
                self.bin("kube-scheduler"),
                f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}",
                f"--authorization-kubeconfig={kc}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                "--leader-elect=false",
                "--kube-api-qps=300",
                "--kube-api-burst=600",
                "--v=1",
            ]

        def kwok(port: int) -> list[str]:
            return [
                self.bin("kwok"),
                f"--kubeconfig={kc}",
                f"--config={cache_dir() / 'kwok' / 'stages.yaml'}",
                # the lab's own stages (tests/lab/stages): Job pods that fail, pods a data plane plays
                *(f"--config={path}" for path in sorted((REPO / "tests" / "lab" / "stages").glob("*.yaml"))),
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
                f"--server-address=127.0.0.1:{port}",
                "--node-lease-duration-seconds=40",
                "--cidr=10.244.0.0/16",
            ]

        # each is up once it listens on its port (they find the API server on their own)
        self._launch("kube-controller-manager", 1, controller_manager, lambda _: True, timeout=60)
        self._launch("kube-scheduler", 1, scheduler, lambda _: True, timeout=60)
        self._launch("kwok", 1, kwok, lambda _: True, timeout=60)
        for node in self.node_names:
            self.kubectl_apply(_node_manifest(node, self.node_pods))
        wait_for("kwok nodes Ready", self._nodes_ready, 60)
        wait_for(
            "the default ServiceAccount (controller manager running)",
            lambda: self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0,
            60,
        )
        self.install_crds()

    def stop(self) -> None:
        for proc in reversed(self.processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in reversed(self.processes):
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(timeout=10)
        self.processes.clear()
        if os.environ.get("ASGI_LAB_KEEP"):
            print(f"lab state kept in {self.workdir} (ASGI_LAB_KEEP)")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ fault drills
    def process(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    def stop_apiserver(self, grace: float = 3.0) -> None:
        """Stop kube-apiserver until `start_apiserver`; the other components keep running and retry. SIGTERM
        closes its listener at once but keeps serving open watches for up to a minute; after `grace` seconds the
        process is killed, so every client really loses it."""
        proc = self.process("kube-apiserver")
        proc.stopped = True
        terminate(proc.popen, grace=grace)

    def start_apiserver(self, timeout: float = 90) -> float:
        """Start kube-apiserver again with the same argv (same port, etcd, certificates, tokens); returns the
        monotonic time at which its /readyz first answered ok."""
        proc = self.process("kube-apiserver")
        assert proc.stopped and proc.popen.poll() is not None, "kube-apiserver is running"
        with proc.log.open("ab") as out:
            proc.popen = subprocess.Popen(
                proc.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
                env=proc.env,
                cwd=self.workdir,
            )
        proc.stopped = False
        wait_for("kube-apiserver /readyz after a restart", lambda: self._api_ok("/readyz"), timeout, interval=0.05)
        return time.monotonic()

    def compact_etcd(self) -> int:
        """Compact etcd's history up to its current revision (what the API server does every 5 minutes), through
        etcd's own JSON gateway: a watch from an older version than the API server's watch cache holds then ends
        in 410 Gone, as on a long-running cluster. Returns the revision."""

        def call(path: str, body: dict[str, object]) -> dict[str, Any]:
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.etcd_port}{path}", data=json.dumps(body).encode(), method="POST"
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                out: dict[str, Any] = json.loads(answer.read())
                return out

        revision = int(call("/v3/kv/range", {"key": base64.b64encode(b"/").decode()})["header"]["revision"])
        call("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        return revision

    # ------------------------------------------------------------------ helpers
    def pick_ports(self, component: str, count: int) -> list[int]:
        """Free ports for `component` to bind. Free when picked, not when bound: `_launch` retries."""
        return [free_port() for _ in range(count)]

    def _launch(
        self,
        name: str,
        ports: int,
        argv: Callable[..., list[str]],
        ready: Callable[..., object],
        timeout: float,
    ) -> list[int]:
        """Start a component on `ports` fresh free ports and wait until it listens on all of them and `ready`
        answers; returns the ports. A port is free when picked but bound only later, by the component, and
        another process may take it in between: a component that exits saying "address already in use" is
        started again on other ports (PORT_ATTEMPTS times; the failed attempts' logs are kept as
        `<name>.port-in-use-<n>.log`)."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            picked = self.pick_ports(name, ports)
            proc = self._spawn(name, argv(*picked))

            def up(proc: Process = proc, picked: list[int] = picked) -> object:
                self._check(proc)
                return all(listening(proc.popen.pid, port) for port in picked) and ready(*picked)

            try:
                wait_for(f"{name} listening on {picked} and ready", up, timeout)
            except PortInUse:
                self.processes.remove(proc)
                proc.log.rename(proc.log.with_name(f"{name}.port-in-use-{attempt}.log"))
                if attempt == PORT_ATTEMPTS:
                    raise
                continue
            return picked
        raise AssertionError("unreachable")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Process:
        log = self.workdir / "logs" / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
                env=env,
                cwd=self.workdir,
            )
        proc = Process(name, popen, log, argv, env)
        self.processes.append(proc)
        return proc

    def assert_running(self) -> None:
        for proc in self.processes:
            self._check(proc)

    @staticmethod
    def _check(proc: Process) -> None:
        if proc.popen.poll() is not None and not proc.stopped:
            tail = proc.log.read_text(errors="replace")[-3000:]
            error = PortInUse if "address already in use" in tail else GaveUp
            raise error(f"lab component {proc.name} exited with {proc.popen.returncode}:\n{tail}")

    def _write_credentials(self) -> None:
        (self.workdir / "tokens.csv").write_text(f'{ADMIN_TOKEN},admin,admin,"system:masters"\n')
        subprocess.run(
            ["openssl", "genrsa", "-out", str(self.workdir / "sa.key"), "2048"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                "openssl",
                "rsa",
                "-in",
                str(self.workdir / "sa.key"),
                "-pubout",
                "-out",
                str(self.workdir / "sa.pub"),
            ],
            check=True,
            capture_output=True,
        )
        # Only writes are audited (the idle-cost tests count them); reads and watches only for the benchmark.
        reads = "" if self.audit_reads else "- level: None\n  verbs: [get, list, watch]\n"
        (self.workdir / "audit-policy.yaml").write_text(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n"
            f"{reads}- level: Metadata\n"
        )

    def _write_kubeconfig(self, path: Path, user: str, token: str) -> None:
        path.write_text(kubeconfig_text(self.server, str(self.ca_file), user, token))
        path.chmod(0o600)

    def _api_ok(self, path: str) -> bool:
        self.assert_running()
        ctx = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file.exists() else None
        if ctx is None:
            return False
        req = urllib.request.Request(self.server + path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
            return bool(resp.status == 200)

    def _nodes_ready(self) -> bool:
        out = self.kubectl("get", "nodes", "-o", "json").stdout
        items = json.loads(out)["items"]
        ready = [
            n
            for n in items
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))
        ]
        return len(ready) >= self.nodes

    def audit_events(self) -> Iterator[dict[str, object]] | None:
        return _read_audit(self.audit_log)


UNCACHED = "poddisruptionbudgets.policy"  # the kind the API server serves watches of from etcd itself


def _read_audit(path: Path) -> Iterator[dict[str, object]]:
    if not path.exists():
        return
    with path.open() as f:
        for line in f:
            with contextlib.suppress(json.JSONDecodeError):
                yield json.loads(line)


def kubeconfig_text(server: str, ca_file: str | None, user: str, token: str) -> str:
    cluster = {"server": server}
    if ca_file:
        cluster["certificate-authority"] = ca_file
    else:
        cluster["insecure-skip-tls-verify"] = True  # type: ignore[assignment]
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "lab", "cluster": cluster}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": user, "context": {"cluster": "lab", "user": user}}],
            "current-context": user,
        },
        indent=2,
    )


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)


def _node_manifest(name: str, pods: int) -> str:
    room = {"cpu": str(max(32, pods // 2)), "memory": f"{max(256, pods)}Gi", "pods": str(pods)}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
            },
            "status": {
                "allocatable": room,
                "capacity": room,
            },
        }
    )
