"""Answers the operator cannot read unambiguously (issue 21, item 1) and the reasons it gives when Prometheus
gives none (item 2).

An answer with several series for one check, a series for a check not asked, a key or a label set twice, a
result type other than a vector, or one too large to read is never a pass: it is an Error verdict
(UnreadableAnswer) that names what came back, and the step holds until the progress deadline. When Prometheus
cannot be reached, the reason names the address and the error in a few words, never the 2 KB query.

The client and the sampler are driven against the lab's fault server (tests/lab/promfault.py, a real HTTP
server on loopback) with canned answers; the reading of an answer's series is pure."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import urllib3
from prometheus_client import REGISTRY

from asgi_operator.api.models import AsgiServiceSpec, CustomQueries, MetricsProfile, RolloutStatus, SLOSpec
from asgi_operator.api.vocabulary import EventReason, RolloutPhase, Verdict
from asgi_operator.controller import telemetry  # noqa: F401 (registers the operator's metrics)
from asgi_operator.controller.sampling import Sampler
from asgi_operator.controller.settings import Settings
from asgi_operator.prom.answer import MAX_ANSWER_BYTES
from asgi_operator.prom.client import Prometheus, PrometheusPool, PrometheusUnreachable, UnreadableAnswer, essence
from asgi_operator.rollout.analysis import Sample, evaluate
from asgi_operator.rollout.queries import AmbiguousAnswer, RouteCheck, Target, checks, combined, profile_for
from lab.promfault import PromFault

GOOD = [
    {"metric": {"asgi_check": "requests"}, "value": [1700000000, "500"]},
    {"metric": {"asgi_check": "error_rate"}, "value": [1700000000, "0"]},
    {"metric": {"asgi_check": "latency_p99"}, "value": [1700000000, "0.05"]},
]
ANSWER = {"status": "success", "data": {"resultType": "vector", "result": GOOD}}
BASE = ("requests", "error_rate", "latency_p99")


@pytest.fixture
def fault() -> Iterator[PromFault]:
    server = PromFault(upstream=None, canned=ANSWER).start()
    try:
        yield server
    finally:
        server.close()


def ask(fault: PromFault, timeout: float = 2.0) -> list[Any]:
    return Prometheus(fault.url, timeout).query("up")


def unreadable(fault: PromFault) -> str:
    with pytest.raises(UnreadableAnswer) as e:
        ask(fault)
    assert e.value.where == f"{fault.url}/api/v1/query"
    return e.value.what


def body(result: Any, kind: str = "vector") -> bytes:
    return json.dumps({"status": "success", "data": {"resultType": kind, "result": result}}).encode()


# ------------------------------------------------------------------------- the client: one unambiguous vector
@pytest.mark.parametrize(
    ("mode", "options", "what"),
    [
        ("scalar", {"value": "0.5"}, "a scalar, expected a vector"),
        ("raw", {"body": body([[1, "a"]], "string")}, "a string, expected a vector"),
        ("raw", {"body": body([{"metric": {}, "values": [[1, "0"]]}], "matrix")}, "a matrix (range vectors)"),
        ("raw", {"body": b'{"status":"success","data":{"result":[]}}'}, "no result type, expected a vector"),
        (
            "raw",
            {
                "body": b'{"status":"success","data":{"resultType":"vector","result":[{"metric":'
                b'{"asgi_check":"requests","asgi_check":"error_rate"},"value":[1,"0"]}]}}'
            },
            'a JSON object with the key "asgi_check" twice',
        ),
        ("many", {"copies": 2, "keep": 2, "distinct": False}, "3 series with the same labels as another"),
        ("raw", {"body": body([{"metric": {"asgi_check": "requests"}}])}, "a series without a sample"),
        ("raw", {"body": body([{"metric": {"a": 1}, "value": [1, "0"]}])}, "labels are not strings"),
        (
            "raw",
            {"body": body([{"metric": {}, "histogram": [1, {"count": "1", "sum": "1"}]}])},
            "a native histogram, expected a number",
        ),
    ],
)
def test_an_answer_that_is_not_one_plain_vector_is_unreadable(
    fault: PromFault, mode: str, options: dict[str, Any], what: str
) -> None:
    fault.set(mode, **options)
    assert what in unreadable(fault)


def test_a_huge_answer_is_refused_by_its_length_before_it_is_read(fault: PromFault) -> None:
    """The issue's answer: 10,000 series carrying the check labels, about 0.8 MiB."""
    fault.set("many", copies=3334, checks={"error_rate"}, value="0.5", keep=334)
    started = time.monotonic()
    what = unreadable(fault)
    assert re.fullmatch(
        r"an answer of 8\d\d KiB, more than the 256 KiB an analysis reads \(it asks for a handful of series\): "
        r"refused unread",
        what,
    ), what
    assert time.monotonic() - started < 1.5


