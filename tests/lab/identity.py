"""An unprivileged identity for the operator: a ServiceAccount and a kubeconfig holding its token.

Works on any cluster the admin kubeconfig reaches (the lab, kind, ...): it uses only the TokenRequest API
(`kubectl create token`), so the operator under test has exactly the permissions RBAC grants that account.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .cluster import kubeconfig_text


def create_identity_kubeconfig(
    kubectl: str, admin_kubeconfig: Path, out: Path, *, namespace: str, name: str, duration: str = "24h"
) -> Path:
    def run(*args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            [kubectl, f"--kubeconfig={admin_kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    run(
        "apply",
        "--server-side",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
    )
    run(
        "apply",
        "--server-side",
        "-f",
        "-",
        stdin=json.dumps(
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
        ),
    )
    token = run("create", "token", name, "-n", namespace, f"--duration={duration}").strip()
    config = json.loads(run("config", "view", "--raw", "--minify", "-o", "json"))
    cluster = config["clusters"][0]["cluster"]
    ca_file = cluster.get("certificate-authority")
    text = kubeconfig_text(cluster["server"], ca_file, f"system:serviceaccount:{namespace}:{name}", token)
    if ca_file is None and "certificate-authority-data" in cluster:
        data = json.loads(text)
        data["clusters"][0]["cluster"] = {
            "server": cluster["server"],
            "certificate-authority-data": cluster["certificate-authority-data"],
        }
        text = json.dumps(data, indent=2)
    out.write_text(text)
    out.chmod(0o600)
    return out
