"""Canary analysis against a Prometheus that needs credentials, all real: the lab's Prometheus serves only HTTPS
with basic auth (its own --web.config.file, a bcrypt hash, a certificate from a CA made at test time for the
name prometheus.lab.test, not 127.0.0.1), and a real reverse proxy in front of it (lab.authproxy) demands a
bearer token and the tenant header X-Scope-OrgID over HTTPS, as a hosted or multi-tenant Prometheus does.

The operator (a real process, under exactly the chart's RBAC rules) reads the Secrets and ConfigMaps an
AsgiService names at each analysis; a missing or refused credential holds the step with a condition and an
event naming the Secret, and a rotated Secret is used without a restart. The canary rig (data plane, load,
Prometheus' scrapes) is test_canary_e2e's.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from asgi_operator.prom.client import Auth, AuthRejected
from asgi_operator.prom.client import Prometheus as Client
from integration.helpers import condition, events_for, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from integration.test_canary_e2e import HOST, NAME, Rig, _promoted_and_ready, spec
from lab.authproxy import TENANT_HEADER, AuthProxy
from lab.cluster import Cluster
from lab.dataplane import DataPlane
from lab.load import LoadDriver
from lab.pki import CA
from lab.traffic import Prometheus, WebSecurity

PROM_NAME = "prometheus.lab.test"
PROM_USER, PROM_PASSWORD = "analysis", "correct horse battery staple"
TENANT = "team-a"
TOKEN, NEW_TOKEN = "token-one-4f0c", "token-two-9b1e"
AUTH_FAILED = "PrometheusAuthFailed"


@dataclass
class AuthLab:
    ca: CA
    prometheus: Prometheus
    proxy: AuthProxy


@pytest.fixture
def lab(cluster: Cluster, tmp_path: Path) -> Iterator[AuthLab]:
    if not cluster.fake_nodes:
        pytest.skip("the end-to-end canary plays the data plane next to fake (kwok) nodes")
    ca = CA(tmp_path)
    web = WebSecurity(ca.issue("prometheus", [PROM_NAME]), ca.cert_file, PROM_USER, PROM_PASSWORD)
    prometheus = Prometheus(cluster.bin_dir, web=web).start()
    proxy = AuthProxy(
        cert=ca.issue("gateway", ["gateway.lab.test"], ("127.0.0.1",)),
        ca_file=ca.cert_file,
        token=TOKEN,
        tenant=TENANT,
        upstream=prometheus.url,
        upstream_user=PROM_USER,
        upstream_password=PROM_PASSWORD,
    ).start()
    try:
        yield AuthLab(ca, prometheus, proxy)
    finally:
        proxy.stop()
        prometheus.close()


def secret(cluster: Cluster, namespace: str, name: str, data: dict[str, str]) -> None:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque", "data": encoded}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body))


def config_map(cluster: Cluster, namespace: str, name: str, data: dict[str, str]) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body))


def with_auth(address: str | None, auth: dict[str, Any] | None, version: str = "v1") -> dict[str, Any]:
    body = spec(address or "http://unused", version)
    prometheus = body["spec"]["rollout"]["prometheus"]
    if address is None:
        del prometheus["address"]
    if auth is not None:
        prometheus["auth"] = auth
    return body


def proxy_auth() -> dict[str, Any]:
    """Bearer token and tenant header from Secrets, the proxy's CA from a ConfigMap."""
    return {
        "bearerToken": {"secretRef": {"name": "prom-token", "key": "token"}},
        "headers": [{"name": TENANT_HEADER, "valueFrom": {"secretKeyRef": {"name": "prom-tenant", "key": "org"}}}],
        "tls": {"caConfigMapRef": {"name": "prom-ca", "key": "ca.crt"}},
    }


@contextmanager
def canary_rig(
    cluster: Cluster, namespace: str, kubeconfig: Path, lab: AuthLab, body: dict[str, Any], *operator_args: str
) -> Iterator[Rig]:
    """test_canary_e2e's rig, with this Prometheus and this first revision (deployed without analysis)."""
    plane = DataPlane(cluster, namespace, NAME, lab.prometheus).start()
    load = LoadDriver(plane, HOST, rate=80).start()
    op = OperatorProcess(kubeconfig, "-n", namespace, *operator_args).start()
    rig = Rig(cluster, namespace, kubeconfig, lab.prometheus, plane, load, op)
    try:
        rig.apply(body)
        wait_ready(cluster, namespace, NAME)
        wait_until("stable serving traffic", lambda: load.sent["stable"] > 20)
        yield rig
    finally:
        op.stop()
        load.stop()
        plane.stop()
        assert not plane.errors, plane.errors


def held_on_auth(rig: Rig, *words: str) -> dict[str, Any]:
    """The step holds with Ready=False, reason PrometheusAuthFailed, and a message containing `words`."""

    def check() -> dict[str, Any] | None:
        asvc = rig.asvc()
        ready = condition(asvc, "Ready")
        rollout = asvc.get("status", {}).get("rollout", {})
        if (
            ready.get("reason") == AUTH_FAILED
            and all(w in ready.get("message", "") for w in words)
            and rollout.get("phase") == "Progressing"
        ):
            return asvc
        return None

    try:
        return dict(wait_until(f"held on {AUTH_FAILED}: {words}", check, 60))
    except TimeoutError as e:
        raise TimeoutError(f"{e}; Ready: {condition(rig.asvc(), 'Ready')}") from None


