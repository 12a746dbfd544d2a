"""spec.observability and spec.expose.cors rendered: the asgi_edge wrapper in the pod (argv per server, env,
ConfigMap, mount), the server's command exactly as without observability when the wrapper is off, and CORS at
the edge (the HTTPRoute's CORS filter, ingress-nginx annotations on the main Ingress only)."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_operator.api.models import AsgiServiceSpec
from asgi_operator.api.servers import ServerKind
from asgi_operator.api.volumes import EDGE_DIR
from asgi_operator.reconcile.desired import desired_children
from asgi_operator.render import edge
from asgi_operator.render.children import CanaryPlan
from asgi_operator.render.meta import Owner
from asgi_operator.render.servers import server_command
from asgi_operator.render.workload import pod_template

OWNER = Owner("shop", "prod", "uid-1")
GRANIAN = {"keepAliveTimeout": "5s", "loadBalancerIdleTimeout": "4s"}
CORS = {
    "allowOrigins": ["https://shop.example.com", "https://admin.example.com"],
    "allowCredentials": True,
    "allowMethods": ["GET", "POST"],
    "allowHeaders": ["Authorization"],
    "exposeHeaders": ["X-Request-ID"],
    "maxAge": "2m",
}


def spec(**changes: Any) -> AsgiServiceSpec:
    return AsgiServiceSpec.model_validate({"image": "shop:1", "app": "shop.main:app", **changes})


def server(kind: ServerKind, **options: Any) -> dict[str, Any]:
    return {"kind": kind.value, **(GRANIAN if kind is ServerKind.GRANIAN else {}), **options}


def container(s: AsgiServiceSpec) -> dict[str, Any]:
    return dict(pod_template(OWNER, s)[0]["spec"]["containers"][0])


OFF = {"observability": {"wrapper": False}}


def test_without_the_wrapper_the_command_is_the_plain_one() -> None:
    assert server_command(spec(**OFF)) == [
        "uvicorn", "shop.main:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "1",
        "--timeout-keep-alive", "65", "--timeout-graceful-shutdown", "30", "--lifespan", "on",
        "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1",
    ]  # fmt: skip
    for kind in ServerKind:
        s = spec(server=server(kind), **OFF)
        argv, c = server_command(s), container(s)
        assert s.app in argv and EDGE_DIR not in " ".join(argv)
        assert not any(e["name"].startswith("ASGI_EDGE_") for e in c.get("env", []))
        assert all(m["mountPath"] != EDGE_DIR for m in c["volumeMounts"])
        assert all(m["kind"] != "ConfigMap" for m in desired_children(OWNER, s).apply)
        assert edge.ANNOTATION_SOURCE not in pod_template(OWNER, s)[0]["metadata"].get("annotations", {})


@pytest.mark.parametrize(
    ("kind", "app", "flags", "own_access_log"),
    [
        (ServerKind.UVICORN, "asgi_edge:app", ["--app-dir", EDGE_DIR], "--no-access-log"),
        (ServerKind.GUNICORN, "asgi_edge:app", ["--pythonpath", EDGE_DIR], "--access-logfile"),
        (ServerKind.HYPERCORN, f"{EDGE_DIR}/asgi_edge:app", [], "--access-logfile"),
        (ServerKind.GRANIAN, f"{EDGE_DIR}/asgi_edge:app", [], "--access-log"),
    ],
)
def test_behind_the_wrapper_each_server_imports_it_and_leaves_the_access_log_to_it(
    kind: ServerKind, app: str, flags: list[str], own_access_log: str
) -> None:
    on, off = spec(server=server(kind)), spec(server=server(kind), **OFF)
    argv, plain = server_command(on), server_command(off)
    assert app in argv and on.app not in argv
    if flags:
        assert argv[argv.index(flags[0]) : argv.index(flags[0]) + 2] == flags
    if kind is ServerKind.UVICORN:
        assert own_access_log in argv and own_access_log not in plain  # uvicorn logs unless told not to
    else:
        assert own_access_log in plain and own_access_log not in argv
    env = {e["name"]: e["value"] for e in container(on)["env"]}
    assert env["ASGI_EDGE_APP"] == "shop.main:app"
    assert env["ASGI_EDGE_ACCESS_LOG"] == "json" and env["ASGI_EDGE_ACCESS_LOG_SKIP"] == "/healthz,/metrics"
    assert {"name": "asgi-edge", "mountPath": EDGE_DIR, "readOnly": True} in container(on)["volumeMounts"]


def test_the_wrapper_ships_verbatim_in_a_configmap_and_a_new_wrapper_is_a_new_revision() -> None:
    s = spec()
    (cm,) = [m for m in desired_children(OWNER, s).apply if m["kind"] == "ConfigMap"]
    assert cm["metadata"]["name"] == "shop-edge" and cm["data"] == {"asgi_edge.py": edge.SOURCE.read_text()}
    template, revision = pod_template(OWNER, s)
    assert {"name": "asgi-edge", "configMap": {"name": "shop-edge"}} in template["spec"]["volumes"]
    assert template["metadata"]["annotations"][edge.ANNOTATION_SOURCE] == edge.SOURCE_HASH
    # the stable track still on the wrapper while the new spec turns it off: the ConfigMap stays
    off = spec(**OFF)
    canary = CanaryPlan(off, 1)
    kinds = [m["kind"] for m in desired_children(OWNER, off, stable_spec=s, canary=canary).apply]
    assert "ConfigMap" in kinds
    assert pod_template(OWNER, off)[1] != revision


def test_factory_moves_to_the_wrapper_and_the_users_env_wins() -> None:
    s = spec(
        server={"kind": "uvicorn", "extraArgs": ["--factory"]}, env=[{"name": "ASGI_EDGE_ACCESS_LOG", "value": "off"}]
    )
    assert "--factory" not in server_command(s)
    env = [(e["name"], e.get("value")) for e in container(s)["env"]]
    assert ("ASGI_EDGE_FACTORY", "true") in env
    assert [v for n, v in env if n == "ASGI_EDGE_ACCESS_LOG"] == ["off"]  # once, the user's


def test_log_shipper_and_tracing_annotations() -> None:
    s = spec(observability={"logShippers": ["Filebeat", "FluentBit"], "openTelemetry": True})
    annotations = pod_template(OWNER, s)[0]["metadata"]["annotations"]
    assert annotations["co.elastic.logs/json.target"] == "" and annotations["fluentbit.io/parser"] == "json"
    assert annotations["instrumentation.opentelemetry.io/inject-python"] == "true"


def test_cors_in_the_app_is_the_wrappers_environment() -> None:
    s = spec(
        expose={"host": "shop.example.com", "httpRoute": {"name": "platform"}, "cors": {**CORS, "enforcement": "App"}}
    )
    env = {e["name"]: e["value"] for e in container(s)["env"]}
    assert env["ASGI_EDGE_CORS_ALLOW_ORIGINS"] == "https://shop.example.com,https://admin.example.com"
    assert env["ASGI_EDGE_CORS_ALLOW_CREDENTIALS"] == "true" and env["ASGI_EDGE_CORS_MAX_AGE"] == "120"
    assert env["ASGI_EDGE_CORS_ALLOW_METHODS"] == "GET,POST"


def test_cors_at_the_edge_is_one_filter_on_the_weighted_rule() -> None:
    s = spec(expose={"host": "shop.example.com", "gateway": {"name": "public"}, "cors": CORS})
    (route,) = [
        m for m in desired_children(OWNER, s, canary=CanaryPlan(s, 1), weight=10).apply if m["kind"] == "HTTPRoute"
    ]
    (rule,) = route["spec"]["rules"]
    assert {b["name"] for b in rule["backendRefs"]} == {"shop-stable", "shop-canary"}
    (cors,) = [f for f in rule["filters"] if f["type"] == "CORS"]
    assert cors["cors"] == {
        "allowOrigins": CORS["allowOrigins"],
        "allowCredentials": True,
        "allowMethods": ["GET", "POST"],
        "allowHeaders": ["Authorization"],
        "exposeHeaders": ["X-Request-ID"],
        "maxAge": 120,
    }
    env = {e["name"] for e in container(s)["env"]}
    assert not any(n.startswith("ASGI_EDGE_CORS") for n in env)  # not twice


def test_cors_with_ingress_nginx_is_on_the_main_ingress_only_and_credentials_always_written() -> None:
    cors = {"allowOrigins": ["https://shop.example.com"]}
    s = spec(expose={"host": "shop.example.com", "ingress": {"className": "nginx"}, "cors": cors})
    ingresses = {
        m["metadata"]["name"]: m.get("metadata", {}).get("annotations", {})
        for m in desired_children(OWNER, s, canary=CanaryPlan(s, 1), weight=10).apply
        if m["kind"] == "Ingress"
    }
    main, canary = ingresses["shop"], ingresses["shop-canary"]
    assert main["nginx.ingress.kubernetes.io/enable-cors"] == "true"
    assert main["nginx.ingress.kubernetes.io/cors-allow-origin"] == "https://shop.example.com"
    assert main["nginx.ingress.kubernetes.io/cors-allow-credentials"] == "false"  # its default would be true
    assert not any("cors" in k for k in canary)