def test_a_huge_answer_without_a_length_is_cut_at_the_cap(fault: PromFault) -> None:
    fault.set("many", copies=3334, keep=3334, length=False)
    assert unreadable(fault).startswith("an answer of more than the 256 KiB an analysis reads")


def test_an_answer_below_the_cap_is_read_whole(fault: PromFault) -> None:
    """The cap leaves room: an answer of almost 256 KiB is read (the analysis then counts the series)."""
    fault.set("many", copies=900, keep=900)
    size = len(json.dumps(PromFault._spoil(ANSWER, fault.fault, "/")).encode())
    assert 200 * 1024 < size < MAX_ANSWER_BYTES
    assert len(ask(fault)) == 2700


def test_an_error_answer_is_read_only_as_far_as_its_message_needs(fault: PromFault) -> None:
    huge = json.dumps({"status": "error", "errorType": "internal", "error": "y" * (4 * MAX_ANSWER_BYTES)}).encode()
    fault.set("raw", body=huge, raw_status=503, length=False)
    with pytest.raises(PrometheusUnreachable) as e:
        ask(fault)
    assert str(e.value) == f"{fault.url}/api/v1/query: HTTP 503"  # its end, and so its JSON, was never read


# ------------------------------------------------------------------------ reading the series: one per check
def series(*checks_and_values: tuple[str | None, float], extra: dict[str, str] | None = None) -> list[Any]:
    out = []
    for i, (check, value) in enumerate(checks_and_values):
        labels = {"pod": f"p{i}", **(extra or {})}
        if check is not None:
            labels["asgi_check"] = check
        out.append((labels, value))
    return out


def the_issues_answer() -> list[Any]:
    """10,000 series: 3,333 for requests and latency_p99, 3,334 for error_rate of which 3,000 say 0.5 and the
    last 334 say 0: read by its last series per check, a bad canary passes."""
    return series(
        *[("requests", 500.0)] * 3333,
        *[("error_rate", 0.5)] * 3000,
        *[("error_rate", 0.0)] * 334,
        *[("latency_p99", 0.05)] * 3333,
    )


@pytest.mark.parametrize(
    ("answer", "asked", "what"),
    [
        (
            the_issues_answer(),
            BASE,
            "3,333 series for requests, 3,334 for error_rate, 3,333 for latency_p99, expected 1 each",
        ),
        (series(("requests", 500), ("error_rate", 0.5), ("error_rate", 0), ("latency_p99", 0.05)), BASE, None),
        (
            series(("requests", 500), ("error_rate", 0), ("latency_p99", 0.05), *[(None, 0.5)] * 10_000),
            BASE,
            "10,000 series without the asgi_check label",
        ),
        (
            series(("requests", 500), ("error_rate", 0), ("latency_p99", 0.05), ("route_error_rate", 0)),
            BASE,
            "series for checks not asked (1 for 'route_error_rate')",
        ),
        (
            series(("requests", 500), *[(f"c{i}", 0) for i in range(5)]),
            BASE,
            "series for checks not asked (1 for 'c0', 1 for 'c1', 1 for 'c2' and 2 other asgi_check values)",
        ),
    ],
)
def test_series_that_do_not_give_one_number_per_check_are_ambiguous(
    answer: list[Any], asked: tuple[str, ...], what: str | None
) -> None:
    with pytest.raises(AmbiguousAnswer) as e:
        Sample.from_series(answer, None, asked)
    assert str(e.value) == (what or "2 series for error_rate, expected 1")


def test_the_issues_answer_never_passes_a_canary() -> None:
    """On the code before issue 21 this read 0 % errors (the last series) and passed."""
    with pytest.raises(AmbiguousAnswer):
        Sample.from_series(the_issues_answer(), None, BASE)


