"""Rendering: one golden manifest set per ASGI server, and the behaviour each rendered field is there for.

Golden files
    tests/unit/golden/<kind>.yaml holds the whole `desired_children(...)` output (yaml.safe_dump, sorted keys) for
    one realistic spec per server kind (`GOLDEN_SPECS` below). After an intended change to the rendering,
    regenerate them and review the diff before committing:

        UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_render.py -k golden
        git diff tests/unit/golden

    With UPDATE_GOLDEN=1 the golden tests write the files instead of comparing (and still pass).

The behavioural tests below do not compare whole manifests: each one pins one property that matters in
production (workers never derived from the CPU count, shutdown timing, the HPA owning the replica count, ...),
so that it fails when that property breaks and only then.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from asgi_operator.api import keys
from asgi_operator.api.models import SHUTDOWN_MARGIN_SECONDS, AsgiServiceSpec, ServerSpec
from asgi_operator.api.servers import UNSUPPORTED, ServerKind, supports
from asgi_operator.reconcile.desired import desired_children
from asgi_operator.render import edge
from asgi_operator.render.children import CanaryPlan, revision_of
from asgi_operator.render.drift import holds
from asgi_operator.render.meta import Owner
from asgi_operator.render.servers import launch, server_command
from asgi_operator.render.workload import MULTIPROC_ENV
from asgi_operator.routers import REGISTRY

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
CRD = REPO / "crds" / "asgiservice.yaml"
OWNER = Owner("shop", "prod", "uid-1234")
KINDS = list(ServerKind)

# Granian rejects --http1-header-read-timeout above 60000 ms, so granian specs here keep keepAliveTimeout under
# 60 s (see test_granian_default_keep_alive_is_within_granians_range for the default).
GRANIAN_KEEP_ALIVE = {"keepAliveTimeout": "55s", "loadBalancerIdleTimeout": "50s"}

GOLDEN_SPECS: dict[ServerKind, dict[str, Any]] = {
    # several workers (prometheus multiprocess mode), fixed replicas, a generated HTTPRoute on a Gateway
    ServerKind.UVICORN: {
        "image": "registry.example.com/shop:1.4.2",
        "app": "shop.main:app",
        "replicas": 3,
        "server": {
            "kind": "uvicorn",
            "workers": 2,
            "trustedProxies": ["10.0.0.0/8"],
            "concurrencyLimit": 500,
            "maxRequests": 10000,
        },
        "env": [
            {"name": "APP_VERSION", "value": "v1"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "expose": {
            "host": "shop.example.com",
            "gateway": {"name": "public", "namespace": "gateway-system", "sectionName": "https"},
        },
    },
    # CPU autoscaling, an nginx Ingress with TLS, an explicit termination grace period
    ServerKind.GUNICORN: {
        "image": "registry.example.com/orders:2.4.1",
        "app": "orders.api:app",
        "port": 8080,
        "server": {
            "kind": "gunicorn",
            "keepAliveTimeout": "75s",
            "gracefulShutdownTimeout": "25s",
            "maxRequests": 20000,
            "backlog": 1024,
        },
        "envFrom": [{"secretRef": {"name": "orders-db"}}],
        "probes": {"path": "/health/ready", "liveness": {"path": "/health/live"}},
        "shutdown": {"preStopDelay": "10s", "terminationGracePeriod": "45s"},
        "autoscaling": {"minReplicas": 3, "maxReplicas": 12, "targetCPUUtilizationPercentage": 65},
        "expose": {
            "host": "orders.example.com",
            "ingress": {"className": "nginx", "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}},
            "tls": {"secretName": "orders-example-com-tls"},
        },
        "rollout": {"steps": [5, 25, 50, 100], "interval": "2m", "progressDeadline": "15m"},
    },
    # one replica (no PodDisruptionBudget), metrics on their own port, no exposure, a short shutdown chain
    ServerKind.HYPERCORN: {
        "image": "registry.example.com/reports:0.9.3",
        "app": "reports.main:app",
        "replicas": 1,
        "server": {"kind": "hypercorn", "gracefulShutdownTimeout": "20s", "rootPath": "/reports"},
        "metrics": {"port": 9100, "scrape": "annotations"},
        "shutdown": {"preStopDelay": "5s"},
        "serviceAccountName": "reports",
        "imagePullPolicy": "IfNotPresent",
        "imagePullSecrets": [{"name": "registry-creds"}],
        "podLabels": {"team": "analytics"},
        "podAnnotations": {"example.com/owner": "analytics"},
    },
    # four workers with backpressure, traffic through an HTTPRoute the platform team owns
    ServerKind.GRANIAN: {
        "image": "registry.example.com/search:3.1.0",
        "app": "search.app:app",
        "replicas": 4,
        "server": {"kind": "granian", "workers": 4, "concurrencyLimit": 256, **GRANIAN_KEEP_ALIVE},
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
        "expose": {"httpRoute": {"name": "storefront"}},
        "rollout": {"steps": [10, 25, 50, 100], "interval": "90s"},
    },
}


def spec_of(**fields: Any) -> AsgiServiceSpec:
    return AsgiServiceSpec.model_validate({"image": "registry.example.com/shop:1.0", "app": "main:app", **fields})


def server_spec(kind: ServerKind, **server: Any) -> AsgiServiceSpec:
    base = dict(GRANIAN_KEEP_ALIVE) if kind is ServerKind.GRANIAN else {}
    return spec_of(server={"kind": kind.value, **base, **server})


def children(spec: AsgiServiceSpec, **kwargs: Any) -> list[dict[str, Any]]:
    return desired_children(OWNER, spec, **kwargs).apply


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any] | None:
    matches = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(matches) <= 1, f"more than one {kind} {name}"
    return matches[0] if matches else None


def stable_deployment(spec: AsgiServiceSpec) -> dict[str, Any]:
    deployment = find(children(spec), "Deployment", OWNER.name)
    assert deployment is not None
    return deployment


def pod_spec(spec: AsgiServiceSpec) -> dict[str, Any]:
    return stable_deployment(spec)["spec"]["template"]["spec"]


def container(spec: AsgiServiceSpec) -> dict[str, Any]:
    (only,) = pod_spec(spec)["containers"]
    return only


def flag(argv: list[str], name: str) -> str:
    """The value following `name` in argv (the flag must occur exactly once)."""
    assert argv.count(name) == 1, f"{name} occurs {argv.count(name)} times in {argv}"
    return argv[argv.index(name) + 1]


# ------------------------------------------------------------------------------------------------ golden
def _wrapper_redacted(manifest: dict[str, Any]) -> dict[str, Any]:
    """The wrapper's source is shipped verbatim (tested in test_asgi_edge): the golden file names its hash only."""
    data = manifest.get("data", {})
    if manifest["kind"] != "ConfigMap" or "asgi_edge.py" not in data:
        return manifest
    source = data["asgi_edge.py"]
    assert source == edge.SOURCE_TEXT
    return {**manifest, "data": {"asgi_edge.py": f"<asgi_edge.py, {len(source)} characters, {edge.SOURCE_HASH}>"}}


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_golden(kind: ServerKind) -> None:
    spec = AsgiServiceSpec.model_validate(GOLDEN_SPECS[kind])
    rendered = yaml.safe_dump([_wrapper_redacted(m) for m in children(spec)], sort_keys=True)
    path = GOLDEN_DIR / f"{kind.value}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(rendered)
        return
    assert path.exists(), f"{path} is missing: generate it with UPDATE_GOLDEN=1 (see the module docstring)"
    assert rendered == path.read_text(), f"rendering of {kind.value} changed: review, then UPDATE_GOLDEN=1"


