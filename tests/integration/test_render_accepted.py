"""Whatever valid spec a user writes, the REAL API server accepts the AsgiService and every object the operator
renders for it, and stores those objects so that they still `holds()` what the operator wants (or the operator
would rewrite them on every reconcile).

The property test draws valid AsgiServiceSpecs from a hypothesis strategy over the models' fields (every server
kind and option it supports, durations in every syntax that satisfy the cross-field rules, replicas or
autoscaling, env, resources, probes, exposure, rollout steps, ...), renders the children mid-canary (with the
router's traffic objects), and sends everything to the lab's API server with server-side dry-run. Owner
references may point at an AsgiService that does not exist: the API server does not check owners on create
(only the garbage collector acts on them, which test_owner_references_let_the_garbage_collector_clean_up checks
for real).

Where the strategy stays inside a narrower range than the models allow, it is because of a known gap between the
models and the API server, pinned by a strict xfail below (remove the restriction when the xfail is fixed).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from asgi_operator.api.models import AsgiService, AsgiServiceSpec, MetricsProfile, Router
from asgi_operator.api.servers import UNSUPPORTED, ServerKind, supports
from asgi_operator.reconcile.desired import desired_children
from asgi_operator.render.children import CanaryPlan
from asgi_operator.render.drift import holds
from asgi_operator.render.meta import Owner
from lab.cluster import Cluster, KubectlError, wait_for

OWNER_UID = "5a0e3c2e-7d4b-4c5e-9f00-00000000a5a1"  # an AsgiService that does not exist
Manifest = dict[str, Any]


class Rejected(Exception):
    """The API server refused an object."""


class Drifted(Exception):
    """The object the API server stores does not hold the desired manifest: the operator would rewrite it forever."""


# ------------------------------------------------------------------------------------------------ API server
def dry_run(cluster: Cluster, namespace: str, objects: list[Manifest]) -> list[Manifest]:
    """Server-side apply with dry-run=server: admission, validation and defaulting, nothing stored. Returns
    the objects as the API server would store them."""
    result = cluster.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=asgi-operator",
        "-n",
        namespace,
        "-o",
        "json",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
        check=False,
    )
    if result.returncode != 0:
        raise Rejected(result.stderr)
    out = json.loads(result.stdout)
    return list(out["items"]) if out.get("kind") == "List" else [out]


def asgi_service(name: str, namespace: str, spec: Manifest) -> Manifest:
    return {
        "apiVersion": "asgi.dev/v1alpha1",
        "kind": "AsgiService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def check_children(cluster: Cluster, namespace: str, desired: list[Manifest]) -> None:
    stored = {(o["kind"], o["metadata"]["name"]): o for o in dry_run(cluster, namespace, desired)}
    for manifest in desired:
        key = (manifest["kind"], manifest["metadata"]["name"])
        assert key in stored, f"{key} missing from the API server's answer"
        if not holds(manifest, stored[key]):
            raise Drifted(f"{key}: stored\n{json.dumps(stored[key], indent=1)}\ndoes not hold\n{json.dumps(manifest)}")


# ------------------------------------------------------------------------------------------------ strategy
def fmt_duration(ms: int, style: int) -> str:
    """One duration in one of the syntaxes users write: 90s, 90000ms, 1m30s, 90.000s."""
    if style == 0 and ms % 1000 == 0:
        return f"{ms // 1000}s"
    if style == 1:
        return f"{ms}ms"
    if style == 2 and ms % 1000 == 0:
        hours, rest = divmod(ms // 1000, 3600)
        minutes, secs = divmod(rest, 60)
        text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
        return text or "0s"
    return f"{ms // 1000}.{ms % 1000:03d}s"


def durations(lo_ms: int, hi_ms: int) -> st.SearchStrategy[tuple[int, str]]:
    return st.tuples(st.integers(lo_ms, hi_ms), st.integers(0, 3)).map(lambda t: (t[0], fmt_duration(*t)))


DNS_LABEL = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?", fullmatch=True)
# lowercase RFC 1123 subdomains: the model allows any string for serviceAccountName, config/secret refs and the
# ingress class, but the API server does not (test_children_of_accepted_specs_are_accepted)
DNS_SUBDOMAIN = st.lists(DNS_LABEL, min_size=1, max_size=3).map(".".join)
NAME = st.from_regex(r"[a-z]([-a-z0-9]{0,54}[a-z0-9])?", fullmatch=True)
ENV_NAME = st.from_regex(r"[-._a-zA-Z][-._a-zA-Z0-9]{0,20}", fullmatch=True)
QUALIFIED_KEY = st.tuples(
    st.one_of(st.just(""), DNS_SUBDOMAIN.map(lambda d: f"{d}/")),
    st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?", fullmatch=True),
).map("".join)
LABEL_VALUE = st.from_regex(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?)?", fullmatch=True)
# host names start with a letter: an IP address passes the model's host pattern but not an Ingress
HOST_LABEL = st.from_regex(r"[a-z]([-a-z0-9]{0,14}[a-z0-9])?", fullmatch=True)
HOST = st.tuples(st.booleans(), st.lists(HOST_LABEL, min_size=1, max_size=4)).map(
    lambda t: ("*." if t[0] else "") + ".".join(t[1])
)
# URL paths without '//' (the model allows it, an HTTPRoute and an Ingress do not)
URL_PATH = st.lists(st.from_regex(r"[a-z0-9_-]{1,8}", fullmatch=True), max_size=3).map(lambda p: "/" + "/".join(p))
# Free text (env values, annotation values, arguments, the gateway's name): any Unicode but control characters,
# which a server-side apply body (YAML) cannot carry raw.
TEXT = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=24)


def _proxy(
    value: ipaddress.IPv4Network | ipaddress.IPv6Network | ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> bool:
    address = value.network_address if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network) else value
    # IPv4-mapped IPv6 addresses pass the model but not the CRD's isIP (test_models_and_api_server_agree)
    return not (isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None)


PROXY = st.one_of(
    st.just("*"),
    st.ip_addresses().filter(_proxy).map(str),
    st.tuples(st.ip_addresses(v=4), st.integers(0, 32))
    .map(lambda t: ipaddress.ip_network(f"{t[0]}/{t[1]}", strict=False))
    .map(str),
    st.tuples(st.ip_addresses(v=6), st.integers(0, 128))
    .map(lambda t: ipaddress.ip_network(f"{t[0]}/{t[1]}", strict=False))
    .filter(_proxy)
    .map(str),
)


@st.composite
def servers(draw: st.DrawFn) -> tuple[Manifest, int]:
    """A server spec, and its graceful shutdown timeout in milliseconds."""
    kind = draw(st.sampled_from(list(ServerKind)))
    idle_ms, idle = draw(durations(1_000, 300_000))
    _, keep_alive = draw(durations(idle_ms + 1, idle_ms + 120_000))
    server: Manifest = {
        "kind": kind.value,
        "workers": draw(st.integers(1, 64)),
        "loadBalancerIdleTimeout": idle,
        "keepAliveTimeout": keep_alive,
    }
    graceful_ms, server["gracefulShutdownTimeout"] = draw(durations(0, 600_000))
    optional: dict[str, st.SearchStrategy[Any]] = {
        "proxyHeaders": st.booleans(),
        "trustedProxies": st.lists(PROXY, min_size=1, max_size=4),
        "concurrencyLimit": st.integers(1, 100_000),
        "backlog": st.integers(1, 65_535),
        "maxRequests": st.integers(1, 10**9),
        "rootPath": st.lists(st.from_regex(r"[a-z0-9._-]{1,8}", fullmatch=True), min_size=1, max_size=3).map(
            lambda p: "/" + "/".join(p)
        ),
        "lifespan": st.sampled_from(["on", "auto", "off"]),
        "extraArgs": st.lists(TEXT, max_size=4),
    }
    for option, strategy in optional.items():
        if supports(kind, option) and draw(st.booleans()):
            server[option] = draw(strategy)
    return server, graceful_ms


ENV_VALUE_FROM = st.sampled_from(
    [
        {"fieldRef": {"fieldPath": "metadata.name"}},
        {"fieldRef": {"fieldPath": "status.podIP"}},
        {"secretKeyRef": {"name": "db", "key": "password"}},
        {"configMapKeyRef": {"name": "settings", "key": "level", "optional": True}},
        {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
    ]
)


@st.composite
def env_vars(draw: st.DrawFn) -> list[Manifest]:
    names = draw(st.lists(ENV_NAME, max_size=5, unique=True))
    out: list[Manifest] = []
    for name in names:
        # an empty value is stored without `value` (omitempty): known drift, see test_stored_children_hold
        choice = draw(st.sampled_from(["value", "valueFrom", "neither"]))
        if choice == "value":
            out.append({"name": name, "value": draw(TEXT.filter(bool))})
        elif choice == "valueFrom":
            out.append({"name": name, "valueFrom": draw(ENV_VALUE_FROM)})
        else:
            out.append({"name": name})
    return out


@st.composite
def env_from(draw: st.DrawFn) -> list[Manifest]:
    out: list[Manifest] = []
    for _ in range(draw(st.integers(0, 2))):
        ref: Manifest = {"name": draw(DNS_SUBDOMAIN)}
        if draw(st.booleans()):
            ref["optional"] = draw(st.booleans())
        item: Manifest = {draw(st.sampled_from(["configMapRef", "secretRef"])): ref}
        if draw(st.booleans()):
            item["prefix"] = draw(ENV_NAME)  # not "": known drift, like an empty env value
        out.append(item)
    return out


def _cpu(millis: int, style: int) -> int | str:
    if style == 0:
        return f"{millis}m"
    if millis % 1000 == 0:
        return millis // 1000 if style == 1 else str(millis // 1000)
    return f"{millis // 1000}.{millis % 1000:03d}"


def _memory(mebibytes: int, style: int) -> int | str:
    if style == 0:
        return f"{mebibytes}Mi"
    if style == 1:
        return mebibytes * 2**20
    return f"{mebibytes * 2**20 / 10**6:.6f}M".replace(".000000M", "M")


@st.composite
def resources(draw: st.DrawFn) -> Manifest:
    # limits are never below requests: the models accept that, a Pod does not (test_children_of_accepted_specs...)
    cpu = draw(st.integers(0, 64_000))
    memory = draw(st.integers(1, 65_536))
    requests: Manifest = {"cpu": _cpu(cpu, draw(st.integers(0, 2)))}
    limits: Manifest = {}
    if draw(st.booleans()):
        requests["memory"] = _memory(memory, draw(st.integers(0, 2)))
    if draw(st.booleans()):
        limits["cpu"] = _cpu(cpu + draw(st.integers(0, 8_000)), draw(st.integers(0, 2)))
    if draw(st.booleans()):
        limits["memory"] = _memory(memory + draw(st.integers(0, 4_096)), draw(st.integers(0, 2)))
    out: Manifest = {"requests": requests}
    if limits:
        out["limits"] = limits
    return out


@st.composite
def probes(draw: st.DrawFn) -> Manifest:
    out: Manifest = {}
    if draw(st.booleans()):
        out["path"] = draw(URL_PATH)
    for probe, failures in (("readiness", 100), ("liveness", 100), ("startup", 1000)):
        if draw(st.booleans()):
            body: Manifest = {
                "periodSeconds": draw(st.integers(1, 300)),
                "timeoutSeconds": draw(st.integers(1, 60)),
                "failureThreshold": draw(st.integers(1, failures)),
            }
            if draw(st.booleans()):
                body["path"] = draw(URL_PATH)
            out[probe] = body
    return out


@st.composite
def exposures(draw: st.DrawFn) -> Manifest | None:
    kind = draw(st.sampled_from([None, "gateway", "ingress", "httpRoute"]))
    if kind is None:
        return None
    out: Manifest = {}
    if draw(st.booleans()):
        out["path"] = draw(URL_PATH)
    if draw(st.booleans()):
        out["host"] = draw(HOST)
    if kind == "gateway":
        gateway: Manifest = {"name": draw(TEXT.filter(bool))}
        if draw(st.booleans()):
            gateway["namespace"] = draw(DNS_LABEL)
        if draw(st.booleans()):
            gateway["sectionName"] = draw(DNS_LABEL)  # the model allows any string, an HTTPRoute does not
        out["gateway"] = gateway
        if "host" in out and "sectionName" in gateway and draw(st.booleans()):  # HTTPS: HSTS filter, redirect route
            tls: Manifest = draw(st.sampled_from([{"secretName": "shop-tls"}, {"issuerRef": {"name": "le"}}]))
            if draw(st.booleans()):
                gateway["httpSectionName"] = gateway["sectionName"] + "-http"
            else:
                tls = {**tls, "redirect": False}
            if draw(st.booleans()):
                tls = {**tls, "hstsMaxAge": draw(st.integers(0, 63072000))}
            out["tls"] = tls
    elif kind == "ingress":
        out["ingress"] = {
            "className": draw(st.one_of(st.sampled_from(["nginx", "nginx-internal", "traefik"]), DNS_SUBDOMAIN)),
            "annotations": draw(st.dictionaries(QUALIFIED_KEY, TEXT, max_size=3)),
        }
        if "host" in out and draw(st.booleans()):
            out["tls"] = {"secretName": draw(DNS_LABEL)}
    else:
        out["httpRoute"] = {"name": draw(DNS_SUBDOMAIN)}
    if draw(st.booleans()):
        out["rateLimit"] = draw(rate_limits(on_route=kind != "ingress"))
    return out


@st.composite
def rate_limits(draw: st.DrawFn, on_route: bool) -> Manifest:
    """expose.rateLimit within what the exposure's implementation can do (the rest is refused, see invalid_specs)."""
    requests = draw(st.integers(1, 1_000_000))
    out: Manifest = {"requests": requests, "per": draw(st.sampled_from(["Second", "Minute"])), "scope": "PerProxy"}
    if not on_route:  # ingress-nginx's annotations, whatever the class is named
        out["implementation"] = "IngressNginx"
        if draw(st.booleans()):
            out["exempt"] = draw(st.lists(PROXY.filter(lambda p: p != "*"), min_size=1, max_size=3))
        if draw(st.booleans()):
            out["burst"] = requests * draw(st.integers(1, max(1, min(5, 1_000_000 // requests))))
        return out
    # Envoy Gateway only: NGINX Gateway Fabric's CRD is not in the lab (test_nginx_gateway_fabric_policy_needs_its_crd)
    out["implementation"] = "EnvoyGateway"
    out["per"] = draw(st.sampled_from(["Second", "Minute", "Hour"]))
    out["scope"] = draw(st.sampled_from(["Global", "PerProxy"]))
    return out


@st.composite
def rollouts(draw: st.DrawFn) -> Manifest:
    steps = [*sorted(draw(st.lists(st.integers(1, 99), unique=True, max_size=19))), 100]
    interval_ms, interval = draw(durations(1_000, 600_000))
    out: Manifest = {
        "strategy": draw(st.sampled_from(["Canary", "RollingUpdate"])),
        "steps": steps,
        "interval": interval,
        "progressDeadline": draw(durations(interval_ms + 1, interval_ms + 7_200_000))[1],
        "failureThreshold": draw(st.integers(1, 100)),
        "slo": {
            "maxErrorRate": draw(st.floats(0, 1, allow_nan=False)),
            "maxLatencyP99": draw(durations(1, 60_000))[1],
            "minRequests": draw(st.integers(0, 10**6)),
        },
    }
    if draw(st.booleans()):
        out["router"] = draw(st.sampled_from([r.value for r in Router]))
    if draw(st.booleans()):
        out["slo"]["window"] = draw(durations(1_000, 3_600_000))[1]
    if draw(st.booleans()):
        out["slo"]["relative"] = {
            "maxErrorRateIncrease": draw(st.floats(0, 1, allow_nan=False)),
            "maxLatencyP99IncreasePercent": draw(st.integers(0, 10_000)),
        }
    profile = draw(st.sampled_from(list(MetricsProfile)))
    prometheus: Manifest = {"profile": profile.value, "timeout": draw(durations(1, 60_000))[1]}
    if profile is MetricsProfile.CUSTOM:
        prometheus["queries"] = {
            "errorRate": "sum(rate(errors{ {{ selector }} }[{{ window }}]))",
            "latencyP99": "histogram_quantile(0.99, sum by (le) (rate(latency_bucket[{{ window }}])))",
            "requests": "sum(increase(requests{ {{ selector }} }[{{ window }}]))",
        }
    if draw(st.booleans()):
        prometheus["address"] = draw(st.sampled_from(["http://prometheus.monitoring:9090", "https://prom.example.com"]))
    out["prometheus"] = prometheus
    return out


@st.composite
def specs(draw: st.DrawFn) -> Manifest:
    server, graceful_ms = draw(servers())
    pre_stop_ms, pre_stop = draw(durations(0, 120_000))
    shutdown: Manifest = {"preStopDelay": pre_stop}
    if draw(st.booleans()):
        floor_ms = pre_stop_ms + graceful_ms + 5_000
        shutdown["terminationGracePeriod"] = draw(durations(floor_ms, floor_ms + 600_000))[1]
    spec: Manifest = {
        "image": draw(st.sampled_from(["registry.example.com/shop", "ghcr.io/acme/api", "shop"]))
        + draw(st.sampled_from([":1.0", ":latest", "@sha256:" + "a" * 64, ""])),
        "app": draw(
            st.from_regex(r"[a-z_][a-z0-9_]{0,8}(\.[a-z_][a-z0-9_]{0,4}){0,2}:[a-z_][a-z0-9_]{0,8}", fullmatch=True)
        ),
        "server": server,
        "port": draw(st.integers(1024, 65_535)),
        "env": draw(env_vars()),
        "envFrom": draw(env_from()),
        "resources": draw(resources()),
        "probes": draw(probes()),
        "shutdown": shutdown,
        "metrics": {
            "path": draw(URL_PATH),
            "interval": draw(durations(1_000, 300_000))[1],
            # podMonitor needs the prometheus-operator CRD, which the lab does not install
            "scrape": draw(st.sampled_from(["auto", "annotations", "none"])),
        },
        "rollout": draw(rollouts()),
        "podLabels": draw(st.dictionaries(QUALIFIED_KEY, LABEL_VALUE, max_size=3)),
        "podAnnotations": draw(st.dictionaries(QUALIFIED_KEY, TEXT, max_size=3)),
    }
    if draw(st.booleans()):
        spec["metrics"]["port"] = draw(st.integers(1024, 65_535))
    scaling = draw(st.sampled_from(["none", "replicas", "autoscaling"]))
    if scaling == "replicas":
        spec["replicas"] = draw(st.integers(0, 20))
    elif scaling == "autoscaling":
        low = draw(st.integers(1, 10))
        spec["autoscaling"] = {
            "minReplicas": low,
            "maxReplicas": draw(st.integers(low, 50)),
            "targetCPUUtilizationPercentage": draw(st.integers(1, 1000)),
        }
    expose = draw(exposures())
    if expose is not None:
        spec["expose"] = expose
    if draw(st.booleans()):
        spec["imagePullPolicy"] = draw(st.sampled_from(["Always", "IfNotPresent", "Never"]))
    if draw(st.booleans()):
        spec["imagePullSecrets"] = [{"name": n} for n in draw(st.lists(DNS_SUBDOMAIN, max_size=2, unique=True))]
    if draw(st.booleans()):
        spec["serviceAccountName"] = draw(DNS_SUBDOMAIN)
    return spec


def _valid(body: Manifest) -> Manifest | None:
    try:
        AsgiServiceSpec.model_validate(body)
    except ValidationError:
        return None
    return body


VALID_SPECS = specs().map(_valid).filter(lambda body: body is not None)


# ------------------------------------------------------------------------------------------------ property
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    name=NAME,
    body=VALID_SPECS,
    # the canary's size (None: no canary Deployment) and its share of traffic
    canary=st.tuples(st.none() | st.integers(0, 3), st.integers(0, 100)),
)
def test_every_valid_spec_and_its_children_are_accepted(
    cluster: Cluster, namespace: str, name: str, body: Manifest, canary: tuple[int | None, int]
) -> None:
    spec = AsgiServiceSpec.model_validate(body)
    canary_replicas, weight = canary

    # the CRD agrees with the models, and what the API server stores is what the operator reads back
    (stored,) = dry_run(cluster, namespace, [asgi_service(name, namespace, body)])
    assert AsgiService.model_validate(stored).spec == spec

    # every child, mid-canary with the router's traffic objects, is accepted and stored as wanted
    owner = Owner(name, namespace, OWNER_UID)
    plan = CanaryPlan(spec, canary_replicas) if canary_replicas is not None else None
    children = desired_children(owner, spec, canary=plan, weight=weight).apply
    check_children(cluster, namespace, children)


# ------------------------------------------------------------------------------------------------ contract
UNSUPPORTED_PAIRS = [(option, kind) for option, kinds in UNSUPPORTED.items() for kind in kinds]
SAMPLE = {
    "proxyHeaders": True,
    "trustedProxies": ["10.0.0.0/8"],
    "concurrencyLimit": 100,
    "rootPath": "/api",
    "maxRequests": 1000,
    "lifespan": "on",
}


@pytest.mark.parametrize(("option", "kind"), UNSUPPORTED_PAIRS, ids=[f"{o}-{k.value}" for o, k in UNSUPPORTED_PAIRS])
def test_api_server_rejects_unsupported_server_options(
    cluster: Cluster, namespace: str, option: str, kind: ServerKind
) -> None:
    server = {"kind": kind.value, option: SAMPLE[option]}
    if kind is ServerKind.GRANIAN:
        server.update(keepAliveTimeout="55s", loadBalancerIdleTimeout="50s")
    body = {"image": "registry.example.com/shop:1.0", "app": "main:app", "server": server}
    with pytest.raises(Rejected) as err:
        dry_run(cluster, namespace, [asgi_service("shop", namespace, body)])
    assert f"spec.server.{option}" in str(err.value)
    assert f"{option} is not supported by {kind.value}" in str(err.value)
    # the same option on uvicorn (which supports all of them) is accepted
    dry_run(cluster, namespace, [asgi_service("shop", namespace, {**body, "server": {option: SAMPLE[option]}})])


BASE: Manifest = {"image": "registry.example.com/shop:1.0", "app": "main:app"}


CHILD_REJECTED = [
    pytest.param({"expose": {"host": "*.example.com", "ingress": {"className": "nginx"}}}, id="wildcard-ingress"),
    pytest.param({"resources": {"requests": {"cpu": "0.5", "memory": "1.5Gi"}, "limits": {"cpu": 1}}}, id="quantities"),
]

# Specs whose children the API server would reject: the CRD (and the models) reject them at apply time,
# with a message, instead of the operator finding out later.
REJECTED_UP_FRONT = [
    pytest.param({"resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": "250m"}}}, id="requests-above-limits"),
    pytest.param({"resources": {"requests": {"gpu": "1"}}}, id="unknown-resource-name"),
    pytest.param({"podLabels": {"team": "data platform"}}, id="pod-label-value"),
    pytest.param({"podAnnotations": {"owner team": "x"}}, id="pod-annotation-key"),
    pytest.param({"serviceAccountName": "Api_Runner"}, id="service-account-name"),
    pytest.param({"envFrom": [{"configMapRef": {"name": "App_Settings"}}]}, id="env-from-name"),
    pytest.param({"envFrom": [{"prefix": "APP=", "configMapRef": {"name": "settings"}}]}, id="env-from-prefix"),
    pytest.param(
        {"env": [{"name": "A", "valueFrom": {"secretKeyRefs": {"name": "s", "key": "k"}}}]}, id="env-value-from-typo"
    ),
    pytest.param({"expose": {"host": "10.0.0.1", "ingress": {"className": "nginx"}}}, id="ingress-ip-host"),
    pytest.param({"expose": {"ingress": {"className": "Public_Nginx"}}}, id="ingress-class-name"),
    pytest.param(
        {"expose": {"ingress": {"className": "nginx", "annotations": {"proxy body size": "8m"}}}},
        id="ingress-annotation-key",
    ),
    pytest.param({"expose": {"gateway": {"name": "public", "sectionName": "HTTPS_443"}}}, id="gateway-section-name"),
    pytest.param({"expose": {"path": "/api//v1", "gateway": {"name": "public"}}}, id="path-double-slash"),
    pytest.param({"rollout": {"progressDeadline": "1000000h"}}, id="progress-deadline-overflow"),
]


@pytest.mark.parametrize("fields", CHILD_REJECTED)
def test_children_of_accepted_specs_are_accepted(cluster: Cluster, namespace: str, fields: Manifest) -> None:
    """An AsgiService the API server accepts must not render a child it rejects: the user would learn about the
    mistake only from the operator's status, long after `kubectl apply` said yes."""
    body = {**BASE, **fields}
    spec = AsgiServiceSpec.model_validate(body)
    try:
        dry_run(cluster, namespace, [asgi_service("shop", namespace, body)])
    except Rejected as e:
        pytest.fail(f"precondition: the API server must accept the AsgiService itself: {e}")
    check_children(cluster, namespace, desired_children(Owner("shop", namespace, OWNER_UID), spec).apply)


STORED_DIFFERENTLY = [
    pytest.param({"env": [{"name": "A", "value": "1"}]}, id="env-value"),
    pytest.param({"resources": {"requests": {"cpu": "0.5", "memory": "1536Mi"}}}, id="normalised-quantities"),
    pytest.param({"env": [{"name": "FEATURE_FLAGS", "value": ""}]}, id="empty-env-value"),
    pytest.param({"envFrom": [{"prefix": "", "configMapRef": {"name": "settings"}}]}, id="empty-env-from-prefix"),
]


@pytest.mark.parametrize("fields", REJECTED_UP_FRONT)
def test_specs_whose_children_would_be_rejected_are_rejected_at_apply(
    cluster: Cluster, namespace: str, fields: Manifest
) -> None:
    body = {**BASE, **fields}
    assert not _model_accepts(body)
    with pytest.raises(Rejected):
        dry_run(cluster, namespace, [asgi_service("shop", namespace, body)])


@pytest.mark.parametrize("fields", STORED_DIFFERENTLY)
def test_stored_children_hold(cluster: Cluster, namespace: str, fields: Manifest) -> None:
    spec = AsgiServiceSpec.model_validate({**BASE, **fields})
    check_children(cluster, namespace, desired_children(Owner("shop", namespace, OWNER_UID), spec).apply)


def _model_accepts(body: Manifest) -> bool:
    try:
        AsgiService.model_validate(asgi_service("shop", "default", body))
    except ValidationError:
        return False
    return True


AGREEMENT = [
    pytest.param({"server": {"trustedProxies": ["2001:db8::/32", "0.0.0.0/0", "10.1.2.3"]}}, id="proxies"),
    pytest.param({"server": {"trustedProxies": ["010.0.0.1"]}}, id="proxy-leading-zero"),
    pytest.param({"resources": {"requests": {"cpu": "1E3", "memory": ".5Gi"}}}, id="quantity-forms"),
    pytest.param({"resources": {"requests": {"cpu": "0x10"}}}, id="quantity-hex"),
    pytest.param({"rollout": {"interval": "1h1m1.5s", "progressDeadline": "2h"}}, id="duration-forms"),
    pytest.param({"rollout": {"interval": "1us"}}, id="duration-microseconds"),
    pytest.param({"expose": {"host": "*.a.b", "gateway": {"name": "g"}}}, id="wildcard-host"),
    pytest.param({"server": {"rootPath": "/api/"}}, id="root-path-trailing-slash"),
    pytest.param({"server": {"trustedProxies": ["192.168.1.10/24"]}}, id="cidr-with-host-bits"),
    pytest.param({"resources": {"requests": {"cpu": "-1"}}}, id="negative-quantity"),
    pytest.param({"server": {"trustedProxies": ["::ffff:10.0.0.1"]}}, id="ipv4-mapped-ipv6-proxy"),
    pytest.param({"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}, id="duplicate-env"),
]


@pytest.mark.parametrize("fields", AGREEMENT)
def test_models_and_api_server_agree(cluster: Cluster, namespace: str, fields: Manifest) -> None:
    body = {**BASE, **fields}
    try:
        dry_run(cluster, namespace, [asgi_service("shop", namespace, body)])
        api_server_accepts = True
    except Rejected:
        api_server_accepts = False
    assert _model_accepts(body) == api_server_accepts, f"API server accepts: {api_server_accepts}"


# ------------------------------------------------------------------------------------------------ owners
def _resource(manifest: Manifest) -> str:
    """kind.group/name, as kubectl takes it."""
    group = manifest["apiVersion"].rpartition("/")[0]
    kind = manifest["kind"].lower()
    return f"{kind}.{group}/{manifest['metadata']['name']}" if group else f"{kind}/{manifest['metadata']['name']}"


def test_owner_references_let_the_garbage_collector_clean_up(cluster: Cluster, namespace: str) -> None:
    """Applied for real under a real AsgiService, the children are not collected as orphans, and deleting the
    AsgiService deletes every one of them (apiVersion, kind, name and uid of the owner reference are right)."""
    body = {
        **BASE,
        "autoscaling": {"minReplicas": 1, "maxReplicas": 3},
        "expose": {"host": "shop.example.com", "gateway": {"name": "public"}},
    }
    cluster.kubectl_apply(json.dumps(asgi_service("shop", namespace, body)))
    uid = cluster.kubectl("get", "asgiservice", "shop", "-n", namespace, "-o", "jsonpath={.metadata.uid}").stdout
    spec = AsgiServiceSpec.model_validate(body)
    children = desired_children(Owner("shop", namespace, uid), spec).apply
    cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=asgi-operator",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": children}),
    )
    refs = [_resource(o) for o in children]
    assert {r.split("/")[0] for r in refs} >= {"deployment.apps", "service", "horizontalpodautoscaler.autoscaling"}
    for ref in refs:
        cluster.kubectl("get", ref, "-n", namespace)
    cluster.kubectl("delete", "asgiservice", "shop", "-n", namespace, "--wait=false")

    def all_gone() -> bool:
        return all(cluster.kubectl("get", ref, "-n", namespace, check=False).returncode != 0 for ref in refs)

    wait_for("the garbage collector to delete every child", all_gone, 60)