def auth_events(rig: Rig) -> list[str]:
    return [e["message"] for e in events_for(rig.cluster, rig.namespace, NAME) if e["reason"] == AUTH_FAILED]


def assert_never_leaked(rig: Rig, *secrets: str) -> None:
    everything = json.dumps(rig.asvc()) + json.dumps(events_for(rig.cluster, rig.namespace, NAME))
    everything += rig.operator.logs() + rig.operator.metrics()
    for value in secrets:
        assert value not in everything


def test_the_client_tells_refused_credentials_and_unverified_tls_apart_and_never_repeats_a_secret(
    lab: AuthLab,
) -> None:
    proxied = Auth(bearer_token=TOKEN, headers=((TENANT_HEADER, TENANT),), ca_pem=lab.ca.pem)
    assert Client(lab.proxy.url, 5, proxied).query("vector(1)")[0].value == 1.0
    direct = Auth(basic=(PROM_USER, PROM_PASSWORD), ca_pem=lab.ca.pem, server_name=PROM_NAME)
    assert Client(lab.prometheus.url, 5, direct).query("vector(2)")[0].value == 2.0
    refused = [
        (lab.proxy.url, Auth(bearer_token="wrong", headers=((TENANT_HEADER, TENANT),), ca_pem=lab.ca.pem), "401"),
        (lab.proxy.url, Auth(bearer_token=TOKEN, ca_pem=lab.ca.pem), "401"),  # no tenant header
        (lab.proxy.url, Auth(bearer_token=TOKEN, headers=((TENANT_HEADER, TENANT),)), "certificate verify failed"),
        (lab.prometheus.url, Auth(basic=(PROM_USER, "wrong"), ca_pem=lab.ca.pem, server_name=PROM_NAME), "401"),
        # the certificate names prometheus.lab.test, not 127.0.0.1, nor another name
        (lab.prometheus.url, Auth(basic=(PROM_USER, PROM_PASSWORD), ca_pem=lab.ca.pem), "IP address mismatch"),
        (
            lab.prometheus.url,
            Auth(basic=(PROM_USER, PROM_PASSWORD), ca_pem=lab.ca.pem, server_name="other.lab.test"),
            "Hostname mismatch",
        ),
    ]
    for url, auth, words in refused:
        with pytest.raises(AuthRejected) as err:
            Client(url, 5, auth).query("vector(1)")
        assert words in str(err.value)
        assert TOKEN not in str(err.value) and PROM_PASSWORD not in str(err.value)


@pytest.mark.usefixtures("gateway")  # the canary's traffic goes through the lab's real gateway
def test_canary_is_promoted_through_a_proxy_demanding_a_bearer_token_and_a_tenant_header(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path, lab: AuthLab
) -> None:
    secret(cluster, namespace, "prom-token", {"token": TOKEN + "\n"})  # the newline of `echo token > file`
    secret(cluster, namespace, "prom-tenant", {"org": TENANT})
    config_map(cluster, namespace, "prom-ca", {"ca.crt": lab.ca.pem})
    body = with_auth(lab.proxy.url, proxy_auth())
    with canary_rig(cluster, namespace, operator_kubeconfig, lab, body) as rig:
        rig.apply(with_auth(lab.proxy.url, proxy_auth(), "v2"))
        wait_until("the canary promoted through the proxy", lambda: _promoted_and_ready(rig), 120)
        passed = [r for r, _ in rig.rollout_events() if r == "AnalysisPassed"]
        assert len(passed) == 3  # 10 %, 50 %, 100 %: each analysis answered through the proxy
        assert auth_events(rig) == []
        assert_never_leaked(rig, TOKEN, PROM_PASSWORD)