def test_golden_specs_cover_the_interesting_features() -> None:
    """The golden set must keep exercising these paths; edit GOLDEN_SPECS without losing one of them."""
    specs = {kind: AsgiServiceSpec.model_validate(body) for kind, body in GOLDEN_SPECS.items()}
    assert set(specs) == set(ServerKind)
    assert any(s.server.workers > 1 for s in specs.values())
    assert any(s.autoscaling is not None for s in specs.values())
    assert any(s.expose is not None and s.expose.gateway is not None for s in specs.values())
    assert any(
        s.expose is not None
        and s.expose.ingress is not None
        and s.expose.ingress.class_name == "nginx"
        and s.expose.tls
        for s in specs.values()
    )
    assert any(s.expose is None for s in specs.values())
    assert any(s.shutdown.termination_grace_period is not None for s in specs.values())


# ------------------------------------------------------------------------------------------------ workers
@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_workers_default_to_one_whatever_the_cpu(kind: ServerKind, monkeypatch: pytest.MonkeyPatch) -> None:
    # a large machine and a large CPU request/limit must not turn into more worker processes
    monkeypatch.setattr(os, "cpu_count", lambda: 96)
    if hasattr(os, "sched_getaffinity"):
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(96)))
    spec = AsgiServiceSpec.model_validate(
        {
            "image": "registry.example.com/shop:1.0",
            "app": "main:app",
            "server": {"kind": kind.value, **(GRANIAN_KEEP_ALIVE if kind is ServerKind.GRANIAN else {})},
            "resources": {"requests": {"cpu": "8"}, "limits": {"cpu": "16"}},
        }
    )
    assert spec.server.workers == 1
    argv = container(spec)["command"]
    assert flag(argv, "--workers") == "1"
    # one worker: no prometheus multiprocess mode
    assert all(e["name"] != MULTIPROC_ENV for e in container(spec).get("env", []))


# hypercorn drops in-flight requests on SIGTERM with several workers, so the models refuse workers > 1 for it
# (tests/integration/test_servers_real.py::test_hypercorn_with_several_workers_drops_in_flight_requests)
MULTI_WORKER_KINDS = [k for k in KINDS if k is not ServerKind.HYPERCORN]


@pytest.mark.parametrize("kind", MULTI_WORKER_KINDS, ids=[k.value for k in MULTI_WORKER_KINDS])
def test_workers_as_set(kind: ServerKind) -> None:
    assert flag(server_command(server_spec(kind, workers=5)), "--workers") == "5"


def test_hypercorn_runs_one_worker_only() -> None:
    assert flag(server_command(server_spec(ServerKind.HYPERCORN, workers=1)), "--workers") == "1"
    with pytest.raises(ValidationError, match=r"workers: hypercorn with workers > 1 drops in-flight requests"):
        server_spec(ServerKind.HYPERCORN, workers=2)


def test_several_workers_run_prometheus_in_multiprocess_mode() -> None:
    spec = server_spec(ServerKind.UVICORN, workers=3)
    c, pod = container(spec), pod_spec(spec)
    env = {e["name"]: e.get("value") for e in c["env"]}
    directory = env[MULTIPROC_ENV]
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == directory)  # the directory is mounted...
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" in volume  # ...from a fresh per-pod emptyDir (the root filesystem is read-only)
    assert c["securityContext"]["readOnlyRootFilesystem"] is True

    # a user-provided value wins and is not duplicated
    own = spec_of(server={"workers": 3}, env=[{"name": MULTIPROC_ENV, "value": "/tmp/prom"}])
    assert [e for e in container(own)["env"] if e["name"] == MULTIPROC_ENV] == [
        {"name": MULTIPROC_ENV, "value": "/tmp/prom"}
    ]


