"""The canary's promise, measured where users meet it: at a REAL gateway.

Traefik (tests/lab/gateway.py) carries every request; the operator only writes the HTTPRoute. The load driver
counts which pod answered each request (tests/lab/load.py), so the shares below are what clients received, not
what the route says. Each step runs long enough for 500+ requests; Traefik's weighted round robin is exact, so
the canary's share must be within 2 points of the step's weight.
"""

from __future__ import annotations

import http.client
import math
import ssl
import time
from collections.abc import Iterator
from typing import Any

import pytest

from integration.helpers import apply, condition, must_get, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from integration.test_canary_e2e import HOST, NAME, Rig, _promoted_and_ready, rig, spec
from lab.cluster import Cluster
from lab.dataplane import POD_HEADER, DataPlane
from lab.gateway import HTTP_PORT, Traefik, gateway_ref
from lab.load import HTTPSConnection, LoadDriver
from lab.traffic import Prometheus

__all__ = ["rig"]  # the fixture, shared with test_canary_e2e

# seconds at each end of a step not counted: the gateway applies a route in 0.1-0.3 s, and the test sees the route
# change by polling it, up to about as late
SETTLE = 0.5
RATE = 150.0
ORIGIN = "https://shop.example.com"  # requests a second: an 8 s step gives over 1,000


def _steps(rig: Rig, until: Any, timeout: float) -> list[tuple[int, float, float]]:
    """Follows the route's canary weight until `until()`: (weight, from, to) on the load driver's clock."""
    seen: list[tuple[int, float]] = []

    def done() -> bool:
        weight = dict(rig.weights())[f"{NAME}-canary"]
        if not seen or seen[-1][0] != weight:
            seen.append((weight, time.monotonic()))
        return bool(until())

    wait_until("the rollout's end", done, timeout)
    ends = [t for _, t in seen[1:]] + [time.monotonic()]
    return [(w, start, end) for (w, start), end in zip(seen, ends, strict=True)]


def test_the_gateway_gives_the_canary_its_weight_and_no_request_fails(rig: Rig) -> None:
    rig.load.stop()
    rig.load.rate, rig.load.workers = RATE, 6
    rig.load.start()
    body = spec(rig.prometheus.url, "v2")
    body["spec"]["rollout"]["interval"] = "8s"
    mark = rig.load.mark()
    rig.apply(body)
    steps = _steps(rig, lambda: _promoted_and_ready(rig), 240)
    shares = {}
    for weight, start, end in steps:
        if weight == 0:
            continue
        tally = rig.load.window(start, end, SETTLE)
        n = sum(tally.by_track()[t] for t in ("stable", "canary"))
        shares[weight] = (tally.share("canary"), n)
        print(f"step {weight}%: the canary answered {tally.share('canary') * 100:.1f}% of {n} requests")
    assert sorted(shares) == [10, 50, 100], steps
    for weight, (share, n) in shares.items():
        assert n >= 500, f"step {weight}%: only {n} requests"
        assert abs(share * 100 - weight) <= 2, f"step {weight}%: the canary answered {share * 100:.1f}%"
    promoted = rig.load.since(mark)
    assert promoted.failed() == [], promoted.failed()[:5]
    assert set(promoted.by_status()) == {200}, promoted.by_status()
    print(f"promotion: {len(promoted.answers)} requests, statuses {dict(promoted.by_status())}")

    # a bad release: rolled back at its first step; the app's own 500s reach clients, nothing else fails
    mark = rig.load.mark()
    rig.apply(spec(rig.prometheus.url, "v3", ERROR_RATE="0.05"))
    rig.wait_rollout("rolled back", lambda r: r.get("phase") == "RolledBack" and r.get("id") == 2, 120)
    settle = time.monotonic()
    rolled_back = rig.load.since(mark)
    assert rolled_back.failed() == [], rolled_back.failed()[:5]
    errors = [a for a in rolled_back.answers if a.status == 500]
    assert errors and {a.track for a in errors} == {"canary"}, {a.track for a in errors}
    after = rig.load.mark()
    rig.load.wait_answers(300, after, 30)
    tail = rig.load.window(settle, time.monotonic(), SETTLE)
    assert tail.by_track()["canary"] == 0, tail.by_track()
    print(f"rollback: {len(rolled_back.answers)} requests, statuses {dict(rolled_back.by_status())}")