def test_a_dry_run_with_an_unknown_owner_is_accepted(cluster: Cluster, namespace: str) -> None:
    """What the property test relies on: owner references are not checked on create."""
    spec = AsgiServiceSpec.model_validate(BASE)
    (deployment,) = [
        o for o in desired_children(Owner("ghost", namespace, OWNER_UID), spec).apply if o["kind"] == "Deployment"
    ]
    (stored,) = dry_run(cluster, namespace, [deployment])
    assert stored["metadata"]["ownerReferences"][0]["uid"] == OWNER_UID
    with pytest.raises(KubectlError):
        cluster.kubectl("get", "asgiservice", "ghost", "-n", namespace)


# ------------------------------------------------------------------------------------------------ pod features
EVERY_POD_FEATURE: Manifest = {
    **BASE,
    "server": {"workers": 2},  # the operator's multiproc volume next to the user's
    "volumes": [
        {"name": "config", "configMap": {"name": "shop-config", "items": [{"key": "app.toml", "path": "app.toml"}]}},
        {"name": "db-credentials", "secret": {"secretName": "shop-db", "defaultMode": 0o440}},
        {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}},
        {
            "name": "identity",
            "projected": {
                "sources": [
                    {
                        "serviceAccountToken": {
                            "path": "token",
                            "audience": "sts.example.com",
                            "expirationSeconds": 3600,
                        }
                    },
                    {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                    {"configMap": {"name": "ca", "items": [{"key": "ca.crt", "path": "ca.crt", "mode": 0o444}]}},
                    {"secret": {"name": "client-cert", "optional": True}},
                ]
            },
        },
        {"name": "uploads", "persistentVolumeClaim": {"claimName": "shop-uploads", "readOnly": True}},
        {
            "name": "vault",
            "csi": {
                "driver": "secrets-store.csi.k8s.io",
                "readOnly": True,
                "volumeAttributes": {"secretProviderClass": "shop"},
                "nodePublishSecretRef": {"name": "vault-creds"},
            },
        },
    ],
    "volumeMounts": [
        {"name": "config", "mountPath": "/etc/shop/app.toml", "subPath": "app.toml", "readOnly": True},
        {"name": "config", "mountPath": "/etc/shop/conf.d", "readOnly": True},  # one volume mounted twice
        {"name": "db-credentials", "mountPath": "/var/run/secrets/db", "readOnly": True},
        {"name": "cache", "mountPath": "/var/cache/shop"},
        {"name": "identity", "mountPath": "/var/run/identity"},
        {"name": "uploads", "mountPath": "/srv/uploads"},
        {"name": "vault", "mountPath": "/mnt/vault"},
    ],
    "nodeSelector": {"kubernetes.io/os": "linux", "pool": "web"},
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
    ],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}
                        ]
                    }
                ]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["3"]}]}}
            ],
        },
        "podAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 50,
                    "podAffinityTerm": {
                        "labelSelector": {"matchLabels": {"app": "postgres"}},
                        "namespaces": ["databases"],
                        "topologyKey": "topology.kubernetes.io/zone",
                    },
                }
            ]
        },
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchExpressions": [{"key": "asgi.dev/name", "operator": "Exists"}]},
                    "topologyKey": "kubernetes.io/hostname",
                    "matchLabelKeys": ["pod-template-hash"],
                }
            ]
        },
    },
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "minDomains": 3,
            "nodeAffinityPolicy": "Honor",
            "nodeTaintsPolicy": "Ignore",
        },
        {
            "maxSkew": 2,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"asgi.dev/name": "shop"}},
            "matchLabelKeys": ["pod-template-hash"],
        },
    ],
    "priorityClassName": "business-critical",
    "initContainers": [
        {
            "name": "db-proxy",
            "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0",
            "restartPolicy": "Always",
            "args": ["--port=5432", "--health-check", "--http-port=9801", "project:region:db"],
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            "securityContext": {"runAsUser": 65532, "capabilities": {"add": ["NET_BIND_SERVICE"]}},
            "startupProbe": {"httpGet": {"path": "/startup", "port": 9801}, "periodSeconds": 1, "failureThreshold": 30},
            "readinessProbe": {"tcpSocket": {"port": 5432}},
            "livenessProbe": {"exec": {"command": ["/bin/true"]}, "initialDelaySeconds": 5, "timeoutSeconds": 2},
            "volumeMounts": [{"name": "identity", "mountPath": "/var/run/identity", "readOnly": True}],
        },
        {
            "name": "wait-for-db",
            "command": ["python", "-m", "shop.wait_for_db"],
            "env": [
                {"name": "DATABASE_HOST", "value": "127.0.0.1"},
                {"name": "DATABASE_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "shop-db", "key": "password"}}},
            ],
            "envFrom": [{"configMapRef": {"name": "shop-settings"}}],
            "securityContext": {"readOnlyRootFilesystem": False, "runAsNonRoot": True},
        },
    ],
}