# ------------------------------------------------------------------------------------------------ server flags
SERVER_FLAGS = {
    # kind: (flags that must be present with these values, for keepAliveTimeout 55.5s / graceful 20.5s)
    ServerKind.UVICORN: {"--timeout-keep-alive": "56", "--timeout-graceful-shutdown": "21"},
    ServerKind.GUNICORN: {
        "--keep-alive": "56",
        "--graceful-timeout": "21",
        "--worker-class": "uvicorn_worker.UvicornWorker",
    },
    ServerKind.HYPERCORN: {"--keep-alive": "56", "--graceful-timeout": "21"},
    # granian's keep-alive is bounded by the header-read timeout, in milliseconds
    ServerKind.GRANIAN: {"--http1-header-read-timeout": "55500", "--workers-kill-timeout": "21"},
}


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_keep_alive_and_graceful_shutdown_flags(kind: ServerKind) -> None:
    spec = server_spec(
        kind, keepAliveTimeout="55500ms", loadBalancerIdleTimeout="50s", gracefulShutdownTimeout="20500ms"
    )
    argv = server_command(spec)
    assert argv[0] == kind.value
    for name, value in SERVER_FLAGS[kind].items():
        assert flag(argv, name) == value, argv
    assert f"0.0.0.0:{spec.port}" in argv or flag(argv, "--port") == str(spec.port)
    assert launch(spec).app in argv  # the asgi_edge wrapper (by default), which imports spec.app


def test_granian_keeps_connections_alive() -> None:
    spec = server_spec(ServerKind.GRANIAN)
    argv = server_command(spec)
    assert "--http1-keep-alive" in argv
    assert "--no-http1-keep-alive" not in argv
    app = launch(spec).app  # the wrapper's path target by default
    assert argv[-1] == app  # granian takes the app last, after every option (extraArgs included)
    argv = server_command(server_spec(ServerKind.GRANIAN, extraArgs=["--log-level", "debug"]))
    assert argv[-3:] == ["--log-level", "debug", app]


def test_granian_default_keep_alive_is_within_granians_range() -> None:
    spec = spec_of(server={"kind": "granian"})
    assert 1 <= int(flag(server_command(spec), "--http1-header-read-timeout")) <= 60000


def test_uvicorn_runs_lifespan_on_by_default() -> None:
    assert flag(server_command(spec_of()), "--lifespan") == "on"
    assert flag(server_command(spec_of(server={"lifespan": "auto"})), "--lifespan") == "auto"


@pytest.mark.parametrize("kind", [ServerKind.UVICORN, ServerKind.GUNICORN], ids=["uvicorn", "gunicorn"])
def test_trusted_proxies_default_to_loopback(kind: ServerKind) -> None:
    argv = server_command(server_spec(kind))
    assert flag(argv, "--forwarded-allow-ips") == "127.0.0.1"
    assert "--no-proxy-headers" not in argv
    argv = server_command(server_spec(kind, trustedProxies=["10.0.0.0/8", "192.168.1.7"]))
    assert flag(argv, "--forwarded-allow-ips") == "10.0.0.0/8,192.168.1.7"


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_no_server_trusts_every_client_by_default(kind: ServerKind) -> None:
    argv = server_command(server_spec(kind))
    assert not any("*" in arg for arg in argv), argv


def test_proxy_headers_off() -> None:
    argv = server_command(spec_of(server={"proxyHeaders": False}))
    assert "--no-proxy-headers" in argv
    assert "--proxy-headers" not in argv
    assert "--forwarded-allow-ips" not in argv
    # UvicornWorker always parses the headers: trusting nobody is how gunicorn turns them off
    assert (
        flag(server_command(spec_of(server={"kind": "gunicorn", "proxyHeaders": False})), "--forwarded-allow-ips") == ""
    )


def test_gunicorn_worker_heartbeat_goes_to_a_writable_mount() -> None:
    spec = server_spec(ServerKind.GUNICORN)
    tmp = flag(container(spec)["command"], "--worker-tmp-dir")
    assert tmp in {m["mountPath"] for m in container(spec)["volumeMounts"]}


def test_gunicorn_control_socket_goes_to_a_writable_mount_unless_the_user_says_where() -> None:
    spec = server_spec(ServerKind.GUNICORN)
    env = {e["name"]: e.get("value") for e in container(spec)["env"]}
    assert env["XDG_RUNTIME_DIR"] in {m["mountPath"] for m in container(spec)["volumeMounts"]}
    for kind in (ServerKind.UVICORN, ServerKind.HYPERCORN, ServerKind.GRANIAN):
        assert all(e["name"] != "XDG_RUNTIME_DIR" for e in container(server_spec(kind)).get("env", []))
    own = spec_of(server={"kind": "gunicorn"}, env=[{"name": "XDG_RUNTIME_DIR", "value": "/run/app"}])
    assert [e for e in container(own)["env"] if e["name"] == "XDG_RUNTIME_DIR"] == [
        {"name": "XDG_RUNTIME_DIR", "value": "/run/app"}
    ]