@pytest.mark.usefixtures("gateway")  # the canary's traffic goes through the lab's real gateway
def test_a_refused_token_holds_the_step_naming_the_secret_and_a_rotated_secret_is_used_without_a_restart(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path, lab: AuthLab
) -> None:
    secret(cluster, namespace, "prom-token", {"token": TOKEN})
    secret(cluster, namespace, "prom-tenant", {"org": TENANT})
    config_map(cluster, namespace, "prom-ca", {"ca.crt": lab.ca.pem})
    body = with_auth(lab.proxy.url, proxy_auth())
    with canary_rig(cluster, namespace, operator_kubeconfig, lab, body) as rig:
        pid = rig.operator.proc.pid if rig.operator.proc else None
        rig.apply(with_auth(lab.proxy.url, proxy_auth(), "v2"))
        rig.wait_rollout("a first analysis passed", lambda r: r.get("stepIndex", 0) >= 1)
        lab.proxy.set_token(NEW_TOKEN)  # the gateway's token was rotated: the old one is refused from now on
        asvc = held_on_auth(rig, "401", f"bearer token from Secret {namespace}/prom-token key token")
        weight = asvc["status"]["rollout"]["canaryWeight"]
        assert asvc["status"]["rollout"]["lastAnalysis"]["reason"] == AUTH_FAILED
        wait_until("a Warning event naming the secret", lambda: auth_events(rig), 30)
        assert f"Secret {namespace}/prom-token key token" in auth_events(rig)[0]
        # held, not rolled back, not promoted, while more analyses are refused
        seen = asvc["status"]["rollout"]["lastAnalysis"]["at"]
        held = rig.wait_rollout("another refused analysis", lambda r: r["lastAnalysis"]["at"] != seen)
        assert (held["phase"], held["canaryWeight"], held["reason"]) == ("Progressing", weight, AUTH_FAILED)
        assert len(auth_events(rig)) == 1  # told once, not at every analysis

        secret(cluster, namespace, "prom-token", {"token": NEW_TOKEN})  # the Secret is rotated too
        wait_until("promoted with the rotated token", lambda: _promoted_and_ready(rig), 120)
        assert rig.operator.proc is not None and rig.operator.proc.pid == pid and rig.operator.proc.poll() is None
        assert_never_leaked(rig, TOKEN, NEW_TOKEN, PROM_PASSWORD)


@pytest.mark.usefixtures("gateway")  # the canary's traffic goes through the lab's real gateway
def test_a_missing_secret_or_key_holds_the_step_naming_it(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path, lab: AuthLab
) -> None:
    secret(cluster, namespace, "prom-tenant", {"org": TENANT})
    config_map(cluster, namespace, "prom-ca", {"ca.crt": lab.ca.pem})
    body = with_auth(lab.proxy.url, proxy_auth())
    with canary_rig(cluster, namespace, operator_kubeconfig, lab, body) as rig:
        rig.apply(with_auth(lab.proxy.url, proxy_auth(), "v2"))
        held_on_auth(rig, f"Secret {namespace}/prom-token not found")
        secret(cluster, namespace, "prom-token", {"tokn": TOKEN})  # a typo in the key
        held_on_auth(rig, f"Secret {namespace}/prom-token has no key token")
        messages = auth_events(rig)
        assert any("not found" in m for m in messages) and any("has no key token" in m for m in messages)
        secret(cluster, namespace, "prom-token", {"token": TOKEN})
        wait_until("promoted once the secret is right", lambda: _promoted_and_ready(rig), 120)
        assert rig.operator.proc is not None and rig.operator.proc.poll() is None


@pytest.mark.usefixtures("gateway")  # the canary's traffic goes through the lab's real gateway
def test_basic_auth_over_tls_with_a_server_name_straight_to_prometheus(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path, lab: AuthLab
) -> None:
    secret(cluster, namespace, "prom-basic", {"password": PROM_PASSWORD, "ca.crt": lab.ca.pem})
    auth: dict[str, Any] = {
        "basicAuth": {
            "username": {"value": PROM_USER},
            "password": {"secretRef": {"name": "prom-basic", "key": "password"}},
        },
        # Prometheus' certificate names prometheus.lab.test; it is reached at 127.0.0.1
        "tls": {"caSecretRef": {"name": "prom-basic", "key": "ca.crt"}, "serverName": PROM_NAME},
    }
    with canary_rig(cluster, namespace, operator_kubeconfig, lab, with_auth(lab.prometheus.url, auth)) as rig:
        rig.apply(with_auth(lab.prometheus.url, auth, "v2"))
        wait_until("the canary promoted with basic auth", lambda: _promoted_and_ready(rig), 120)
        assert auth_events(rig) == []
        assert_never_leaked(rig, PROM_PASSWORD)


@pytest.mark.usefixtures("gateway")  # the canary's traffic goes through the lab's real gateway
def test_operator_wide_credentials_go_to_the_operator_wide_url_only(
    cluster: Cluster, namespace: str, operator_kubeconfig: Path, lab: AuthLab, tmp_path: Path
) -> None:
    # as the chart mounts them: files in the operator's pod
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "tenant").write_text(TENANT)
    flags = (
        f"--prometheus-url={lab.proxy.url}",
        f"--prometheus-bearer-token-file={tmp_path / 'token'}",
        f"--prometheus-header-file={TENANT_HEADER}={tmp_path / 'tenant'}",
        f"--prometheus-ca-file={lab.ca.cert_file}",
    )
    with canary_rig(cluster, namespace, operator_kubeconfig, lab, with_auth(None, None), *flags) as rig:
        rig.apply(with_auth(None, None, "v2"))
        wait_until("promoted with the operator's credentials", lambda: _promoted_and_ready(rig), 120)
        # the same proxy, named by the AsgiService itself: the operator's credentials are not sent there
        # (the CA is the AsgiService's own, so the refusal is the proxy's 401, not TLS)
        config_map(cluster, namespace, "prom-ca", {"ca.crt": lab.ca.pem})
        own = {"tls": {"caConfigMapRef": {"name": "prom-ca", "key": "ca.crt"}}}
        rig.apply(with_auth(lab.proxy.url, own, "v3"))
        held_on_auth(rig, "401", "the credentials were refused")
        assert_never_leaked(rig, TOKEN)