def test_a_spec_with_every_pod_feature_and_its_deployments_are_accepted(cluster: Cluster, namespace: str) -> None:
    """Every volume source, mounts, a sidecar with all three probe kinds, an init container, affinity of each
    kind, spread, tolerations, nodeSelector and a priority class: the AsgiService is accepted as written, and
    both Deployments (mid-canary) are accepted and stored as rendered (no rewrite at every reconcile)."""
    spec = AsgiServiceSpec.model_validate(EVERY_POD_FEATURE)
    (stored,) = dry_run(cluster, namespace, [asgi_service("shop", namespace, EVERY_POD_FEATURE)])
    assert AsgiService.model_validate(stored).spec == spec
    owner = Owner("shop", namespace, OWNER_UID)
    children = desired_children(owner, spec, canary=CanaryPlan(spec, 1), weight=10).apply
    assert len([c for c in children if c["kind"] == "Deployment"]) == 2
    check_children(cluster, namespace, children)


def test_the_default_spread_and_no_spread_are_accepted(cluster: Cluster, namespace: str) -> None:
    for fields in ({}, {"topologySpreadConstraints": []}):
        spec = AsgiServiceSpec.model_validate({**BASE, **fields})
        check_children(cluster, namespace, desired_children(Owner("shop", namespace, OWNER_UID), spec).apply)