# ------------------------------------------------------------------------------------------------ shutdown chain
@pytest.mark.parametrize(
    ("pre_stop", "graceful", "expected_sleep", "expected_grace"),
    [
        ("10s", "30s", 10, 45),  # the defaults
        ("5s", "20s", 5, 30),
        ("1m", "2m", 60, 185),
    ],
)
def test_termination_grace_period_covers_pre_stop_and_graceful_shutdown(
    pre_stop: str, graceful: str, expected_sleep: int, expected_grace: int
) -> None:
    spec = spec_of(shutdown={"preStopDelay": pre_stop}, server={"gracefulShutdownTimeout": graceful})
    pod = pod_spec(spec)
    assert pod["terminationGracePeriodSeconds"] == expected_grace
    assert container(spec)["lifecycle"] == {"preStop": {"sleep": {"seconds": expected_sleep}}}
    graceful_flag = int(flag(container(spec)["command"], "--timeout-graceful-shutdown"))
    assert expected_sleep + graceful_flag + SHUTDOWN_MARGIN_SECONDS <= pod["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_rendered_shutdown_chain_fits_with_fractional_durations(kind: ServerKind) -> None:
    graceful_flags = {
        ServerKind.UVICORN: "--timeout-graceful-shutdown",
        ServerKind.GUNICORN: "--graceful-timeout",
        ServerKind.HYPERCORN: "--graceful-timeout",
        ServerKind.GRANIAN: "--workers-kill-timeout",
    }
    base = GRANIAN_KEEP_ALIVE if kind is ServerKind.GRANIAN else {}
    server = {"kind": kind.value, "gracefulShutdownTimeout": "2200ms", **base}
    for shutdown in ({"preStopDelay": "1500ms"}, {"preStopDelay": "1500ms", "terminationGracePeriod": "10s"}):
        spec = spec_of(server=server, shutdown=shutdown)
        sleep = container(spec)["lifecycle"]["preStop"]["sleep"]["seconds"]
        graceful = int(flag(container(spec)["command"], graceful_flags[kind]))
        assert sleep + graceful + SHUTDOWN_MARGIN_SECONDS <= pod_spec(spec)["terminationGracePeriodSeconds"]
    # 1.5 s + 2.2 s + 5 s = 8.7 s, but the sleep and the flag are whole seconds (2 + 3): 8700ms cannot fit
    with pytest.raises(ValidationError, match="terminationGracePeriod is too short"):
        spec_of(server=server, shutdown={"preStopDelay": "1500ms", "terminationGracePeriod": "8700ms"})


def test_explicit_termination_grace_period_is_used_as_given() -> None:
    spec = spec_of(shutdown={"preStopDelay": "10s", "terminationGracePeriod": "2m"})
    assert pod_spec(spec)["terminationGracePeriodSeconds"] == 120


def test_explicit_termination_grace_period_too_short_is_rejected() -> None:
    with pytest.raises(ValidationError, match="terminationGracePeriod is too short"):
        spec_of(shutdown={"preStopDelay": "10s", "terminationGracePeriod": "44s"})


def test_no_pre_stop_hook_without_a_delay() -> None:
    spec = spec_of(shutdown={"preStopDelay": "0s"})
    assert "lifecycle" not in container(spec)
    assert pod_spec(spec)["terminationGracePeriodSeconds"] == 30 + SHUTDOWN_MARGIN_SECONDS


# ------------------------------------------------------------------------------------------------ workload shape
def test_pod_passes_the_restricted_pod_security_standard() -> None:
    spec = spec_of()
    pod, c = pod_spec(spec), container(spec)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["securityContext"]["runAsNonRoot"] is True
    assert pod["enableServiceLinks"] is False


def test_probes_and_service_target_the_named_app_port() -> None:
    spec = spec_of(port=9000, probes={"path": "/ready", "liveness": {"path": "/live"}})
    c = container(spec)
    assert {"name": "http", "containerPort": 9000, "protocol": "TCP"} in c["ports"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert c["startupProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/live", "port": "http"}
    for service in (o for o in children(spec) if o["kind"] == "Service"):
        assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_rolling_updates_never_take_a_pod_away_first() -> None:
    for spec in (spec_of(), spec_of(replicas=5), spec_of(autoscaling={"maxReplicas": 4})):
        strategy = stable_deployment(spec)["spec"]["strategy"]
        assert strategy["type"] == "RollingUpdate"
        assert strategy["rollingUpdate"]["maxUnavailable"] == 0


# ------------------------------------------------------------------------------------------------ scaling
def test_the_operator_never_sets_replicas_the_hpa_owns() -> None:
    spec = spec_of(autoscaling={"minReplicas": 2, "maxReplicas": 10})
    objects = children(spec, canary=CanaryPlan(spec, replicas=1))
    stable = find(objects, "Deployment", OWNER.name)
    assert stable is not None
    assert "replicas" not in stable["spec"]
    hpa = find(objects, "HorizontalPodAutoscaler", OWNER.name)
    assert hpa is not None
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": OWNER.name}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    # the canary Deployment is not autoscaled: the operator sizes it
    canary = find(objects, "Deployment", f"{OWNER.name}-canary")
    assert canary is not None
    assert canary["spec"]["replicas"] == 1


@pytest.mark.parametrize(("fields", "replicas"), [({}, 1), ({"replicas": 3}, 3), ({"replicas": 0}, 0)])
def test_fixed_replicas(fields: dict[str, Any], replicas: int) -> None:
    objects = children(spec_of(**fields))
    deployment = find(objects, "Deployment", OWNER.name)
    assert deployment is not None
    assert deployment["spec"]["replicas"] == replicas
    assert find(objects, "HorizontalPodAutoscaler") is None
    assert ("autoscaling/v2", "HorizontalPodAutoscaler", OWNER.name) in desired_children(
        OWNER, spec_of(**fields)
    ).delete


@pytest.mark.parametrize(
    ("fields", "wanted"),
    [
        ({}, False),
        ({"replicas": 0}, False),
        ({"replicas": 1}, False),
        ({"replicas": 2}, True),
        ({"autoscaling": {"minReplicas": 1, "maxReplicas": 1}}, False),
        ({"autoscaling": {"minReplicas": 1, "maxReplicas": 3}}, True),
    ],
)
def test_pod_disruption_budget_only_when_more_than_one_replica_is_possible(
    fields: dict[str, Any], wanted: bool
) -> None:
    result = desired_children(OWNER, spec_of(**fields))
    budget = find(result.apply, "PodDisruptionBudget")
    pdb_ref = ("policy/v1", "PodDisruptionBudget", OWNER.name)
    if not wanted:
        assert budget is None
        assert pdb_ref in result.delete  # one created while there were more replicas goes away
        return
    assert budget is not None
    assert pdb_ref not in result.delete
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    deployment = find(result.apply, "Deployment", OWNER.name)
    assert deployment is not None
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


# ------------------------------------------------------------------------------------------------ revisions
BASE_FIELDS: dict[str, Any] = {"image": "registry.example.com/shop:1.0", "app": "main:app", "replicas": 2}

SAME_REVISION = {
    "replicas": {"replicas": 7},
    "autoscaling": {"replicas": None, "autoscaling": {"minReplicas": 2, "maxReplicas": 9}},
    "rollout-steps": {"rollout": {"steps": [1, 5, 20, 100]}},
    "rollout-strategy": {"rollout": {"strategy": "RollingUpdate"}},
    "rollout-timing": {"rollout": {"interval": "5m", "progressDeadline": "1h", "failureThreshold": 5}},
    "rollout-slo": {"rollout": {"slo": {"maxErrorRate": 0.02, "maxLatencyP99": "1s"}}},
    "expose": {"expose": {"host": "shop.example.com", "gateway": {"name": "public"}}},
}
NEW_REVISION = {
    "image": {"image": "registry.example.com/shop:1.1"},
    "env-added": {"env": [{"name": "FEATURE_X", "value": "on"}]},
    "app": {"app": "main:other"},
    "workers": {"server": {"workers": 2}},
    "keep-alive": {"server": {"keepAliveTimeout": "90s"}},
    "resources": {"resources": {"requests": {"cpu": "200m", "memory": "128Mi"}}},
    "probe": {"probes": {"path": "/ready"}},
    "pre-stop": {"shutdown": {"preStopDelay": "15s"}},
    "pod-label": {"podLabels": {"team": "a"}},
}


def _revision(changes: dict[str, Any]) -> str:
    body = {**BASE_FIELDS, **changes}
    return revision_of(OWNER, AsgiServiceSpec.model_validate({k: v for k, v in body.items() if v is not None}))


@pytest.mark.parametrize("change", SAME_REVISION.values(), ids=SAME_REVISION.keys())
def test_revision_ignores_scaling_rollout_and_exposure(change: dict[str, Any]) -> None:
    assert _revision(change) == _revision({})


@pytest.mark.parametrize("change", NEW_REVISION.values(), ids=NEW_REVISION.keys())
def test_revision_follows_the_pod_template(change: dict[str, Any]) -> None:
    assert _revision(change) != _revision({})


def test_env_value_change_is_a_new_revision() -> None:
    one = _revision({"env": [{"name": "APP_VERSION", "value": "v1"}]})
    two = _revision({"env": [{"name": "APP_VERSION", "value": "v2"}]})
    assert one != two


def test_revision_label_is_the_same_on_both_tracks() -> None:
    spec = AsgiServiceSpec.model_validate(BASE_FIELDS)
    objects = children(spec, canary=CanaryPlan(spec, replicas=1))
    revision = revision_of(OWNER, spec)
    for name, track in ((OWNER.name, keys.TRACK_STABLE), (f"{OWNER.name}-canary", keys.TRACK_CANARY)):
        deployment = find(objects, "Deployment", name)
        assert deployment is not None
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels[keys.LABEL_REVISION] == revision
        assert labels[keys.LABEL_TRACK] == track
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_stable_track_keeps_running_the_stable_spec_during_a_canary() -> None:
    old = AsgiServiceSpec.model_validate(BASE_FIELDS)
    new = AsgiServiceSpec.model_validate({**BASE_FIELDS, "image": "registry.example.com/shop:2.0"})
    objects = children(new, stable_spec=old, canary=CanaryPlan(new, replicas=1))
    stable = find(objects, "Deployment", OWNER.name)
    canary = find(objects, "Deployment", f"{OWNER.name}-canary")
    assert stable is not None
    assert canary is not None
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"] == old.image
    assert canary["spec"]["template"]["spec"]["containers"][0]["image"] == new.image


# ------------------------------------------------------------------------------------------------ ownership
def _all_rendered_objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for body in GOLDEN_SPECS.values():
        spec = AsgiServiceSpec.model_validate(body)
        objects += children(spec)
        for router in REGISTRY:  # mid-rollout, with the router's own traffic objects
            objects += children(spec, canary=CanaryPlan(spec, replicas=1), weight=30, router=router)
    objects += children(spec_of(metrics={"scrape": "podMonitor"}), pod_monitor_crd=True)
    return objects


def test_every_rendered_object_is_owned_and_labelled() -> None:
    objects = _all_rendered_objects()
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    assert {"HTTPRoute", "Ingress", "PodMonitor"} <= kinds
    for o in objects:
        meta = o["metadata"]
        where = f"{o['kind']}/{meta['name']}"
        assert meta["namespace"] == OWNER.namespace, where
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "asgi.dev/v1alpha1",
                "kind": "AsgiService",
                "name": OWNER.name,
                "uid": OWNER.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ], where
        assert meta["labels"][keys.LABEL_NAME] == OWNER.name, where
        assert meta["labels"][keys.LABEL_K8S_MANAGED_BY] == keys.MANAGED_BY, where
        assert meta["annotations"][keys.ANNOTATION_CONFIG_HASH], where
        if o["kind"] == "Deployment":
            assert o["spec"]["template"]["metadata"]["labels"][keys.LABEL_NAME] == OWNER.name


def test_user_pod_labels_cannot_take_over_the_selector_labels() -> None:
    spec = spec_of(podLabels={keys.LABEL_NAME: "other", keys.LABEL_TRACK: "canary", "team": "a"})
    labels = stable_deployment(spec)["spec"]["template"]["metadata"]["labels"]
    assert labels[keys.LABEL_NAME] == OWNER.name
    assert labels[keys.LABEL_TRACK] == keys.TRACK_STABLE
    assert labels["team"] == "a"


def test_config_hash_changes_with_the_manifest_only() -> None:
    def hashes(spec: AsgiServiceSpec) -> dict[str, str]:
        return {
            f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["annotations"][keys.ANNOTATION_CONFIG_HASH]
            for o in children(spec)
        }

    one, again, scaled = hashes(spec_of(replicas=2)), hashes(spec_of(replicas=2)), hashes(spec_of(replicas=3))
    assert one == again
    assert scaled["Deployment/shop"] != one["Deployment/shop"]
    assert scaled["Service/shop"] == one["Service/shop"]


# ------------------------------------------------------------------------------------------------ drift
LIVE_DEPLOYMENT: dict[str, Any] = {
    "metadata": {"name": "shop", "labels": {"a": "1"}, "annotations": {"x": "y"}, "uid": "u", "generation": 4},
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "command": ["uvicorn", "main:app", "--workers", "2"],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                        "terminationMessagePath": "/dev/termination-log",
                    },
                    {"name": "istio-proxy", "image": "proxy"},
                ]
            }
        },
    },
    "status": {"replicas": 2},
}