def test_a_per_route_answer_gives_one_series_per_check_and_is_read() -> None:
    answer = series(
        ("requests", 900),
        ("error_rate", 0.01),
        ("latency_p99", 0.05),
        ("routes_judged", 3),
        ("route_error_rate", 0.2),
        ("route_latency_p99", 0.4),
        extra={"handler": "/checkout"},
    )
    routes = RouteCheck(5, latency=True)
    s = Sample.from_series(answer, "handler", checks(profile_for(MetricsProfile.FASTAPI_INSTRUMENTATOR, None), routes))
    assert (s.requests, s.error_rate, s.routes_judged) == (900, 0.01, 3)
    assert (s.worst_route, s.slowest_route) == (("/checkout", 0.2), ("/checkout", 0.4))
    # the same answer to stable's query (no routes asked): the route series were not asked for
    with pytest.raises(AmbiguousAnswer, match="not asked"):
        Sample.from_series(answer, "handler", checks(profile_for(MetricsProfile.FASTAPI_INSTRUMENTATOR, None)))


CUSTOM = CustomQueries.model_validate(
    {"requests": "r", "errorRate": "e", "latencyP99": "p", "routeLabel": "route", "routeRequests": "rr"}
)


@pytest.mark.parametrize("kind", list(MetricsProfile))
@pytest.mark.parametrize("routes", [None, RouteCheck(5, latency=True), RouteCheck(5, latency=False)])
def test_the_checks_asked_are_the_tags_of_the_combined_query(kind: MetricsProfile, routes: RouteCheck | None) -> None:
    profile = profile_for(kind, CUSTOM if kind == MetricsProfile.CUSTOM else None)
    query = combined(profile, Target("ns", "web", "canary", "r1", "1m"), routes)
    assert tuple(re.findall(r'"asgi_check", "(\w+)"', query)) == checks(profile, routes)
    assert len(checks(profile, routes)) == (3 if routes is None else 5 + routes.latency)


def test_an_unreadable_answer_is_an_error_verdict_of_its_own() -> None:
    r = evaluate(canary=None, slo=SLOSpec(), window="1m", at="t", step=1, weight=10, error="x", unreadable=True)
    assert (r.verdict, r.reason, r.message) == (Verdict.ERROR, EventReason.UNREADABLE_ANSWER, "x")


# ------------------------------------------------------------------------ the sampler: what status will say
SPEC = AsgiServiceSpec.model_validate(
    {"image": "r/i:1", "app": "m:app", "rollout": {"prometheus": {"address": "http://placeholder", "timeout": "1s"}}}
)
ROLLOUT = RolloutStatus(phase=RolloutPhase.PROGRESSING, canary_revision="b", stable_revision="a", canary_weight=10)


def analyse(url: str, spec: AsgiServiceSpec = SPEC) -> Any:
    body = spec.model_dump(by_alias=True, exclude_none=True)
    body["rollout"]["prometheus"]["address"] = url
    sampler = Sampler(PrometheusPool(), Settings(), lambda: datetime(2026, 1, 1, tzinfo=UTC))
    return sampler.analyze("shop", "web", AsgiServiceSpec.model_validate(body), ROLLOUT)


def errors_counted() -> float:
    return REGISTRY.get_sample_value("asgi_operator_prometheus_queries_total", {"outcome": "error"}) or 0.0


@pytest.mark.parametrize(
    ("mode", "options", "what"),
    [
        ("many", {"copies": 3334, "checks": {"error_rate"}, "value": "0.5", "keep": 334}, "more than the 256 KiB"),
        (
            "many",
            {"copies": 30, "checks": {"error_rate"}, "value": "0.5", "keep": 3},
            "30 series for requests, 30 for error_rate, 30 for latency_p99, expected 1 each",
        ),
        ("scalar", {"value": "0.5"}, "a scalar, expected a vector"),
        ("unlabelled", {"copies": 2000, "value": "0.5"}, "2,000 series without the asgi_check label"),
    ],
)
def test_an_unreadable_answer_holds_the_canary_and_says_what_came_back(
    fault: PromFault, mode: str, options: dict[str, Any], what: str
) -> None:
    before = errors_counted()
    fault.set(mode, **options)
    r = analyse(fault.url)
    assert (r.verdict, r.reason) == (Verdict.ERROR, EventReason.UNREADABLE_ANSWER), r.message
    assert r.message.startswith(f"unreadable answer to the canary's query from {fault.url}/api/v1/query: "), r.message
    assert what in r.message
    assert "no request series" not in r.message
    assert errors_counted() == before + 1