def test_a_missing_priority_class_is_found_only_when_pods_are_created(cluster: Cluster, namespace: str) -> None:
    """A Deployment naming a PriorityClass that does not exist is accepted (even created for real): the Priority
    admission plugin checks Pods only, so the ReplicaSet's pod creation fails. A dry-run of the Pod itself shows
    the error the user would find in the ReplicaSet's events."""
    spec = AsgiServiceSpec.model_validate({**BASE, "priorityClassName": "no-such-class"})
    check_children(cluster, namespace, desired_children(Owner("shop", namespace, OWNER_UID), spec).apply)
    deployment = next(
        c for c in desired_children(Owner("shop", namespace, OWNER_UID), spec).apply if c["kind"] == "Deployment"
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "shop-probe", "namespace": namespace},
        "spec": deployment["spec"]["template"]["spec"],
    }
    with pytest.raises(Rejected, match="no PriorityClass with name no-such-class"):
        dry_run(cluster, namespace, [pod])


# ------------------------------------------------------------------------------------------------ rate limits
RATE_LIMITS: list[tuple[str, Manifest]] = [
    (
        "envoy-gateway-global",
        {
            "host": "shop.example.com",
            "gateway": {"name": "public"},
            "rateLimit": {"requests": 100, "per": "Minute", "scope": "Global", "implementation": "EnvoyGateway"},
        },
    ),
    (
        "envoy-gateway-local-per-hour-on-your-route",
        {
            "httpRoute": {"name": "storefront"},
            "rateLimit": {"requests": 1000000, "per": "Hour", "scope": "PerProxy", "implementation": "EnvoyGateway"},
        },
    ),
    (
        "ingress-nginx",
        {
            "host": "shop.example.com",
            "ingress": {"className": "nginx"},
            "rateLimit": {
                "requests": 10,
                "per": "Second",
                "scope": "PerProxy",
                "implementation": "IngressNginx",
                "burst": 30,
                "exempt": ["10.0.0.0/8", "2001:db8::/32"],
            },
        },
    ),
    (  # the class is named otherwise: the replicas router renders the Ingress, with the annotations
        "ingress-nginx-with-its-own-class-name",
        {
            "ingress": {"className": "public"},
            "rateLimit": {"requests": 100, "per": "Minute", "scope": "PerProxy", "implementation": "IngressNginx"},
        },
    ),
    (  # Traefik's Middleware, and its ExtensionRef filter after the HSTS filter on the weighted rule
        "traefik-after-hsts",
        {
            "host": "shop.example.com",
            "gateway": {"name": "public", "sectionName": "https", "httpSectionName": "http"},
            "tls": {"secretName": "shop-tls"},
            "rateLimit": {"requests": 100, "per": "Minute", "scope": "PerProxy", "implementation": "Traefik"},
        },
    ),
    (
        "traefik-per-hour-with-a-burst",
        {
            "gateway": {"name": "public"},
            "rateLimit": {
                "requests": 36000,
                "per": "Hour",
                "scope": "PerProxy",
                "implementation": "Traefik",
                "burst": 7,
            },
        },
    ),
]