def desired(**container_fields: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "app", **container_fields}]}}}}


def test_holds_ignores_fields_others_added() -> None:
    assert holds({"metadata": {"name": "shop", "labels": {"a": "1"}}, "spec": {"replicas": 2}}, LIVE_DEPLOYMENT)
    assert holds(desired(command=["uvicorn", "main:app", "--workers", "2"]), LIVE_DEPLOYMENT)


def test_holds_sees_a_changed_or_missing_value() -> None:
    assert not holds({"spec": {"replicas": 3}}, LIVE_DEPLOYMENT)
    assert not holds({"metadata": {"labels": {"a": "2"}}}, LIVE_DEPLOYMENT)
    assert not holds({"metadata": {"labels": {"b": "1"}}}, LIVE_DEPLOYMENT)
    assert not holds({"spec": {"paused": False}}, LIVE_DEPLOYMENT)
    assert not holds({"spec": {"replicas": "2"}}, {"spec": {"replicas": True}})


@pytest.mark.parametrize(
    ("want", "have"),
    [("500m", "0.5"), ("0.5", "500m"), ("1Gi", "1024Mi"), ("2", 2), (1, "1000m"), ("1e3", "1k"), ("1.5Gi", "1536Mi")],
)
def test_holds_compares_quantities_by_value(want: Any, have: Any) -> None:
    assert holds({"resources": {"requests": {"cpu": want}}}, {"resources": {"requests": {"cpu": have}}})


