"""The Helm chart against the real API server: lint, template under every pair of switch settings (each rendering
accepted by a server-side dry run), the schema, and a real `helm install` into the lab: the operator running under
the chart's ServiceAccount, app teams holding only Kubernetes' built-in `edit` or `view` role using AsgiServices
through the aggregated ClusterRoles, and `helm upgrade` (a changed CRD) and `helm uninstall` (the CRD kept)."""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from asgi_operator.api import keys
from integration.helpers import apply, example, get, must_get, wait_ready
from integration.operator_proc import OperatorProcess
from lab.cluster import REPO, Cluster, KubectlError, crd_dir, wait_for

CHART = REPO / "charts" / "asgi-operator"
KUBE_VERSION = "1.36.3"
CRD_NAME = f"{keys.PLURAL}.{keys.GROUP}"


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


def template(
    cluster: Cluster, *values: str, namespace: str = "asgi-system", chart: Path = CHART
) -> list[dict[str, Any]]:
    out = helm(
        cluster, "template", "asgi", str(chart), "-n", namespace, f"--kube-version={KUBE_VERSION}", *values
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} in {[d['kind'] for d in docs]}"
    return found[0]


def rules_file(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((CHART / "files" / name).read_text()))


def test_helm_lint_is_clean(cluster: Cluster) -> None:
    everything_on = [
        "--set=grafanaDashboard.enabled=true,prometheusRule.enabled=true,metrics.serviceMonitor.enabled=true",
    ]
    for values in ([], everything_on, ["--set=crds.install=false,rbac.aggregateToDefaultRoles=false"]):
        out = helm(cluster, "lint", "--strict", str(CHART), f"--kube-version={KUBE_VERSION}", *values)
        assert "0 chart(s) failed" in out.stdout