def test_stables_unreadable_answer_says_it_was_stables(fault: PromFault) -> None:
    """The canary's query asks for the route checks, stable's does not: the same answer with route series is
    read for the canary and unreadable for stable."""
    body = SPEC.model_dump(by_alias=True, exclude_none=True)
    body["rollout"]["slo"] = {
        "relative": {"maxErrorRateIncrease": 0.01},
        "perRoute": {"maxErrorRate": 0.1, "minRequests": 5},
    }
    routes = [
        {"metric": {"asgi_check": "routes_judged"}, "value": [1, "2"]},
        {"metric": {"asgi_check": "route_error_rate", "handler": "/a"}, "value": [1, "0"]},
    ]
    fault.canned = {"status": "success", "data": {"resultType": "vector", "result": [*GOOD, *routes]}}
    r = analyse(fault.url, AsgiServiceSpec.model_validate(body))
    assert r.reason == EventReason.UNREADABLE_ANSWER
    assert r.message == (
        f"unreadable answer to stable's query from {fault.url}/api/v1/query: series for checks not asked "
        "(1 for 'routes_judged', 1 for 'route_error_rate')"
    )


# ------------------------------------------------------------------------ no answer: the address and the error
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_names_the_address_and_the_error_never_the_query(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.DEBUG, logger="asgi_operator.prom.client"):
        r = analyse(url)
    assert (r.verdict, r.reason) == (Verdict.ERROR, EventReason.PROMETHEUS_UNAVAILABLE)
    assert r.message == f"Prometheus unavailable: {url}/api/v1/query: connection refused"
    # the query (about 1 KB of PromQL here) is in the debug log, for whoever needs it
    assert any("label_replace" in m and 'asgi_dev_track="canary"' in m for m in caplog.messages), caplog.messages


@pytest.mark.parametrize(
    ("mode", "options", "what"),
    [
        ("error", {"status": 503}, "HTTP 503 (unavailable: injected by the fault drill)"),
        ("slow", {"delay": 3}, "timed out: no answer within 1s"),
        ("drip", {"drip_every": 0.2}, "no complete answer within the timeout (1s): it came in too slowly"),
        ("malformed", {}, "an answer that is not JSON"),
    ],
)
def test_no_answer_is_said_in_a_few_words(fault: PromFault, mode: str, options: dict[str, Any], what: str) -> None:
    fault.set(mode, **options)
    r = analyse(fault.url)
    assert r.reason == EventReason.PROMETHEUS_UNAVAILABLE
    assert r.message.startswith(f"Prometheus unavailable: {fault.url}/api/v1/query: {what}"), r.message
    assert len(r.message) < 200 and "query=" not in r.message and "%28" not in r.message, r.message


def test_credentials_in_the_address_are_not_repeated() -> None:
    port = free_port()
    with pytest.raises(PrometheusUnreachable) as e:
        Prometheus(f"http://user:secret@127.0.0.1:{port}/prom", 1).query("up")
    assert str(e.value) == f"http://127.0.0.1:{port}/prom/api/v1/query: connection refused"


def test_a_connection_closed_without_an_answer_is_said_so() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def close_the_next() -> None:
            conn, _ = server.accept()
            conn.recv(65536)
            conn.close()

        threading.Thread(target=close_the_next, daemon=True).start()
        with pytest.raises(PrometheusUnreachable) as e:
            Prometheus(f"http://127.0.0.1:{port}", 2).query("up")
    assert str(e.value) == f"http://127.0.0.1:{port}/api/v1/query: the connection was closed without an answer"


def test_an_error_nobody_foresaw_is_named_by_its_kind_without_the_url() -> None:
    inner = urllib3.exceptions.ProtocolError("something odd at /api/v1/query?query=sum%28x%29")
    error = requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, "/api/v1/query?query=sum%28x%29", reason=inner)  # type: ignore[arg-type]
    )
    assert essence(error, 5) == "ProtocolError: something odd at ..."


def test_a_header_value_outside_latin_1_is_a_credential_problem_said_without_the_value() -> None:
    from asgi_operator.prom.client import Auth, AuthRejected

    with pytest.raises(AuthRejected) as e:
        Prometheus(f"http://127.0.0.1:{free_port()}", 1, Auth(headers=(("X-Org", "s3cr\u00e9t\u2019"),))).query("up")
    assert "not valid in HTTP" in str(e.value) and "s3cr" not in str(e.value)


def test_prometheus_gone_is_connection_refused_even_on_a_kept_alive_connection(fault: PromFault) -> None:
    client = Prometheus(fault.url, 2)
    assert len(client.query("up")) == 3  # the connection is kept alive in the client's pool
    fault.close()
    with pytest.raises(PrometheusUnreachable) as e:
        client.query("up")
    assert str(e.value) == f"{fault.url}/api/v1/query: connection refused"