@pytest.mark.parametrize(("want", "have"), [("500m", "0.6"), ("1Gi", "1G"), ("2", 3), ("100m", "100M")])
def test_holds_sees_different_quantities(want: Any, have: Any) -> None:
    assert not holds({"resources": {"limits": {"cpu": want}}}, {"resources": {"limits": {"cpu": have}}})


def test_holds_on_keyed_lists_allows_extra_entries_in_any_order() -> None:
    assert holds(desired(env=[{"name": "B", "value": "2"}]), LIVE_DEPLOYMENT)  # A is extra
    assert holds(desired(env=[{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]), LIVE_DEPLOYMENT)
    assert not holds(desired(env=[{"name": "B", "value": "3"}]), LIVE_DEPLOYMENT)
    assert not holds(desired(env=[{"name": "C", "value": "1"}]), LIVE_DEPLOYMENT)
    # the sidecar another controller injected does not count as drift
    assert holds(desired(resources={"requests": {"cpu": "0.5"}}), LIVE_DEPLOYMENT)


def test_holds_on_atomic_lists_needs_an_exact_match() -> None:
    assert not holds(desired(command=["uvicorn", "main:app", "--workers"]), LIVE_DEPLOYMENT)
    assert not holds(desired(command=["uvicorn", "main:app", "--workers", "2", "--reload"]), LIVE_DEPLOYMENT)
    assert not holds(desired(command=["uvicorn", "main:app", "2", "--workers"]), LIVE_DEPLOYMENT)
    assert not holds({"a": ["x"]}, {"a": "x"})


def test_rendered_children_hold_against_themselves_with_server_additions() -> None:
    for o in children(AsgiServiceSpec.model_validate(GOLDEN_SPECS[ServerKind.GUNICORN])):
        live = copy.deepcopy(o)
        live["metadata"].update(uid="abc", resourceVersion="7", managedFields=[{"manager": "kubectl"}])
        live["status"] = {"observedGeneration": 1}
        assert holds(o, live), o["kind"]


def test_holds_compares_non_quantity_strings_exactly() -> None:
    assert not holds(
        desired(env=[{"name": "APP_VERSION", "value": "1.10"}]), desired(env=[{"name": "APP_VERSION", "value": "1.1"}])
    )


# ------------------------------------------------------------------------------------------------ option support
# A value for every rendered ServerSpec option that differs from its default (proxyHeaders True and lifespan on
# are what an unset value already renders).
OPTION_SAMPLES: dict[str, Any] = {
    "workers": 3,
    "keepAliveTimeout": "57s",
    "gracefulShutdownTimeout": "17s",
    "proxyHeaders": False,
    "trustedProxies": ["10.0.0.0/8"],
    "concurrencyLimit": 123,
    "backlog": 2048,
    "maxRequests": 5000,
    "rootPath": "/api",
    "lifespan": "off",
    "extraArgs": ["--some-flag"],
}
NOT_RENDERED = {"kind", "loadBalancerIdleTimeout"}  # loadBalancerIdleTimeout only constrains keepAliveTimeout
PAIRS = [(option, kind) for option in OPTION_SAMPLES for kind in KINDS]
UNSUPPORTED_PAIRS = [(option, kind) for option, kinds in UNSUPPORTED.items() for kind in kinds]


def _aliases() -> set[str]:
    return {field.alias or name for name, field in ServerSpec.model_fields.items()}


def test_option_samples_cover_every_server_option() -> None:
    assert set(OPTION_SAMPLES) == _aliases() - NOT_RENDERED
    assert set(UNSUPPORTED) <= set(OPTION_SAMPLES)
    assert all(kind in ServerKind for kinds in UNSUPPORTED.values() for kind in kinds)


@pytest.mark.parametrize(("option", "kind"), PAIRS, ids=[f"{o}-{k.value}" for o, k in PAIRS])
def test_renderers_implement_exactly_the_supported_options(option: str, kind: ServerKind) -> None:
    baseline = server_spec(kind)
    # model_copy skips validation, so an option the CRD would reject still reaches the renderer
    server = baseline.server.model_copy(update={_attr(option): OPTION_SAMPLES[option]})
    changed = server_command(baseline.model_copy(update={"server": server}))
    if supports(kind, option):
        assert changed != server_command(baseline), f"{kind.value} ignores {option}"
        sample = OPTION_SAMPLES[option]
        if isinstance(sample, (int, str)) and not isinstance(sample, bool):
            expected = str(sample).removesuffix("s")
            if option == "keepAliveTimeout" and kind is ServerKind.GRANIAN:
                expected += "000"  # milliseconds
            assert expected in changed, changed
    else:
        assert changed == server_command(baseline), f"{kind.value} renders {option}, declared unsupported"


def _attr(option: str) -> str:
    (attr,) = [name for name, field in ServerSpec.model_fields.items() if (field.alias or name) == option]
    return attr


@pytest.mark.parametrize(("option", "kind"), UNSUPPORTED_PAIRS, ids=[f"{o}-{k.value}" for o, k in UNSUPPORTED_PAIRS])
def test_unsupported_options_are_rejected_by_the_models(option: str, kind: ServerKind) -> None:
    base = GRANIAN_KEEP_ALIVE if kind is ServerKind.GRANIAN else {}
    with pytest.raises(ValidationError, match=f"{option} is not supported by {kind.value}"):
        spec_of(server={"kind": kind.value, **base, option: OPTION_SAMPLES[option]})
    # and the same option is fine on a server that supports it
    other = next(k for k in (ServerKind.UVICORN, ServerKind.GUNICORN) if supports(k, option))
    spec_of(server={"kind": other.value, option: OPTION_SAMPLES[option]})


@pytest.mark.parametrize(("option", "kind"), UNSUPPORTED_PAIRS, ids=[f"{o}-{k.value}" for o, k in UNSUPPORTED_PAIRS])
def test_unsupported_options_have_a_crd_rule(option: str, kind: ServerKind) -> None:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = crd["spec"]["versions"]
    server = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["server"]
    rules = {r["rule"]: r for r in server["x-kubernetes-validations"]}
    rule = rules[f"!has(self.{option}) || self.kind != '{kind.value}'"]
    assert rule["message"].startswith(f"{option} is not supported by {kind.value}: ")
    assert rule["fieldPath"] == f".{option}"


# ------------------------------------------------------------------------------------------------ pod features
_CONFIG = {"name": "config", "configMap": {"name": "shop-config"}}
_PROXY = {
    "name": "db-proxy",
    "image": "proxy:2",
    "restartPolicy": "Always",
    "args": ["--port=5432"],
    "startupProbe": {"tcpSocket": {"port": 5432}},
}
_SPREAD = [{"maxSkew": 2, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}]
POD_FEATURES: dict[str, dict[str, Any]] = {
    "volume": {"volumes": [_CONFIG]},
    "volume-mount": {"volumes": [_CONFIG], "volumeMounts": [{"name": "config", "mountPath": "/etc/shop"}]},
    "node-selector": {"nodeSelector": {"pool": "web"}},
    "toleration": {"tolerations": [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}]},
    "affinity": {
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 50, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}
                ]
            }
        }
    },
    "spread": {"topologySpreadConstraints": _SPREAD},
    "spread-off": {"topologySpreadConstraints": []},
    "priority-class": {"priorityClassName": "business-critical"},
    "init-container": {"initContainers": [{"name": "wait", "command": ["python", "-m", "wait_for_db"]}]},
    "sidecar": {"initContainers": [_PROXY]},
}