def _get(
    path: str = "/", *, https: bool, client: str = "127.0.0.1", context: ssl.SSLContext | None = None
) -> tuple[int, dict[str, str]]:
    """One request to the gateway for HOST (SNI and Host), from `client`: its status and headers (lower case)."""
    conn: http.client.HTTPConnection
    if https:
        conn = HTTPSConnection(HOST, client, context or ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=5, source_address=(client, 0))
    try:
        conn.request("GET", path, headers={"Host": HOST})
        resp = conn.getresponse()
        resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


@pytest.fixture
def edge_plane(cluster: Cluster, namespace: str, gateway: Traefik) -> Iterator[DataPlane]:
    """Played pods behind the gateway, without analysis (RollingUpdate: nothing to ask Prometheus)."""
    prometheus = Prometheus(cluster.bin_dir).start()
    plane = DataPlane(cluster, namespace, NAME, prometheus).start()
    try:
        yield plane
    finally:
        plane.stop()
        prometheus.close()
        assert not plane.errors, plane.errors


def test_https_redirect_hsts_and_a_per_client_rate_limit_measured_at_the_gateway(
    cluster: Cluster, namespace: str, operator: OperatorProcess, gateway: Traefik, edge_plane: DataPlane
) -> None:
    body = spec("http://127.0.0.1:9")
    body["spec"]["rollout"] = {"strategy": "RollingUpdate"}
    body["spec"]["expose"] = {
        "host": HOST,
        "gateway": gateway_ref(sectionName="https", httpSectionName="http"),
        "tls": {"secretName": "hello-tls"},
        "rateLimit": {"requests": 5, "per": "Second", "scope": "PerProxy", "implementation": "Traefik"},
        # Traefik has no HTTPRoute CORS filter: CORS enforced in the app, by the operator's edge wrapper
        "cors": {"allowOrigins": [ORIGIN], "allowMethods": ["GET", "POST"], "enforcement": "App"},
    }
    apply(cluster, namespace, body)
    wait_ready(cluster, namespace, NAME)
    context = gateway.ssl_context()
    wait_until("the gateway serving the app over HTTPS", lambda: _get(https=True, context=context)[0] == 200, 60)

    # plain HTTP: a 301 to the same URL over https, from the gateway (no pod involved)
    status, headers = _get("/orders?page=2", https=False)
    assert (status, headers.get("location")) == (301, f"https://{HOST}/orders?page=2"), (status, headers)
    assert POD_HEADER not in headers

    # CORS through the gateway, enforced in the app: a preflight from the allowed origin is answered, another
    # origin's is refused; a request ID on every answer from a pod
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    status, headers = _request("OPTIONS", preflight, client="127.0.0.7", context=context)
    assert status == 200 and headers.get("access-control-allow-origin") == ORIGIN, (status, headers)
    assert "POST" in headers.get("access-control-allow-methods", ""), headers
    status, headers = _request("OPTIONS", {**preflight, "Origin": "https://evil.example.net"}, "127.0.0.8", context)
    assert status == 400 and "access-control-allow-origin" not in headers, (status, headers)
    status, headers = _request("GET", {"Origin": ORIGIN}, client="127.0.0.9", context=context)
    assert (status, headers.get("access-control-allow-origin")) == (200, ORIGIN), (status, headers)
    assert headers.get("x-request-id"), headers

    # HTTPS: five client addresses (not the probe's 127.0.0.1), one after the other, each 12 requests as fast as
    # its connection goes: each client gets its own 5 at once (the next client is not limited by the ones
    # before), then 429s from the gateway, and no more than the refill (5 a second) lets through meanwhile; HSTS
    # is on every HTTPS answer, the gateway's 429s included
    for client in [f"127.0.0.{i}" for i in range(2, 7)]:
        started = time.monotonic()
        answers = _burst(12, client, context)
        took = time.monotonic() - started
        statuses = [s for s, _ in answers]
        print(f"client {client}: {statuses} in {took:.2f}s")
        assert statuses[:5] == [200] * 5, (client, statuses)
        assert set(statuses) == {200, 429}, (client, statuses)
        assert statuses.count(200) <= 5 + math.ceil(took * 5), (client, statuses, took)
        assert all(POD_HEADER in h for s, h in answers if s == 200)  # the 200s came from pods
        assert all(POD_HEADER not in h for s, h in answers if s == 429)  # the 429s from the gateway
        hsts = {h.get("strict-transport-security") for _, h in answers}
        assert hsts == {"max-age=31536000"}, (client, hsts)