def test_cluster_wide_install_grants_exactly_the_tested_rules(cluster: Cluster) -> None:
    docs = template(cluster)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == [
        "ClusterKopfPeering",
        "ClusterRole",  # the operator's
        "ClusterRole",  # -edit, aggregated into edit and admin
        "ClusterRole",  # -view, aggregated into view
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    role = one(docs, "ClusterRole", "asgi-asgi-operator")
    assert role["rules"] == rules_file("clusterrole-rules.yaml") + rules_file("peering-rules.yaml")
    deploy = one(docs, "Deployment")
    assert deploy["spec"]["replicas"] == 2
    pod = deploy["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert "--all-namespaces" in c["args"] and "--peering=asgi-operator" in c["args"]
    # restricted by default (Pod Security Standards)
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "POD_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in c["env"]


def test_namespaced_install_uses_roles(cluster: Cluster) -> None:
    docs = template(cluster, "--set", "watchNamespaces={shop,payments}")
    roles = [d for d in docs if d["kind"] == "Role"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["payments", "shop"]
    assert all(r["rules"] == rules_file("clusterrole-rules.yaml") + rules_file("peering-rules.yaml") for r in roles)
    assert sorted(d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole") == [
        "asgi-asgi-operator-discovery",
        "asgi-asgi-operator-edit",
        "asgi-asgi-operator-view",
    ]
    # the gateway's supported features are read before a route is written: the Gateway (in the platform's
    # namespace) and its cluster-scoped class, which no namespaced Role can grant
    discovery = one(docs, "ClusterRole", "asgi-asgi-operator-discovery")["rules"]
    assert {
        "apiGroups": ["gateway.networking.k8s.io"],
        "resources": ["gateways", "gatewayclasses"],
        "verbs": ["get"],
    } in (discovery)
    args = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=shop" in args and "--namespace=payments" in args and "--all-namespaces" not in args
    assert sorted(d["metadata"]["namespace"] for d in docs if d["kind"] == "KopfPeering") == ["payments", "shop"]


AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


def test_app_team_roles_aggregate_into_view_edit_and_admin(cluster: Cluster) -> None:
    docs = template(cluster)
    view, edit = (
        one(docs, "ClusterRole", "asgi-asgi-operator-view"),
        one(docs, "ClusterRole", "asgi-asgi-operator-edit"),
    )
    assert {k for k in view["metadata"]["labels"] if k.startswith(AGGREGATE)} == {AGGREGATE + "view"}
    assert {k for k in edit["metadata"]["labels"] if k.startswith(AGGREGATE)} == {
        AGGREGATE + "edit",
        AGGREGATE + "admin",
    }
    assert view["rules"] == [
        {
            "apiGroups": [keys.GROUP],
            "resources": [keys.PLURAL, f"{keys.PLURAL}/status"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    # edit changes AsgiServices (the plugin's annotations are patches) but never their status: that is the operator's
    assert {"patch", "update", "create", "delete"} <= set(edit["rules"][0]["verbs"])
    assert edit["rules"][0]["resources"] == [keys.PLURAL]
    assert all(r["verbs"] == ["get", "list", "watch"] for r in edit["rules"][1:])
    off = template(cluster, "--set", "rbac.aggregateToDefaultRoles=false")
    assert not [d for d in off if any(k.startswith(AGGREGATE) for k in d["metadata"].get("labels", {}))]


def test_security_contexts_args_and_pod_metadata_are_values(cluster: Cluster) -> None:
    docs = template(
        cluster,
        # OpenShift's restricted-v2: no fixed user or group, the namespace's range assigns them
        "--set=podSecurityContext.runAsUser=null,podSecurityContext.runAsGroup=null",
        "--set=securityContext.readOnlyRootFilesystem=false",
        "--set=extraArgs={--log-level=debug}",
        "--set=podAnnotations.team=platform,podLabels.cost-center=ops",
    )
    pod = one(docs, "Deployment")["spec"]["template"]
    assert pod["spec"]["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    container = pod["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["args"][-1] == "--log-level=debug"
    assert pod["metadata"]["annotations"]["team"] == "platform"
    assert pod["metadata"]["labels"]["cost-center"] == "ops"
    # the Deployment's selector does not take podLabels: changing them never orphans the old ReplicaSet
    assert "cost-center" not in one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    empty = one(template(cluster, "--set=podSecurityContext=null,securityContext=null"), "Deployment")
    assert "securityContext" not in empty["spec"]["template"]["spec"]
    assert "securityContext" not in empty["spec"]["template"]["spec"]["containers"][0]


def test_crd_is_a_template_of_the_generated_crd_kept_on_uninstall(cluster: Cluster) -> None:
    generated = yaml.safe_load((REPO / "crds" / "asgiservice.yaml").read_text())
    crd = one(template(cluster), "CustomResourceDefinition")
    assert crd["metadata"]["annotations"].pop("helm.sh/resource-policy") == "keep"
    assert crd["metadata"].pop("labels")["app.kubernetes.io/managed-by"] == "Helm"
    assert crd == generated
    unkept = one(template(cluster, "--set=crds.keep=false"), "CustomResourceDefinition")
    assert "helm.sh/resource-policy" not in unkept["metadata"]["annotations"]
    assert not [d for d in template(cluster, "--set=crds.install=false") if d["kind"] == "CustomResourceDefinition"]
    # Helm would install a CRD in crds/ before the templates, and the template's copy would then fail as
    # "exists and cannot be imported": crds/ holds only Kopf's peering CRDs
    assert sorted(p.name for p in (CHART / "crds").iterdir()) == ["kopfpeerings.yaml"]


def test_dashboard_and_alerts_are_the_docs_files(cluster: Cluster) -> None:
    assert not [d for d in template(cluster) if d["kind"] in ("ConfigMap", "PrometheusRule")]
    docs = template(
        cluster,
        "--set=grafanaDashboard.enabled=true,prometheusRule.enabled=true",
        "--set=grafanaDashboard.annotations.grafana_folder=Operators,prometheusRule.labels.release=monitoring",
    )
    dashboard = one(docs, "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Operators"}
    assert json.loads(dashboard["data"]["asgi-operator.json"]) == json.loads(
        (REPO / "docs" / "grafana-dashboard.json").read_text()
    )
    rule = one(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "monitoring"
    assert rule["spec"] == yaml.safe_load((REPO / "docs" / "alerts.yaml").read_text())["spec"]
    # the sidecar's label is a value: another key, in another namespace
    other = one(
        template(
            cluster,
            "--set=grafanaDashboard.enabled=true,grafanaDashboard.labels.grafana_dashboard=null",
            "--set=grafanaDashboard.namespace=grafana",
            "--set-string=grafanaDashboard.labels.dashboards=asgi",
        ),
        "ConfigMap",
    )
    assert other["metadata"]["namespace"] == "grafana"
    assert (
        other["metadata"]["labels"]["dashboards"] == "asgi" and "grafana_dashboard" not in other["metadata"]["labels"]
    )


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (["--set", "replicaCount=-1"], "replicaCount"),
        (["--set", "peering.lifetime=1"], "lifetime"),
        (["--set", "logFormat=xml"], "logFormat"),
        (["--set", "replicas=2"], "additional properties 'replicas' not allowed"),
        (["--set", "crds.install=yes"], "/crds/install"),
        (["--set", "rbac.aggregate=true"], "additional properties 'aggregate' not allowed"),
        # a label value must be a string: --set-string (or quotes in a values file), not --set
        (["--set", "grafanaDashboard.labels.grafana_dashboard=1"], "/grafanaDashboard/labels/grafana_dashboard"),
        (["--set", "extraArgs={run}"], "/extraArgs/0"),
        (["--set", "podSecurityContext=restricted"], "/podSecurityContext"),
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


# ------------------------------------------------------------------ every combination of the switches
# Each switch on and off, each enum at each value, and every PAIR of settings in at least one rendering (a
# greedy pairwise cover: 14 factors, 2^12 * 3^2 * ... combinations, a dozen and a half renderings).
SWITCHES: dict[str, list[Any]] = {
    "peering.enabled": [True, False],
    "serviceAccount.create": [True, False],
    "podDisruptionBudget.enabled": [True, False],
    "metrics.service.enabled": [True, False],
    "metrics.serviceMonitor.enabled": [True, False],
    "rbac.aggregateToDefaultRoles": [True, False],
    "crds.install": [True, False],
    "crds.keep": [True, False],
    "grafanaDashboard.enabled": [True, False],
    "prometheusRule.enabled": [True, False],
    "watchNamespaces": ["all", "two"],
    "replicaCount": [1, 2],
    "image.pullPolicy": ["Always", "IfNotPresent", "Never"],
    "logFormat": ["json", "full", "plain"],
}


Pair = tuple[tuple[str, Any], tuple[str, Any]]


def newly_covered(row: dict[str, Any], name: str, value: Any, uncovered: set[Pair]) -> int:
    return sum(((n, v), (name, value)) in uncovered or ((name, value), (n, v)) in uncovered for n, v in row.items())


def pairwise(factors: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Rows of settings such that every pair of values of two factors is in some row (greedy, deterministic)."""
    names = list(factors)
    uncovered: set[Pair] = {
        ((a, va), (b, vb)) for a, b in itertools.combinations(names, 2) for va in factors[a] for vb in factors[b]
    }
    rows: list[dict[str, Any]] = []
    rng = random.Random(13)
    while uncovered:
        (a, va), (b, vb) = min(uncovered, key=repr)
        row = {a: va, b: vb}
        for name in names:
            if name not in row:
                gains = {repr(v): newly_covered(row, name, v, uncovered) for v in factors[name]}
                row[name] = rng.choice([v for v in factors[name] if gains[repr(v)] == max(gains.values())])
        row = {n: row[n] for n in names}
        uncovered -= {((a, row[a]), (b, row[b])) for a, b in itertools.combinations(names, 2)}
        rows.append(row)
    return rows


COMBINATIONS = pairwise(SWITCHES)


def test_the_combinations_cover_every_pair_of_settings() -> None:
    for a, b in itertools.combinations(SWITCHES, 2):
        seen = {(row[a], row[b]) for row in COMBINATIONS}
        assert seen == set(itertools.product(SWITCHES[a], SWITCHES[b])), (a, b)
    assert len(COMBINATIONS) < 25


def prometheus_operator_crd(name: str) -> Path | None:
    """A prometheus-operator CRD from its Go module (already in the module cache: the lab fetched it)."""
    cached = crd_dir() / "prometheus-operator" / f"monitoring.coreos.com_{name}.yaml"
    if cached.exists():
        return cached
    versions = dict(
        line.split("=", 1) for line in (REPO / "tests/lab/versions.env").read_text().splitlines() if "=" in line
    )
    module = f"github.com/prometheus-operator/prometheus-operator@{versions['PROMETHEUS_OPERATOR_VERSION']}"
    try:
        out = subprocess.run(
            ["go", "mod", "download", "-json", module],
            cwd=tempfile.gettempdir(),
            env={**os.environ, "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local")},
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path = (
        Path(json.loads(out.stdout)["Dir"]) / "example/prometheus-operator-crd" / f"monitoring.coreos.com_{name}.yaml"
    )
    return path if path.exists() else None


OPTIONAL_CRDS = {
    "ServiceMonitor": "servicemonitors.monitoring.coreos.com",
    "PrometheusRule": "prometheusrules.monitoring.coreos.com",
}


OPTIONAL_SWITCHES = {"metrics.serviceMonitor.enabled": "ServiceMonitor", "prometheusRule.enabled": "PrometheusRule"}


@pytest.fixture(scope="module")
def unserved_kinds(cluster: Cluster) -> set[str]:
    """Every CRD the chart's objects need, installed: Kopf's peerings (the chart's crds/), ServiceMonitor and
    PrometheusRule (prometheus-operator's, from its Go module). Returns the kinds that still are not served."""
    for path in sorted((CHART / "crds").glob("*.yaml")):
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    for crd in OPTIONAL_CRDS.values():
        path = prometheus_operator_crd(crd.split(".")[0])
        if path is not None:
            cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    return {kind for kind, crd in OPTIONAL_CRDS.items() if cluster.kubectl("get", "crd", crd, check=False).returncode}


def settings(row: dict[str, Any], namespaces: list[str]) -> list[str]:
    out = []
    for key, value in row.items():
        if key == "watchNamespaces":
            out.append(
                f"--set=watchNamespaces={{{','.join(namespaces)}}}" if value == "two" else "--set=watchNamespaces=null"
            )
        else:
            out.append(f"--set={key}={json.dumps(value) if isinstance(value, bool) else value}")
    return out


def expected_kinds(row: dict[str, Any]) -> list[str]:
    kinds = ["Deployment"]
    kinds += ["ClusterRole", "ClusterRole"] if row["rbac.aggregateToDefaultRoles"] else []
    if row["watchNamespaces"] == "all":
        kinds += ["ClusterRole", "ClusterRoleBinding"] + (["ClusterKopfPeering"] if row["peering.enabled"] else [])
    else:  # a Role, RoleBinding (and KopfPeering) in each, and the discovery ClusterRole
        kinds += ["Role", "RoleBinding"] * 2 + ["ClusterRole", "ClusterRoleBinding"]
        kinds += ["KopfPeering"] * 2 if row["peering.enabled"] else []
    kinds += ["ServiceAccount"] if row["serviceAccount.create"] else []
    kinds += ["PodDisruptionBudget"] if row["podDisruptionBudget.enabled"] and row["replicaCount"] > 1 else []
    kinds += ["Service"] if row["metrics.service.enabled"] else []
    kinds += ["ServiceMonitor"] if row["metrics.serviceMonitor.enabled"] else []
    kinds += ["CustomResourceDefinition"] if row["crds.install"] else []
    kinds += ["ConfigMap"] if row["grafanaDashboard.enabled"] else []
    kinds += ["PrometheusRule"] if row["prometheusRule.enabled"] else []
    return sorted(kinds)


@pytest.mark.parametrize("row", COMBINATIONS, ids=[f"combination-{i}" for i in range(len(COMBINATIONS))])
def test_every_combination_renders_what_it_says_and_the_api_server_accepts_it(
    cluster: Cluster, namespace: str, unserved_kinds: set[str], row: dict[str, Any]
) -> None:
    watched = [f"{namespace}-a", f"{namespace}-b"]
    for ns in watched:
        cluster.kubectl_apply(json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
    try:
        docs = template(cluster, *settings(row, watched), namespace=namespace)
        assert sorted(d["kind"] for d in docs) == expected_kinds(row)
        container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        assert f"--log-format={row['logFormat']}" in container["args"]
        assert container["imagePullPolicy"] == row["image.pullPolicy"]
        if row["crds.install"]:
            annotations = one(docs, "CustomResourceDefinition")["metadata"]["annotations"]
            assert ("helm.sh/resource-policy" in annotations) == row["crds.keep"]
        # what the API server says of each object (schema, CEL, RBAC escalation checks), without writing it
        accepted = [d for d in docs if d["kind"] not in unserved_kinds]
        manifest = "\n---\n".join(json.dumps(d) for d in accepted)
        out = cluster.kubectl(
            "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-", stdin=manifest
        ).stdout
        assert out.count("(server dry run)") == len(accepted), out
    finally:
        for ns in watched:
            cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


# ------------------------------------------------------------------ a real install, shared by the tests below
@dataclass
class Release:
    name: str
    namespace: str
    notes: str
    uninstalled: bool = False


def adopt_crd(cluster: Cluster, release: str, namespace: str) -> None:
    """What the README documents for a CRD installed before the chart owned it (the lab installed it with kubectl;
    an install of an older chart had it in crds/): label and annotate it for the release, and Helm adopts it."""
    cluster.kubectl("label", "--overwrite", "crd", CRD_NAME, "app.kubernetes.io/managed-by=Helm")
    cluster.kubectl(
        "annotate",
        "--overwrite",
        "crd",
        CRD_NAME,
        f"meta.helm.sh/release-name={release}",
        f"meta.helm.sh/release-namespace={namespace}",
    )


@pytest.fixture(scope="module")
def release(cluster: Cluster, unserved_kinds: set[str]) -> Iterator[Release]:
    """`helm install --wait` into the lab for real: the CRD as a template (kept on uninstall), the aggregated
    ClusterRoles, the dashboard ConfigMap. Uninstalled at the end (the last test uninstalls it itself)."""
    if not cluster.fake_nodes:
        pytest.skip("needs the lab's kwok nodes: the operator image is not pulled on a real cluster")
    namespace = f"asgi-{int(time.time() * 1000) % 10**8}"
    cluster.kubectl("create", "namespace", namespace)
    adopt_crd(cluster, "asgi", namespace)
    started = time.monotonic()
    out = helm(
        cluster,
        "install",
        "asgi",
        str(CHART),
        "-n",
        namespace,
        "--wait",
        "--timeout=120s",
        "--set=peering.lifetime=10,grafanaDashboard.enabled=true",
        *[f"--set={key}=true" for key, kind in OPTIONAL_SWITCHES.items() if kind not in unserved_kinds],
    )
    print(f"helm install --wait took {time.monotonic() - started:.1f}s")
    current = Release("asgi", namespace, out.stdout)
    try:
        yield current
    finally:
        if not current.uninstalled:
            helm(cluster, "uninstall", "asgi", "-n", namespace, "--wait", check=False)
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def installed(release: Release) -> str:
    assert not release.uninstalled, "this test must run before test_upgrade_then_uninstall (which uninstalls)"
    return release.namespace


def test_install_notes_say_how_to_get_what_is_not_in_the_chart(release: Release) -> None:
    notes = " ".join(release.notes[release.notes.index("NOTES:") :].split())
    # the plugin into a virtualenv of its own (PEP 668: a bare `pip install .` is refused by Debian's Python)
    assert "python3 -m venv ~/.local/share/kubectl-asgi" in notes and "Dockerfile" in notes
    assert "pip install asgi-operator" not in notes
    assert "asgi-asgi-operator-view and -edit are aggregated" in notes
    assert "helm uninstall leaves it" in notes


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
    cluster: Cluster, release: Release, unserved_kinds: set[str], namespace: str, tmp_path: Path
) -> None:
    ns = installed(release)
    assert must_get(cluster, "deployment", "asgi-asgi-operator", ns)["status"].get("availableReplicas") == 2
    assert cluster.kubectl("get", "clusterkopfpeering", "asgi-operator", "-o", "name").stdout.strip()
    dashboard = must_get(cluster, "configmap", "asgi-asgi-operator-dashboard", ns)
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    if "PrometheusRule" not in unserved_kinds:
        assert must_get(cluster, "prometheusrule", "asgi-asgi-operator", ns)["spec"]["groups"]
    kubeconfig = chart_identity(cluster, ns, tmp_path)
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


def aggregated(cluster: Cluster, role: str, verb: str) -> bool:
    rules = json.loads(cluster.kubectl("get", "clusterrole", role, "-o", "json").stdout).get("rules", [])
    return any(
        keys.GROUP in r.get("apiGroups", []) and keys.PLURAL in r.get("resources", []) and verb in r["verbs"]
        for r in rules
    )


def team_member(cluster: Cluster, namespace: str, name: str, role: str, directory: Path) -> Path:
    """An identity bound to nothing but Kubernetes' built-in `role`, by a RoleBinding in `namespace`."""
    from lab.identity import create_identity_kubeconfig

    kubeconfig = create_identity_kubeconfig(
        cluster.bin("kubectl"),
        cluster.admin_kubeconfig,
        directory / f"{name}.kubeconfig",
        namespace=namespace,
        name=name,
    )
    cluster.kubectl(
        "create", "rolebinding", name, f"--clusterrole={role}", f"--serviceaccount={namespace}:{name}", "-n", namespace
    )
    return kubeconfig


def watch_once(cluster: Cluster, namespace: str, kubeconfig: Path) -> str:
    """A real watch request (what `kubectl get -w` and `kubectl asgi status -w` make), ended by the server."""
    path = f"/apis/{keys.GROUP}/v1alpha1/namespaces/{namespace}/{keys.PLURAL}?watch=true&timeoutSeconds=1"
    return cluster.kubectl("get", "--raw", path, kubeconfig=kubeconfig).stdout


def test_app_teams_with_the_built_in_edit_or_view_role_get_asgiservices(
    cluster: Cluster, release: Release, namespace: str, tmp_path: Path
) -> None:
    installed(release)
    # the clusterrole-aggregation controller (kube-controller-manager) copies the chart's rules into the built-ins
    wait_for("AsgiServices in the built-in edit and admin roles", lambda: aggregated(cluster, "edit", "patch"), 60)
    wait_for("AsgiServices in the built-in admin role", lambda: aggregated(cluster, "admin", "patch"), 60)
    wait_for("AsgiServices in the built-in view role", lambda: aggregated(cluster, "view", "watch"), 60)
    assert not aggregated(cluster, "view", "patch")
    editor = team_member(cluster, namespace, "app-editor", "edit", tmp_path)
    viewer = team_member(cluster, namespace, "app-viewer", "view", tmp_path)

    # the editor owns the manifest: creates it, lists and watches it, promotes, aborts and pauses (annotations,
    # exactly the patches `kubectl asgi promote/abort/pause` sends), and may delete it
    cluster.kubectl("apply", "-n", namespace, "-f", str(REPO / "examples" / "hello.yaml"), kubeconfig=editor)
    assert cluster.kubectl("get", "asgiservices", "-n", namespace, "-o", "name", kubeconfig=editor).stdout.split() == [
        "asgiservice.asgi.dev/hello"
    ]
    assert '"type":"ADDED"' in watch_once(cluster, namespace, editor)
    for annotation in (f"{keys.ANNOTATION_REQUEST}=promote/1", f"{keys.ANNOTATION_REQUEST}=abort/2"):
        cluster.kubectl(
            "annotate", "--overwrite", "asgiservice", "hello", annotation, "-n", namespace, kubeconfig=editor
        )
        key, value = annotation.split("=")
        assert must_get(cluster, "asgiservice", "hello", namespace)["metadata"]["annotations"][key] == value
    cluster.kubectl(
        "annotate", "asgiservice", "hello", f"{keys.ANNOTATION_PAUSED}=true", "-n", namespace, kubeconfig=editor
    )
    # ... but never writes the status (the operator's), nor AsgiServices in a namespace where it holds no role
    with pytest.raises(KubectlError, match="forbidden"):
        cluster.kubectl(
            "patch", "asgiservice", "hello", "-n", namespace, "--subresource=status", "--type=merge",
            "-p", '{"status":{"phase":"Idle"}}', kubeconfig=editor,
        )  # fmt: skip
    with pytest.raises(KubectlError, match="forbidden"):
        cluster.kubectl("get", "asgiservices", "-n", installed(release), kubeconfig=editor)

    # the viewer reads and watches, and can neither promote, abort nor delete
    assert cluster.kubectl("get", "asgiservice", "hello", "-n", namespace, "-o", "name", kubeconfig=viewer).stdout
    assert '"type":"ADDED"' in watch_once(cluster, namespace, viewer)
    with pytest.raises(KubectlError, match="forbidden"):
        cluster.kubectl(
            "annotate", "--overwrite", "asgiservice", "hello", f"{keys.ANNOTATION_REQUEST}=promote/3", "-n", namespace,
            kubeconfig=viewer,
        )  # fmt: skip
    with pytest.raises(KubectlError, match="forbidden"):
        cluster.kubectl("delete", "asgiservice", "hello", "-n", namespace, kubeconfig=viewer)
    assert (
        must_get(cluster, "asgiservice", "hello", namespace)["metadata"]["annotations"][keys.ANNOTATION_REQUEST]
        == "abort/2"
    )

    # and the same through the plugin itself, as each of them
    def plugin(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(Path(sys.executable).parent / "kubectl-asgi"), "--kubeconfig", str(kubeconfig), "-n", namespace]
        return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=60, check=False)

    assert plugin(editor, "resume", "hello").returncode == 0
    assert keys.ANNOTATION_PAUSED not in must_get(cluster, "asgiservice", "hello", namespace)["metadata"]["annotations"]
    assert "hello" in plugin(viewer, "list").stdout
    assert plugin(viewer, "status", "hello").returncode == 0
    refused = plugin(viewer, "pause", "hello")
    assert refused.returncode == 1 and "forbidden" in (refused.stdout + refused.stderr).lower(), refused
    cluster.kubectl("delete", "asgiservice", "hello", "-n", namespace, "--wait=false", kubeconfig=editor)


def crd_categories(cluster: Cluster) -> list[str]:
    return list(json.loads(cluster.kubectl("get", "crd", CRD_NAME, "-o", "json").stdout)["spec"]["names"]["categories"])


def test_upgrade_then_uninstall(cluster: Cluster, release: Release, namespace: str, tmp_path: Path) -> None:
    """LAST in this module: it uninstalls the shared release. A new chart version whose CRD changed is applied by
    `helm upgrade` (no manual step); `helm uninstall` removes the operator and keeps the CRD and the apps."""
    ns = installed(release)
    apply(cluster, namespace, example("hello.yaml"))
    original = crd_categories(cluster)
    newer = tmp_path / "asgi-operator"
    shutil.copytree(CHART, newer)
    crd = newer / "templates" / "crd-asgiservice.yaml"
    text = crd.read_text()
    assert text.count("    categories:\n    - all\n") == 1
    crd.write_text(text.replace("    categories:\n    - all\n", "    categories:\n    - all\n    - asgi-upgraded\n"))
    chart_yaml = newer / "Chart.yaml"
    meta = yaml.safe_load(chart_yaml.read_text())
    meta["version"] = version = f"{meta['version']}-upgraded"
    chart_yaml.write_text(yaml.safe_dump(meta))
    try:
        helm(cluster, "upgrade", "asgi", str(newer), "-n", ns, "--reuse-values", "--wait", "--timeout=120s")
        assert crd_categories(cluster) == [*original[:1], "asgi-upgraded", *original[1:]]
        deployment = must_get(cluster, "deployment", "asgi-asgi-operator", ns)
        assert deployment["metadata"]["labels"]["helm.sh/chart"] == f"asgi-operator-{version}"

        helm(cluster, "uninstall", "asgi", "-n", ns, "--wait", "--timeout=120s")
        release.uninstalled = True
        assert get(cluster, "deployment", "asgi-asgi-operator", ns) is None
        assert cluster.kubectl("get", "clusterrole", "asgi-asgi-operator-edit", check=False).returncode != 0
        # helm.sh/resource-policy: keep: the CRD stays, and with it every AsgiService (and the apps they run)
        assert "asgi-upgraded" in crd_categories(cluster)
        assert must_get(cluster, "asgiservice", "hello", namespace)
        # the built-in roles lose the rules again once their source is gone
        wait_for("AsgiServices gone from the built-in edit role", lambda: not aggregated(cluster, "edit", "patch"), 60)
    finally:  # the lab's CRD as the other tests expect it
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds" / "asgiservice.yaml"))
    assert crd_categories(cluster) == original