@pytest.mark.parametrize("change", POD_FEATURES.values(), ids=POD_FEATURES.keys())
def test_every_pod_feature_is_part_of_the_revision(change: dict[str, Any]) -> None:
    assert _revision(change) != _revision({})


def test_a_changed_pod_feature_is_a_new_revision() -> None:
    assert _revision({"nodeSelector": {"pool": "web"}}) != _revision({"nodeSelector": {"pool": "batch"}})
    sidecar_v3 = {**_PROXY, "image": "proxy:3"}
    assert _revision({"initContainers": [_PROXY]}) != _revision({"initContainers": [sidecar_v3]})


def test_map_order_never_changes_the_revision() -> None:
    one = {
        "nodeSelector": {"pool": "web", "disk": "ssd"},
        "volumes": [{"name": "csi", "csi": {"driver": "x.example.com", "volumeAttributes": {"a": "1", "b": "2"}}}],
        "affinity": {
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"a": "1", "b": "2"}}}
                ]
            }
        },
    }
    two = copy.deepcopy(one)
    two["nodeSelector"] = {"disk": "ssd", "pool": "web"}
    two["volumes"][0]["csi"]["volumeAttributes"] = {"b": "2", "a": "1"}
    term = two["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    term["labelSelector"]["matchLabels"] = {"b": "2", "a": "1"}
    # and the keys of each object in another order too
    two["volumes"][0] = {"csi": two["volumes"][0]["csi"], "name": "csi"}
    assert _revision(one) == _revision(two)


def test_default_topology_spread_is_across_zones_and_nodes_per_replicaset() -> None:
    spread = pod_spec(spec_of())["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in spread] == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    for c in spread:
        assert c["whenUnsatisfiable"] == "ScheduleAnyway"  # a preference: never leaves a pod Pending
        assert c["maxSkew"] == 1
        assert c["labelSelector"] == {"matchLabels": {keys.LABEL_NAME: OWNER.name}}
        assert c["matchLabelKeys"] == ["pod-template-hash"]  # canary and stable spread independently


def test_an_empty_list_turns_the_default_spread_off() -> None:
    assert "topologySpreadConstraints" not in pod_spec(spec_of(topologySpreadConstraints=[]))


def test_spread_constraints_as_given_with_the_selector_filled_in_when_missing() -> None:
    selector = {"matchLabels": {"team": "shop"}}
    given = [{**_SPREAD[0]}, {**_SPREAD[0], "topologyKey": "kubernetes.io/hostname", "labelSelector": selector}]
    spread = pod_spec(spec_of(topologySpreadConstraints=given))["topologySpreadConstraints"]
    assert spread[0]["labelSelector"] == {"matchLabels": {keys.LABEL_NAME: OWNER.name}}
    assert spread[0]["matchLabelKeys"] == ["pod-template-hash"]
    assert spread[0]["maxSkew"] == 2 and spread[0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert spread[1]["labelSelector"] == selector
    assert "matchLabelKeys" not in spread[1]


def test_user_volumes_come_after_the_operators_and_mounts_go_to_the_app() -> None:
    spec = spec_of(server={"workers": 2}, **POD_FEATURES["volume-mount"])
    pod = pod_spec(spec)
    assert [v["name"] for v in pod["volumes"]] == ["tmp", "prometheus-multiproc", "asgi-edge", "config"]
    assert pod["volumes"][3] == _CONFIG
    assert [m["mountPath"] for m in container(spec)["volumeMounts"]] == [
        "/tmp",
        "/var/run/prometheus-multiproc",
        "/opt/asgi-edge",
        "/etc/shop",
    ]


def test_init_containers_and_sidecars_are_hardened_like_the_app() -> None:
    wait = {
        "name": "wait",
        "command": ["python", "-m", "wait_for_db"],
        "volumeMounts": [{"name": "config", "mountPath": "/c"}],
    }
    proxy = {**_PROXY, "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}, "runAsUser": 65532}}
    spec = spec_of(volumes=[_CONFIG], initContainers=[proxy, wait], imagePullPolicy="IfNotPresent")
    rendered_proxy, rendered_wait = pod_spec(spec)["initContainers"]
    app = container(spec)["securityContext"]
    assert rendered_wait["securityContext"] == app
    assert rendered_proxy["securityContext"] == {
        **app,
        "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
        "runAsUser": 65532,
    }
    assert rendered_proxy["restartPolicy"] == "Always"
    assert rendered_proxy["startupProbe"] == {"tcpSocket": {"port": 5432}}
    assert "restartPolicy" not in rendered_wait
    # the app's image and pull policy unless given; a writable /tmp like the app's
    assert rendered_wait["image"] == spec.image
    assert rendered_proxy["image"] == "proxy:2"
    assert rendered_wait["imagePullPolicy"] == "IfNotPresent"
    assert rendered_wait["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "config", "mountPath": "/c"},
    ]


def test_scheduling_fields_are_rendered_as_given() -> None:
    fields = {
        **POD_FEATURES["node-selector"],
        **POD_FEATURES["toleration"],
        **POD_FEATURES["affinity"],
        **POD_FEATURES["priority-class"],
    }
    pod = pod_spec(spec_of(**fields))
    assert pod["nodeSelector"] == fields["nodeSelector"]
    assert pod["tolerations"] == fields["tolerations"]
    assert pod["affinity"] == fields["affinity"]
    assert pod["priorityClassName"] == "business-critical"


def test_no_pod_feature_no_field() -> None:
    pod = pod_spec(spec_of())
    for absent in ("initContainers", "nodeSelector", "tolerations", "affinity", "priorityClassName"):
        assert absent not in pod
    assert [v["name"] for v in pod["volumes"]] == ["tmp", "asgi-edge"]


def test_one_volume_mounted_twice_is_not_drift() -> None:
    """volumeMounts are named after their volume, so a name is not a key: two subPath mounts of one ConfigMap
    volume are compared in order, not collapsed into one (which would look like drift forever)."""
    mounts = [
        {"name": "config", "mountPath": "/etc/shop/a.toml", "subPath": "a.toml"},
        {"name": "config", "mountPath": "/etc/shop/b.toml", "subPath": "b.toml"},
    ]
    spec = spec_of(volumes=[_CONFIG], volumeMounts=mounts)
    desired = stable_deployment(spec)
    live = copy.deepcopy(desired)
    for m in live["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]:
        m["mountPropagation"] = "None"  # a default the API server may add
    assert holds(desired, live)
    swapped = copy.deepcopy(desired)
    container_mounts = swapped["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    container_mounts[-1]["subPath"], container_mounts[-2]["subPath"] = "a.toml", "b.toml"
    assert not holds(desired, swapped)