def _request(method: str, headers: dict[str, str], client: str, context: ssl.SSLContext) -> tuple[int, dict[str, str]]:
    conn = HTTPSConnection(HOST, client, context)
    try:
        conn.request(method, "/", headers={"Host": HOST, **headers})
        resp = conn.getresponse()
        resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def _burst(n: int, client: str, context: ssl.SSLContext) -> list[tuple[int, dict[str, str]]]:
    """`n` requests in a row on one kept-alive HTTPS connection from `client`."""
    conn = HTTPSConnection(HOST, client, context)
    out = []
    try:
        for _ in range(n):
            conn.request("GET", "/", headers={"Host": HOST})
            resp = conn.getresponse()
            resp.read()
            out.append((resp.status, {k.lower(): v for k, v in resp.getheaders()}))
    finally:
        conn.close()
    return out


def test_edge_cors_on_a_gateway_without_the_filter_keeps_the_last_good_route_serving(
    cluster: Cluster, namespace: str, operator: OperatorProcess, gateway: Traefik, edge_plane: DataPlane
) -> None:
    """Traefik does not list HTTPRouteCORS in its GatewayClass' supportedFeatures (its real status) and answers 500
    to every request of a rule with a CORS filter: the operator must never write one there. Clients see nothing of
    it: 0 failed requests while the AsgiService says what is missing and what to use instead."""
    assert "HTTPRouteCORS" not in gateway.supported_features()  # what Traefik itself wrote
    body = spec("http://127.0.0.1:9")
    body["spec"]["rollout"] = {"strategy": "RollingUpdate"}
    apply(cluster, namespace, body)
    wait_ready(cluster, namespace, NAME)
    load = LoadDriver(edge_plane, HOST, rate=50).start()
    try:
        mark = load.mark()
        load.wait_answers(100, mark, 60, track="stable")
        route_before = must_get(cluster, "httproute", NAME, namespace)
        body["spec"]["expose"]["cors"] = {"allowOrigins": [ORIGIN], "enforcement": "Edge"}
        apply(cluster, namespace, body)

        def missing() -> dict[str, Any] | None:
            ready = condition(must_get(cluster, "asgiservice", NAME, namespace), "Ready")
            return ready if ready.get("reason") == "GatewayFeatureMissing" else None

        ready = wait_until("Ready False: GatewayFeatureMissing", missing, 60)
        print(f"the operator says: {ready['message']}")
        assert ready["status"] == "False"
        assert "HTTPRouteCORS" in ready["message"] and "traefik" in ready["message"], ready
        assert "enforcement: App" in ready["message"], ready
        after = load.mark()
        load.wait_answers(200, after, 60)
        route = must_get(cluster, "httproute", NAME, namespace)
        assert route["metadata"]["resourceVersion"] == route_before["metadata"]["resourceVersion"]
        assert "CORS" not in str(route["spec"])

        body["spec"]["expose"]["cors"]["enforcement"] = "App"
        apply(cluster, namespace, body)
        wait_ready(cluster, namespace, NAME)
        preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
        status, _ = wait_until("CORS answered by the app", lambda: _cors_answered(preflight), 60)
        assert status == 200
        served = load.since(mark)
        print(f"{len(served.answers)} requests through it all: {dict(served.by_status())}")
        assert served.failed() == [] and set(served.by_status()) == {200}, served.by_status()
    finally:
        load.stop()


def _cors_answered(headers: dict[str, str]) -> tuple[int, dict[str, str]] | None:
    """A preflight over plain HTTP (this route has no TLS); None until the app's CORS answers it."""
    conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=5)
    try:
        conn.request("OPTIONS", "/", headers={"Host": HOST, **headers})
        resp = conn.getresponse()
        resp.read()
        got = {k.lower(): v for k, v in resp.getheaders()}
        return (resp.status, got) if got.get("access-control-allow-origin") == ORIGIN else None
    finally:
        conn.close()
