"""The lab is a real cluster: Deployments become Available (kwok), garbage collection runs (controller
manager), RBAC is enforced, and stopping the lab leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.cluster import REPO, Cluster, KubectlError, Lab, ensure_binaries, wait_for


def _deployment(name: str, replicas: int = 2) -> dict[str, object]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1"}]},
            },
        },
    }


def test_a_deployment_becomes_available(cluster: Cluster, namespace: str) -> None:
    if not cluster.fake_nodes:
        pytest.skip("needs fake nodes (the lab's kwok) to run a placeholder image")
    cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=json.dumps(_deployment("web")))
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Available", "--timeout=60s", "deployment/web")
    pods = json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
    assert len(pods) == 2
    assert all(p["spec"]["nodeName"].startswith("kwok-node-") for p in pods)  # the scheduler placed them
    assert all(p["status"]["phase"] == "Running" for p in pods)


def test_deleting_an_owner_deletes_its_dependents(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "configmap", "owner", "-n", namespace)
    uid = cluster.kubectl("get", "configmap", "owner", "-n", namespace, "-o", "jsonpath={.metadata.uid}").stdout
    dependent = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "dependent",
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}],
        },
    }
    cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=json.dumps(dependent))
    cluster.kubectl("delete", "configmap", "owner", "-n", namespace)
    wait_for(
        "the garbage collector to delete the dependent",
        lambda: cluster.kubectl("get", "configmap", "dependent", "-n", namespace, check=False).returncode != 0,
        60,
    )


def test_rbac_is_enforced(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    from lab.identity import create_identity_kubeconfig

    kubeconfig = create_identity_kubeconfig(
        cluster.bin("kubectl"),
        cluster.admin_kubeconfig,
        tmp_path / "nobody.kubeconfig",
        namespace=namespace,
        name="nobody",
    )
    with pytest.raises(KubectlError, match="forbidden"):
        cluster.kubectl("get", "deployments", "-n", namespace, kubeconfig=kubeconfig)


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and int(proc.name) != os.getpid():
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def test_stop_leaves_no_process_and_no_files() -> None:
    lab = Lab(bin_dir=ensure_binaries()).start()
    workdir = str(lab.workdir)
    assert len(_processes_mentioning(workdir)) >= 5
    lab.stop()
    assert _processes_mentioning(workdir) == []
    assert not Path(workdir).exists()


def test_lab_up_and_down_from_make_are_idempotent(tmp_path: Path) -> None:
    env = {**os.environ, "ASGI_LAB_STATE": str(tmp_path / "state"), "PYTHONPATH": str(REPO / "tests")}

    def lab(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lab", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    assert lab("down").returncode == 0  # not running: nothing to do, still success
    up = lab("up")
    assert up.returncode == 0, up.stderr
    workdir = (tmp_path / "state" / "workdir").read_text()
    assert lab("up").returncode == 0  # already up: reused
    assert lab("status").stdout.strip() == "running"
    kubeconfig = tmp_path / "state" / "operator.kubeconfig"
    assert kubeconfig.exists()
    assert lab("down").returncode == 0
    assert lab("down").returncode == 0
    assert lab("status").stdout.strip() == "stopped"
    assert _processes_mentioning(workdir) == []
    assert not Path(workdir).exists()
