"""expose.tls.issuerRef for real: without cert-manager's CRD the AsgiService says so (and the app is deployed
anyway); with it, the operator owns a Certificate for the host that the Ingress serves. (The lab installs
cert-manager's CRDs from its Go module; this test removes the Certificate CRD for a moment.)"""

from __future__ import annotations

from pathlib import Path

from integration.helpers import apply, condition, events_for, example, get, must_get, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from lab.cluster import Cluster, crd_dir

CERTIFICATE_CRD = "certificates.cert-manager.io"


def test_an_issuer_without_cert_manager_is_a_condition_and_with_it_a_certificate(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path, fake_nodes: None
) -> None:
    doc = example("hello.yaml")
    doc["spec"]["rollout"]["strategy"] = "RollingUpdate"
    doc["spec"]["expose"] = {
        "host": "hello.example.com",
        "ingress": {"className": "nginx", "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}},
        "tls": {"issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}},
    }
    cluster.kubectl("delete", "crd", CERTIFICATE_CRD, "--wait=true")
    try:
        op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
        try:
            apply(cluster, namespace, doc)

            def ready_reason() -> str | None:
                return condition(get(cluster, "asgiservice", "hello", namespace), "Ready").get("reason")

            wait_until("Ready False: CertManagerMissing", lambda: ready_reason() == "CertManagerMissing", 60)
            asvc = must_get(cluster, "asgiservice", "hello", namespace)
            assert condition(asvc, "Stalled")["status"] == "True"
            assert "certificates.cert-manager.io" in condition(asvc, "Ready")["message"]
            # everything else is deployed: the Deployment, and the Ingress serving the Secret to come
            assert get(cluster, "deployment", "hello", namespace) is not None
            ingress = must_get(cluster, "ingress", "hello", namespace)
            assert ingress["spec"]["tls"] == [{"hosts": ["hello.example.com"], "secretName": "hello-tls"}]
        finally:
            op.stop()
    finally:
        cluster.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            str(crd_dir() / "cert-manager" / "cert-manager.io_certificates.yaml"),
        )
        cluster.wait_established(CERTIFICATE_CRD)

    # a new operator process finds the CRD (a running one learns of it from the CRD watch and wakes every
    # AsgiService once the kind is served: test_crd_appears)
    op = OperatorProcess(operator_kubeconfig, "-n", namespace).start()
    try:
        cert = wait_until("the Certificate", lambda: get(cluster, "certificate", "hello-tls", namespace), 60)
        assert cert["spec"] == {
            "secretName": "hello-tls",
            "dnsNames": ["hello.example.com"],
            "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"},
            "privateKey": {"rotationPolicy": "Always"},
        }
        asvc = must_get(cluster, "asgiservice", "hello", namespace)
        assert cert["metadata"]["ownerReferences"][0]["uid"] == asvc["metadata"]["uid"]
        wait_ready(cluster, namespace, "hello")
        # announced as what happened: created now that its CRD exists, not "put back" (nobody deleted it)
        events = [e for e in events_for(cluster, namespace, "hello") if "Certificate/hello-tls" in e["message"]]
        assert [e["reason"] for e in events] == ["Created"], events
    finally:
        op.stop()
