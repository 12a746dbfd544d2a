"""The Helm chart against the real API server: lint, template, schema, a real `helm install` into the lab, and
the operator then running under the ServiceAccount the chart created, reconciling an example."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration.helpers import apply, example, must_get, wait_ready
from integration.operator_proc import OperatorProcess
from lab.cluster import REPO, Cluster, KubectlError

CHART = REPO / "charts" / "asgi-operator"
KUBE_VERSION = "1.36.3"


def helm(cluster: Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    binary = cluster.bin("helm")
    result = subprocess.run(
        [binary, f"--kubeconfig={cluster.admin_kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def template(cluster: Cluster, *values: str, namespace: str = "asgi-system") -> list[dict[str, Any]]:
    out = helm(
        cluster, "template", "asgi", str(CHART), "-n", namespace, f"--kube-version={KUBE_VERSION}", *values
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def rules_file(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((CHART / "files" / name).read_text()))


def test_helm_lint_is_clean(cluster: Cluster) -> None:
    out = helm(cluster, "lint", "--strict", str(CHART), f"--kube-version={KUBE_VERSION}")
    assert "0 chart(s) failed" in out.stdout


def test_cluster_wide_install_grants_exactly_the_tested_rules(cluster: Cluster) -> None:
    docs = template(cluster)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == [
        "ClusterKopfPeering",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert role["rules"] == rules_file("clusterrole-rules.yaml") + rules_file("peering-rules.yaml")
    deploy = next(d for d in docs if d["kind"] == "Deployment")
    assert deploy["spec"]["replicas"] == 2
    pod = deploy["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert "--all-namespaces" in c["args"] and "--peering=asgi-operator" in c["args"]
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "POD_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in c["env"]


def test_namespaced_install_uses_roles(cluster: Cluster) -> None:
    docs = template(cluster, "--set", "watchNamespaces={shop,payments}")
    roles = [d for d in docs if d["kind"] == "Role"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["payments", "shop"]
    assert all(r["rules"] == rules_file("clusterrole-rules.yaml") + rules_file("peering-rules.yaml") for r in roles)
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"] == ["asgi-asgi-operator-discovery"]
    args = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=shop" in args and "--namespace=payments" in args and "--all-namespaces" not in args
    assert sorted(d["metadata"]["namespace"] for d in docs if d["kind"] == "KopfPeering") == ["payments", "shop"]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (["--set", "replicaCount=-1"], "replicaCount"),
        (["--set", "peering.lifetime=1"], "lifetime"),
        (["--set", "logFormat=xml"], "logFormat"),
        (["--set", "replicas=2"], "additional properties 'replicas' not allowed"),
        # Prometheus auth: one method, one CA, no Authorization header among the extra headers
        (
            ["--set", "prometheusAuth.bearerTokenSecret.name=t", "--set", "prometheusAuth.basicAuthSecret.name=b"],
            "/prometheusAuth",
        ),
        (["--set", "prometheusAuth.caSecret.name=a", "--set", "prometheusAuth.caConfigMap.name=b"], "/prometheusAuth"),
        (
            ["--set", "prometheusAuth.headers[0].name=Authorization", "--set", "prometheusAuth.headers[0].value=x"],
            "/prometheusAuth/headers/0/name",
        ),
    ],
)
def test_values_schema_rejects_mistakes(cluster: Cluster, values: list[str], words: str) -> None:
    out = helm(cluster, "template", "asgi", str(CHART), f"--kube-version={KUBE_VERSION}", *values, check=False)
    assert out.returncode != 0
    assert words in out.stderr


def test_operator_wide_prometheus_credentials_are_mounted_secrets_passed_as_files(cluster: Cluster) -> None:
    docs = template(
        cluster,
        "--set",
        "prometheusUrl=https://mimir.example.com/prometheus",
        "--set",
        "prometheusAuth.basicAuthSecret.name=grafana-cloud",
        "--set",
        "prometheusAuth.headers[0].name=X-Scope-OrgID",
        "--set",
        "prometheusAuth.headers[0].secret.name=tenant",
        "--set",
        "prometheusAuth.headers[0].secret.key=org",
        "--set",
        "prometheusAuth.caSecret.name=mimir-ca",
        "--set",
        "extraEnv[0].name=HTTPS_PROXY",
        "--set",
        "extraEnv[0].value=http://proxy:3128",
        "--set",
        "extraVolumes[0].name=corp-ca",
        "--set",
        "extraVolumes[0].configMap.name=corp-ca",
        "--set",
        "extraVolumeMounts[0].name=corp-ca",
        "--set",
        "extraVolumeMounts[0].mountPath=/etc/corp-ca",
    )
    pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    base = "/etc/asgi-operator/prometheus"
    assert {
        f"--prometheus-username-file={base}/basic-auth/username",
        f"--prometheus-password-file={base}/basic-auth/password",
        f"--prometheus-header-file=X-Scope-OrgID={base}/header-0/org",
        f"--prometheus-ca-file={base}/ca/ca.crt",
    } <= set(container["args"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["prometheus-basic-auth"]["secret"]["secretName"] == "grafana-cloud"
    assert volumes["prometheus-header-0"]["secret"]["secretName"] == "tenant"
    assert volumes["prometheus-ca"]["secret"]["secretName"] == "mimir-ca"
    assert "corp-ca" in volumes
    mounts = container["volumeMounts"]
    # whole volumes, never subPath: the kubelet updates them when the Secret is rotated
    assert all("subPath" not in m for m in mounts)
    assert {m["name"] for m in mounts} >= {"prometheus-basic-auth", "prometheus-header-0", "prometheus-ca", "corp-ca"}
    assert {"name": "HTTPS_PROXY", "value": "http://proxy:3128"} in container["env"]


def test_chart_crd_is_the_generated_one() -> None:
    assert (CHART / "crds" / "asgiservice.yaml").read_text() == (REPO / "crds" / "asgiservice.yaml").read_text()


@pytest.fixture
def installed(cluster: Cluster, fake_nodes: None) -> Iterator[str]:
    """`helm install` into the lab for real (CRDs included); uninstalled afterwards."""
    namespace = f"asgi-{int(time.time() * 1000) % 10**8}"
    manifest = "\n---\n".join(json.dumps(d) for d in template(cluster, namespace=namespace))
    cluster.kubectl("create", "namespace", namespace)
    # the chart's CRDs pass a server-side dry run, then are applied (as `helm install` does before templates);
    # the rendered templates pass a server-side dry run before the real install
    for path in sorted((CHART / "crds").glob("*.yaml")):
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", str(path))
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    cluster.kubectl("wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev", "--timeout=30s")
    cluster.kubectl("apply", "--server-side", "--dry-run=server", "-n", namespace, "-f", "-", stdin=manifest)
    started = time.monotonic()
    helm(
        cluster,
        "install",
        "asgi",
        str(CHART),
        "-n",
        namespace,
        "--wait",
        "--timeout=120s",
        "--set",
        "peering.lifetime=10",
    )
    print(f"helm install --wait took {time.monotonic() - started:.1f}s")
    try:
        yield namespace
    finally:
        helm(cluster, "uninstall", "asgi", "-n", namespace, "--wait", check=False)
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def chart_identity(cluster: Cluster, namespace: str, tmp_path: Path) -> Path:
    """A kubeconfig holding a token of the ServiceAccount the chart created."""
    from lab.cluster import kubeconfig_text

    token = cluster.kubectl("create", "token", "asgi-asgi-operator", "-n", namespace, "--duration=1h").stdout.strip()
    config = json.loads(cluster.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    server = config["clusters"][0]["cluster"]
    path = tmp_path / "chart-sa.kubeconfig"
    path.write_text(
        kubeconfig_text(
            server["server"],
            server.get("certificate-authority"),
            f"system:serviceaccount:{namespace}:asgi-asgi-operator",
            token,
        )
    )
    return path


def test_installed_chart_runs_the_operator_under_its_service_account(
    cluster: Cluster, installed: str, namespace: str, tmp_path: Path
) -> None:
    assert must_get(cluster, "deployment", "asgi-asgi-operator", installed)["status"].get("availableReplicas") == 2
    assert cluster.kubectl("get", "clusterkopfpeering", "asgi-operator", "-o", "name").stdout.strip()
    kubeconfig = chart_identity(cluster, installed, tmp_path)
    # the chart's identity may read AsgiServices, and may not read Secrets
    cluster.kubectl("get", "asgiservices", "-A", kubeconfig=kubeconfig)
    with pytest.raises(KubectlError, match="forbidden"):
        cluster.kubectl("get", "secrets", "-n", namespace, kubeconfig=kubeconfig)
    op = OperatorProcess(kubeconfig, "--peering=asgi-operator", "--peering-lifetime=10").start()
    try:
        apply(cluster, namespace, example("orders-gunicorn.yaml"))
        wait_ready(cluster, namespace, "orders", timeout=90)
        peering = json.loads(cluster.kubectl("get", "clusterkopfpeering", "asgi-operator", "-o", "json").stdout)
        assert len(peering.get("status", {})) == 1  # this process announced itself
    finally:
        op.stop()