@pytest.mark.parametrize("expose", [e for _, e in RATE_LIMITS], ids=[i for i, _ in RATE_LIMITS])
def test_rate_limit_policies_and_annotations_are_accepted(cluster: Cluster, namespace: str, expose: Manifest) -> None:
    """The AsgiService as written, and its children mid-canary, with the real policy CRDs from Envoy Gateway's
    and Traefik's modules (the lab installs them); stored as rendered, so the operator does not rewrite them."""
    fields = {**BASE, "expose": expose}
    spec = AsgiServiceSpec.model_validate(fields)
    (stored,) = dry_run(cluster, namespace, [asgi_service("shop", namespace, fields)])
    assert AsgiService.model_validate(stored).spec == spec
    children = desired_children(Owner("shop", namespace, OWNER_UID), spec, canary=CanaryPlan(spec, 1), weight=10)
    kinds = {c["kind"] for c in children.apply}
    assert ("BackendTrafficPolicy" in kinds) == (expose["rateLimit"]["implementation"] == "EnvoyGateway")
    assert ("Middleware" in kinds) == (expose["rateLimit"]["implementation"] == "Traefik")
    check_children(cluster, namespace, children.apply)


def test_nginx_gateway_fabric_policy_needs_its_crd(cluster: Cluster, namespace: str) -> None:
    """NGINX Gateway Fabric's CRD cannot be fetched from the Go module proxy (403), so the lab has none: its
    RateLimitPolicy is refused as a kind the API server does not know (the operator turns this into a condition,
    see test_rate_limits.py). The AsgiService itself is accepted."""
    fields = {
        **BASE,
        "expose": {
            "httpRoute": {"name": "storefront"},
            "rateLimit": {
                "requests": 100,
                "per": "Minute",
                "scope": "PerProxy",
                "implementation": "NginxGatewayFabric",
            },
        },
    }
    dry_run(cluster, namespace, [asgi_service("shop", namespace, fields)])
    spec = AsgiServiceSpec.model_validate(fields)
    [policy] = [
        c for c in desired_children(Owner("shop", namespace, OWNER_UID), spec).apply if c["kind"] == "RateLimitPolicy"
    ]
    if cluster.kubectl("get", "crd", "ratelimitpolicies.gateway.nginx.org", check=False).returncode == 0:
        check_children(cluster, namespace, [policy])
    else:
        with pytest.raises(Rejected, match="RateLimitPolicy"):
            dry_run(cluster, namespace, [policy])


