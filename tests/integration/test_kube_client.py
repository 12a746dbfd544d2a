"""The operator's connection to the real API server with a kubeconfig that embeds its certificates
(`certificate-authority-data`, and `client-certificate-data`/`client-key-data`), where no temporary file can be
written: the client and Kopf's login in this process with every temporary directory unusable, then the whole
operator on a read-only root filesystem with no writable /tmp (a mount namespace), reconciling an example to
Ready. The mutual-TLS handshake itself (the client certificate presented) is in tests/unit/test_kube_config.py:
the lab's API server authenticates tokens only."""

from __future__ import annotations

import base64
import errno
import json
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml

from asgi_operator import handlers
from asgi_operator.controller.settings import Settings
from asgi_operator.kube.api import KubeApi, load_client
from integration.helpers import apply, example, wait_ready
from integration.operator_proc import OperatorProcess
from kube_tls import Authority, embedded_kubeconfig, write_kubeconfig
from lab.cluster import Cluster, Lab

# Run the rest in a mount namespace of its own whose root (and so /tmp, /var/tmp, the working directory) is
# read-only, as `readOnlyRootFilesystem: true` without an emptyDir on /tmp; /proc and /dev stay as they are.
READ_ONLY_ROOT = (
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "--",
    "sh",
    "-c",
    'mount -o remount,bind,ro / && exec "$@"',  # this namespace's mount only: the machine's root stays as it is
    "read-only-root",
)


def embedded(cluster: Cluster, kubeconfig: Path, out: Path) -> Path:
    """`kubeconfig` (a token and a CA) with its CA embedded, and a client certificate and key embedded too where
    the API server does not check them (the lab's authenticates tokens; a cluster with --client-ca-file would
    refuse a certificate from a CA it does not know)."""
    document: dict[str, Any] = yaml.safe_load(kubeconfig.read_text())
    context = next(c for c in document["contexts"] if c["name"] == document["current-context"])["context"]
    cluster_entry = next(c for c in document["clusters"] if c["name"] == context["cluster"])["cluster"]
    user = next(u for u in document["users"] if u["name"] == context["user"])["user"]
    if "certificate-authority-data" in cluster_entry:
        ca_pem = base64.standard_b64decode(cluster_entry["certificate-authority-data"])
    else:
        ca_pem = (kubeconfig.parent / cluster_entry["certificate-authority"]).read_bytes()
    client = None
    if isinstance(cluster, Lab):
        authority = Authority("an authority the API server does not know")
        client = authority.issue("asgi-operator", server=False)
    return write_kubeconfig(
        out, embedded_kubeconfig(cluster_entry["server"], ca_pem, token=user["token"], client=client)
    )


def test_embedded_certificates_reach_the_api_server_with_no_usable_temporary_directory(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = embedded(cluster, cluster.admin_kubeconfig, tmp_path / "embedded.kubeconfig")
    missing = str(tmp_path / "no-such-directory")
    monkeypatch.setenv("TMPDIR", missing)
    monkeypatch.setattr(tempfile, "tempdir", missing)
    with pytest.raises(OSError):
        tempfile.mkstemp()

    api = KubeApi(load_client(str(kubeconfig)), timeout=10)
    namespace = api.request("GET", "/api/v1/namespaces/default")
    assert namespace is not None and namespace["metadata"]["name"] == "default"

    handlers.configure(Settings(kubeconfig=str(kubeconfig)))
    try:
        info = handlers.login(settings=kopf.OperatorSettings())
    finally:
        handlers.configure(Settings())
    request = urllib.request.Request(f"{info.server}/api/v1/namespaces/default", headers=info.as_http_headers())
    with urllib.request.urlopen(request, context=info.as_ssl_context(), timeout=10) as response:  # as Kopf does
        assert json.loads(response.read())["metadata"]["name"] == "default"


def _read_only_root_works() -> str | None:
    """Why a read-only root cannot be made here, or None."""
    if shutil.which("unshare") is None:
        return "no unshare(1)"
    probe = subprocess.run([*READ_ONLY_ROOT, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"cannot make a mount namespace with a read-only root: {probe.stderr.strip()}"
    return None


@pytest.mark.usefixtures("fake_nodes")
def test_the_operator_runs_on_a_read_only_root_without_tmp(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path, tmp_path: Path
) -> None:
    reason = _read_only_root_works()
    if reason:
        pytest.skip(reason)
    kubeconfig = embedded(cluster, operator_kubeconfig, tmp_path / "operator.kubeconfig")
    op = OperatorProcess(
        kubeconfig,
        "-n",
        namespace,
        "--prometheus-url=http://127.0.0.1:9",
        env={"TMPDIR": str(tmp_path / "no-such-directory")},
        prefix=READ_ONLY_ROOT,
    )
    try:
        op.start()  # healthy: Kopf logged in and the controller's store is primed
        assert op.proc is not None
        with pytest.raises(OSError) as refused:  # the operator's root really is read-only, /tmp included
            (Path(f"/proc/{op.proc.pid}/root") / "tmp" / f"probe-{namespace}").write_text("x")
        assert refused.value.errno == errno.EROFS
        doc = example("hello.yaml")
        doc["spec"].setdefault("rollout", {})["strategy"] = "RollingUpdate"
        apply(cluster, namespace, doc)
        wait_ready(cluster, namespace, doc["metadata"]["name"], timeout=90)
    finally:
        op.stop()
    logs = op.logs()
    assert "temporary directory" not in logs and "Traceback" not in logs, logs[-4000:]
