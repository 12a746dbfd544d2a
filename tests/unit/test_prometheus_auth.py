"""Prometheus credentials: which ones an analysis sends (never the operator's to an address an AsgiService chose),
what a missing one says (where it should come from, never a value), and that values never show in a repr,
a message or a status. The Kubernetes reads are a dict here; the real API server and a real authenticating
Prometheus are in tests/integration/test_prometheus_auth.py."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from asgi_operator.api.kinds import SECRET, Kind
from asgi_operator.api.models import AsgiServiceSpec, AsgiServiceStatus, RolloutStatus
from asgi_operator.api.rollout import PrometheusSpec
from asgi_operator.api.vocabulary import EventReason, RolloutPhase, Verdict
from asgi_operator.controller.credentials import Credentials, CredentialsError, DefaultAuth
from asgi_operator.controller.sampling import Sampler
from asgi_operator.controller.settings import Settings
from asgi_operator.kube.api import ApiError
from asgi_operator.prom.client import Auth, PrometheusPool
from asgi_operator.reconcile.status import compute
from asgi_operator.rollout.analysis import evaluate

NS = "shop"
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class FakeReads:
    """Secrets and ConfigMaps by (kind, namespace, name); records every read."""

    def __init__(self, objects: dict[tuple[str, str, str], dict[str, Any]]) -> None:
        self.objects = objects
        self.reads: list[tuple[str, str, str]] = []

    def __call__(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads.append((kind.kind, namespace, name))
        return self.objects.get((kind.kind, namespace, name))


def prom(auth: dict[str, Any] | None = None, address: str | None = "https://prom.example.com") -> PrometheusSpec:
    data: dict[str, Any] = {}
    if address is not None:
        data["address"] = address
    if auth is not None:
        data["auth"] = auth
    return PrometheusSpec.model_validate(data)


FULL = {
    "bearerToken": {"secretRef": {"name": "prom", "key": "token"}},
    "headers": [
        {"name": "X-Scope-OrgID", "valueFrom": {"secretKeyRef": {"name": "tenant", "key": "org"}}},
        {"name": "X-Team", "value": "checkout"},
    ],
    "tls": {"caConfigMapRef": {"name": "ca", "key": "ca.crt"}, "serverName": "prom.internal"},
}


def test_every_credential_is_read_from_the_services_own_namespace() -> None:
    reads = FakeReads(
        {
            ("Secret", NS, "prom"): {"data": {"token": b64("s3cret-token\n")}},
            ("Secret", NS, "tenant"): {"data": {"org": b64("team-a")}},
            ("ConfigMap", NS, "ca"): {"data": {"ca.crt": CA_PEM}},
        }
    )
    access = Credentials(reads).resolve(NS, prom(FULL))
    assert access.auth.request_headers() == {
        "X-Scope-OrgID": "team-a",
        "X-Team": "checkout",
        "Authorization": "Bearer s3cret-token",  # the trailing newline is not part of the token
    }
    assert access.auth.ca_pem == CA_PEM
    assert access.auth.server_name == "prom.internal"
    assert {ns for _, ns, _ in reads.reads} == {NS}
    # the description names sources, never values
    assert "Secret shop/prom key token" in access.describe()
    assert "s3cret" not in access.describe() and "team-a" not in access.describe()


def test_basic_auth_with_the_username_written_or_from_a_secret() -> None:
    reads = FakeReads({("Secret", NS, "grafana"): {"data": {"user": b64("123456"), "password": b64("glc_x")}}})
    written = {"username": {"value": "me"}, "password": {"secretRef": {"name": "grafana", "key": "password"}}}
    assert Credentials(reads).resolve(NS, prom({"basicAuth": written})).auth.basic == ("me", "glc_x")
    from_secret = {**written, "username": {"secretRef": {"name": "grafana", "key": "user"}}}
    assert Credentials(reads).resolve(NS, prom({"basicAuth": from_secret})).auth.basic == ("123456", "glc_x")


@pytest.mark.parametrize(
    ("objects", "words"),
    [
        ({}, "Secret shop/prom not found"),
        ({("Secret", NS, "prom"): {"data": {"tokn": b64("x")}}}, "Secret shop/prom has no key token"),
        ({("Secret", NS, "prom"): {"data": {"token": b64("  \n")}}}, "Secret shop/prom key token is empty"),
        ({("Secret", NS, "prom"): {"data": {"token": b64("a\r\nX-Evil: 1")}}}, "control character"),
    ],
)
def test_a_credential_that_cannot_be_used_names_its_source(
    objects: dict[tuple[str, str, str], dict[str, Any]], words: str
) -> None:
    with pytest.raises(CredentialsError, match=words):
        Credentials(FakeReads(objects)).resolve(
            NS, prom({"bearerToken": {"secretRef": {"name": "prom", "key": "token"}}})
        )


def test_a_secret_the_operator_may_not_read_says_so() -> None:
    def forbidden(kind: Kind, namespace: str, name: str) -> None:
        raise ApiError(403, "Forbidden", 'secrets "prom" is forbidden: User "x" cannot get', "GET", "/api/v1/...")

    with pytest.raises(CredentialsError, match="Secret shop/prom: the operator may not read it"):
        Credentials(forbidden).resolve(NS, prom({"bearerToken": {"secretRef": {"name": "prom", "key": "token"}}}))


def test_a_ca_that_is_not_pem_is_refused() -> None:
    reads = FakeReads({("Secret", NS, "ca"): {"data": {"ca.crt": b64("not a certificate")}}})
    with pytest.raises(CredentialsError, match=r"Secret shop/ca key ca\.crt holds no PEM certificate"):
        Credentials(reads).resolve(NS, prom({"tls": {"caSecretRef": {"name": "ca", "key": "ca.crt"}}}))


@pytest.fixture
def defaults(tmp_path: Path) -> DefaultAuth:
    (tmp_path / "token").write_text("operator-token\n")
    (tmp_path / "tenant").write_text("platform")
    (tmp_path / "ca.crt").write_text(CA_PEM)
    return DefaultAuth(
        bearer_token_file=str(tmp_path / "token"),
        headers=(("X-Source", "asgi-operator"),),
        header_files=(("X-Scope-OrgID", str(tmp_path / "tenant")),),
        ca_file=str(tmp_path / "ca.crt"),
        server_name="prom.internal",
    )


def test_the_operator_wide_credentials_go_to_the_operator_wide_address(defaults: DefaultAuth, tmp_path: Path) -> None:
    credentials = Credentials(FakeReads({}), defaults)
    auth = credentials.resolve(NS, prom(address=None)).auth
    assert auth.request_headers() == {
        "X-Source": "asgi-operator",
        "X-Scope-OrgID": "platform",
        "Authorization": "Bearer operator-token",
    }
    assert (auth.ca_pem, auth.server_name) == (CA_PEM, "prom.internal")
    # rotated on disk (the kubelet updates a mounted Secret): read again at the next analysis
    (tmp_path / "token").write_text("rotated-token")
    assert credentials.resolve(NS, prom(address=None)).auth.bearer_token == "rotated-token"


def test_the_operator_wide_credentials_never_go_to_an_address_a_service_chose(defaults: DefaultAuth) -> None:
    credentials = Credentials(FakeReads({}), defaults)
    assert credentials.resolve(NS, prom(address="https://evil.example.com")).auth == Auth()
    # and a service's own auth replaces them entirely, also at the operator-wide address
    reads = FakeReads({("Secret", NS, "prom"): {"data": {"token": b64("mine")}}})
    own = Credentials(reads, defaults).resolve(
        NS, prom({"bearerToken": {"secretRef": {"name": "prom", "key": "token"}}}, address=None)
    )
    assert own.auth.request_headers() == {"Authorization": "Bearer mine"}


def test_a_missing_operator_file_names_the_flag_and_path(tmp_path: Path) -> None:
    defaults = DefaultAuth(bearer_token_file=str(tmp_path / "nope"))
    with pytest.raises(CredentialsError, match=r"--prometheus-bearer-token-file .*/nope cannot be read"):
        Credentials(FakeReads({}), defaults).resolve(NS, prom(address=None))


def test_credentials_never_show_in_a_repr_and_key_the_pool_apart() -> None:
    a = Auth(bearer_token="s3cret", basic=("me", "pa55"), headers=(("X-Scope-OrgID", "team-a"),))
    text = repr(a) + str(a)
    assert "s3cret" not in text and "pa55" not in text and "team-a" not in text
    assert "X-Scope-OrgID" in text
    assert "s3cret" not in a.digest()
    pool = PrometheusPool(size=2)
    one = pool.get("https://p", 5, a)
    assert pool.get("https://p/", 5, a) is one
    assert pool.get("https://p", 5, Auth(bearer_token="other")) is not one  # different credentials, own client
    pool.get("https://q", 5, a)
    assert pool.get("https://p", 5, a) is not one  # the least recently used was closed beyond the size


def test_an_auth_failure_is_its_own_reason_and_names_the_secret_in_the_ready_condition() -> None:
    spec = AsgiServiceSpec.model_validate(
        {
            "image": "r/i:1",
            "app": "m:app",
            "rollout": {
                "prometheus": prom({"bearerToken": {"secretRef": {"name": "prom", "key": "token"}}}).model_dump(
                    by_alias=True, exclude_none=True
                )
            },
        }
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    sampler = Sampler(PrometheusPool(), Settings(), lambda: at, Credentials(FakeReads({})))
    rollout = RolloutStatus(phase=RolloutPhase.PROGRESSING, canary_revision="b", stable_revision="a", canary_weight=10)
    result = sampler.analyze(NS, "shop", spec, rollout)
    assert (result.verdict, result.reason) == (Verdict.ERROR, EventReason.PROMETHEUS_AUTH_FAILED)
    assert "Secret shop/prom not found" in result.message

    held = rollout.model_copy(update={"reason": result.reason, "message": f"step 1 (10%) holding: {result.message}"})
    status = compute(
        previous=AsgiServiceStatus(),
        generation=2,
        revision="b",
        rollout=held,
        stable=None,
        canary=None,
        desired_replicas=1,
        selector="",
        image=None,
        problem=None,
        now="2026-01-01T00:00:00Z",
    )
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", EventReason.PROMETHEUS_AUTH_FAILED)
    assert "Secret shop/prom not found" in ready.message


def test_evaluate_reports_auth_failures_apart_from_an_unreachable_prometheus() -> None:
    from asgi_operator.api.models import SLOSpec

    common = {"canary": None, "slo": SLOSpec(), "window": "1m", "at": "t", "step": 1, "weight": 10}
    assert evaluate(**common, error="x", auth_failed=True).reason == EventReason.PROMETHEUS_AUTH_FAILED  # type: ignore[arg-type]
    assert evaluate(**common, error="x").reason == EventReason.PROMETHEUS_UNAVAILABLE  # type: ignore[arg-type]


def test_secret_kind_is_core_v1() -> None:
    assert SECRET.path("shop", "prom") == "/api/v1/namespaces/shop/secrets/prom"


def test_the_machine_holds_on_an_auth_failure_and_tells_it_once_per_new_problem() -> None:
    from unit.test_machine import SPEC_V1, SPEC_V2, World, result, serving, start_canary

    world = World()
    world.step("v1", SPEC_V1)
    world.stable = serving("v1", 4)
    start_canary(world)
    refused = result("Error").model_copy(
        update={"reason": "PrometheusAuthFailed", "message": "Secret shop/prom not found: fix it"}
    )
    for _ in range(3):
        world.later(30)
        d = world.step("v2", SPEC_V2, refused)
        assert (d.rollout.phase, d.rollout.reason, d.rollout.step_index) == ("Progressing", "PrometheusAuthFailed", 0)
    assert [m for r, m in world.events if r == "PrometheusAuthFailed"] == [
        "step 1 (10%) holding: Secret shop/prom not found: fix it"
    ]
    world.later(30)
    other = refused.model_copy(update={"message": "Secret shop/prom has no key token: fix it"})
    world.step("v2", SPEC_V2, other)
    assert world.reasons().count("PrometheusAuthFailed") == 2  # a different problem is told again
    world.later(30)
    d = world.step("v2", SPEC_V2, result("Pass"))
    assert d.rollout.step_index == 1  # fixed: the next analysis goes on