# ------------------------------------------------------------------------------------------------ HTTPS (expose.tls)
_ISSUER: Manifest = {"name": "letsencrypt", "kind": "ClusterIssuer"}
TLS_EXPOSURES: list[tuple[str, Manifest]] = [
    (
        "gateway-issuer-redirect-hsts",
        {
            "host": "shop.example.com",
            "gateway": {"name": "public", "namespace": "gw", "sectionName": "https", "httpSectionName": "http"},
            "tls": {"issuerRef": _ISSUER},
        },
    ),
    (
        "gateway-listener-set-issuer-redirect",
        {
            "host": "shop.example.com",
            "gateway": {"name": "public", "namespace": "gw", "listenerSet": True, "httpSectionName": "http"},
            "tls": {"issuerRef": _ISSUER},
        },
    ),
    (
        "gateway-secret-prefix-rewrite-and-hsts-two-years",
        {
            "host": "shop.example.com",
            "path": "/api",
            "gateway": {"name": "public", "sectionName": "https", "httpSectionName": "http"},
            "tls": {"secretName": "shop-tls", "hstsMaxAge": 63072000},
        },
    ),
    (
        "gateway-no-redirect-no-hsts-external-issuer",
        {
            "host": "shop.example.com",
            "gateway": {"name": "public", "sectionName": "https"},
            "tls": {
                "issuerRef": {"name": "pca", "kind": "AWSPCAClusterIssuer", "group": "awspca.cert-manager.io"},
                "redirect": False,
                "hstsMaxAge": 0,
            },
        },
    ),
    (
        "ingress-nginx-issuer-and-cert-manager-annotations",
        {
            "host": "shop.example.com",
            "ingress": {"className": "nginx", "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}},
            "tls": {"issuerRef": {"name": "internal-ca"}},
        },
    ),
    (
        "ingress-nginx-secret-no-redirect",
        {"host": "shop.example.com", "ingress": {"className": "nginx"}, "tls": {"secretName": "s", "redirect": False}},
    ),
]


@pytest.mark.parametrize("expose", [e for _, e in TLS_EXPOSURES], ids=[i for i, _ in TLS_EXPOSURES])
def test_https_children_are_accepted(cluster: Cluster, namespace: str, expose: Manifest) -> None:
    """The AsgiService as written, and its children mid-canary (the cert-manager Certificate from the real CRD of
    cert-manager's module, the HTTPRoute with its HSTS filter, the redirect route, the Ingresses), stored as
    rendered, so the operator does not rewrite them; the canary Ingress carries no cert-manager annotation."""
    fields = {**BASE, "server": {"kind": "uvicorn", "rootPath": "/api"}, "expose": expose}
    spec = AsgiServiceSpec.model_validate(fields)
    (stored,) = dry_run(cluster, namespace, [asgi_service("shop", namespace, fields)])
    assert AsgiService.model_validate(stored).spec == spec
    owner = Owner("shop", namespace, OWNER_UID)
    children = desired_children(owner, spec, canary=CanaryPlan(spec, 1), weight=10, cert_manager_crd=True)
    by_name = {f"{c['kind']}/{c['metadata']['name']}": c for c in children.apply}
    assert ("Certificate/shop-tls" in by_name) == ("issuerRef" in expose["tls"])
    wants_redirect = "gateway" in expose and expose["tls"].get("redirect", True)
    assert ("HTTPRoute/shop-redirect" in by_name) == wants_redirect
    if "Ingress/shop-canary" in by_name:
        canary_annotations = by_name["Ingress/shop-canary"]["metadata"]["annotations"]
        assert not [k for k in canary_annotations if k.startswith("cert-manager.io/")]
    check_children(cluster, namespace, children.apply)


# ------------------------------------------------------------------------------------------------ CORS, the wrapper
CORS_EXPOSURES: list[tuple[str, Manifest]] = [
    (
        "gateway-filter",
        {
            "host": "shop.example.com",
            "gateway": {"name": "public"},
            "cors": {
                "allowOrigins": ["https://shop.example.com", "http://localhost:3000"],
                "allowCredentials": True,
                "allowMethods": ["GET", "POST", "DELETE"],
                "allowHeaders": ["Authorization", "Content-Type"],
                "exposeHeaders": ["X-Request-ID"],
                "maxAge": "1h",
            },
        },
    ),
    (
        "nginx-annotations",
        {
            "host": "shop.example.com",
            "ingress": {"className": "nginx"},
            "cors": {"allowOrigins": ["https://shop.example.com"], "allowHeaders": ["*"]},
        },
    ),
    (
        "in-the-app",
        {
            "host": "shop.example.com",
            "httpRoute": {"name": "platform"},
            "cors": {"allowOrigins": ["https://shop.example.com"], "enforcement": "App"},
        },
    ),
]


@pytest.mark.parametrize("expose", [e for _, e in CORS_EXPOSURES], ids=[i for i, _ in CORS_EXPOSURES])
def test_cors_and_the_wrapper_are_accepted_as_rendered(cluster: Cluster, namespace: str, expose: Manifest) -> None:
    """The AsgiService as written, and its children mid-canary (the HTTPRoute's standard CORS filter under the
    real Gateway API v1.6 CRD, the Ingress annotations, the wrapper's ConfigMap, env and mount), stored as
    rendered, so the operator does not rewrite them."""
    fields = {**BASE, "expose": expose, "observability": {"logShippers": ["Filebeat"], "openTelemetry": True}}
    spec = AsgiServiceSpec.model_validate(fields)
    (stored,) = dry_run(cluster, namespace, [asgi_service("shop", namespace, fields)])
    assert AsgiService.model_validate(stored).spec == spec
    children = desired_children(Owner("shop", namespace, OWNER_UID), spec, canary=CanaryPlan(spec, 1), weight=10)
    assert "ConfigMap" in {c["kind"] for c in children.apply}
    check_children(cluster, namespace, children.apply)
