"""The Prometheus boundary against a real Prometheus: every query the analysis sends parses, durations leave the
operator in a form Prometheus takes, and the ways of getting no answer are told apart."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from asgi_operator.api.durations import canonical
from asgi_operator.api.models import CustomQueries, MetricsProfile
from asgi_operator.prom.client import Prometheus as Client
from asgi_operator.prom.client import PrometheusUnreachable, QueryRejected
from asgi_operator.rollout.queries import RouteCheck, Target, combined, profile_for
from lab.cluster import Cluster, free_port
from lab.traffic import Prometheus


@pytest.fixture(scope="module")
def prometheus(cluster: Cluster) -> Iterator[Prometheus]:
    prom = Prometheus(cluster.bin_dir).start()
    try:
        yield prom
    finally:
        prom.close()


@pytest.mark.parametrize("written", ["1.5m", "90s", "0.5h", "30s1m", "1h0.5m", "2500ms"])
def test_windows_reach_prometheus_in_a_form_it_parses(prometheus: Prometheus, written: str) -> None:
    client = Client(prometheus.url, 5)
    client.query(f"sum(rate(prometheus_http_requests_total[{canonical(written)}]))")  # no QueryRejected


def test_a_duration_prometheus_cannot_parse_is_a_rejected_query_with_its_message(prometheus: Prometheus) -> None:
    with pytest.raises(QueryRejected) as err:
        Client(prometheus.url, 5).query("sum(rate(prometheus_http_requests_total[1.5m]))")
    assert "rejected the query" in str(err.value)
    assert "parse error" in str(err.value)


CUSTOM = CustomQueries.model_validate(
    {
        "requests": "sum(increase(x_total{ {{ selector }} }[{{ window }}]))",
        "errorRate": "sum(rate(x_total{ {{ selector }},code=~'5..' }[{{ window }}]))"
        " / sum(rate(x_total{ {{ selector }} }[{{ window }}]))",
        "latencyP99": "histogram_quantile(0.99, sum by (le) (rate(x_bucket{ {{ selector }} }[{{ window }}])))",
        "routeLabel": "route",
        "routeRequests": "sum by (route) (increase(x_total{ {{ selector }} }[{{ window }}]))",
        "routeErrorRate": "sum by (route) (rate(x_total{ {{ selector }},code=~'5..' }[{{ window }}]))",
        "routeLatencyP99": "histogram_quantile(0.99, sum by (route, le) "
        "(rate(x_bucket{ {{ selector }} }[{{ window }}])))",
    }
)


@pytest.mark.parametrize("profile", list(MetricsProfile))
@pytest.mark.parametrize("routes", [None, RouteCheck(5, latency=True), RouteCheck(5, latency=False)])
def test_every_analysis_query_parses_and_runs(
    prometheus: Prometheus, profile: MetricsProfile, routes: RouteCheck | None
) -> None:
    target = Target("shop", "web", "canary", "abc", canonical("1.5m"), ("/healthz", "/metrics"))
    query = combined(profile_for(profile, CUSTOM if profile == MetricsProfile.CUSTOM else None), target, routes)
    client = Client(prometheus.url, 5)
    assert client.query(query) == []  # valid PromQL; nothing matches in this Prometheus
    # also evaluated at a past time (the window before a rollout started)
    assert client.query(query, datetime.now(UTC) - timedelta(minutes=1)) == []


def test_nothing_listening_is_unreachable_not_rejected() -> None:
    with pytest.raises(PrometheusUnreachable):
        Client(f"http://127.0.0.1:{free_port()}", 2).query("up")


class _Answer(http.server.BaseHTTPRequestHandler):
    status = 503
    body = b""

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("status", "body"),
    [(503, b'{"status":"error","error":"overloaded"}'), (200, b"<html>a proxy's login page</html>"), (200, b"{}")],
)
def test_server_errors_and_garbage_are_unreachable_never_an_empty_answer(status: int, body: bytes) -> None:
    handler = type("Answer", (_Answer,), {"status": status, "body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(PrometheusUnreachable):
            Client(f"http://127.0.0.1:{server.server_address[1]}", 2).query("up")
    finally:
        server.shutdown()
        server.server_close()
