"""Bad input is never a crash loop (issue 14): a reconcile that raises for an unexpected reason is caught, told in
status (Ready=False, ReconcileError, not Stalled) and in one Warning event (type and message, no traceback), counted
in asgi_operator_reconcile_errors_total{reason}, and retried with a bounded backoff that resets on success. An API
server that does not answer at all is waited out by one probe, not by every object's own backoff.

The reconciler runs for real on a stand-in API (the kube layer is the only thing replaced); the dependency that
raises is injected."""

from __future__ import annotations

import asyncio
import copy
import itertools
import socket
from typing import Any, cast

import pytest
import yaml
from kubernetes import client
from prometheus_client import REGISTRY

from asgi_operator.api.kinds import ASGI_SERVICE, Kind
from asgi_operator.controller.problems import problem_of
from asgi_operator.controller.queue import Key, WorkQueue
from asgi_operator.controller.reachability import WaitForApi
from asgi_operator.controller.reconciler import ApiUnavailable, Reconciler, RetryableError
from asgi_operator.controller.settings import Settings
from asgi_operator.controller.store import Store
from asgi_operator.kube.api import ApiError, ApiUnreachable, KubeApi
from asgi_operator.routers import owned_kinds
from integration.helpers import EXAMPLES

KEY: Key = ("ns", "hello")


def asgi_service() -> dict[str, Any]:
    body = dict(yaml.safe_load((EXAMPLES / "hello.yaml").read_text()))
    body["metadata"].update(namespace="ns", uid="0123456789abcdef", resourceVersion="7", generation=2)
    body["status"] = {
        "observedGeneration": 1,
        "replicas": 3,
        "readyReplicas": 3,
        "stableRevision": "abc",
        "rollout": {"id": 1, "phase": "Idle", "stableRevision": "abc", "eventSeq": 4},
    }
    return body


class StandInApi:
    """The few API operations a failing pass reaches, answering like the API server; `served` is the injected
    dependency (it raises whatever the test gives it)."""

    def __init__(self, served: BaseException | None = None, get: BaseException | None = None) -> None:
        self.raise_on_served = served
        self.raise_on_get = get
        self.statuses: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.version = 7

    def served(self, kind: Kind) -> bool:
        if self.raise_on_served is not None:
            raise self.raise_on_served
        return True

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        if self.raise_on_get is not None:
            raise self.raise_on_get
        return None

    def replace_status(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
        """The whole object back, with the new status and resourceVersion (as the API server answers)."""
        self.version += 1
        self.statuses.append(copy.deepcopy(body["status"]))
        live = asgi_service()
        live["metadata"]["resourceVersion"] = str(self.version)
        return {**live, "status": body["status"]}

    def create(self, kind: Kind, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        self.events.append(body)
        return body


def reconciler(api: StandInApi, body: dict[str, Any] | None = None) -> tuple[Reconciler, Store]:
    store = Store(owned_kinds())
    if body is not None:
        store.put(body)
    return Reconciler(cast(KubeApi, api), Settings(), store), store


def errors(reason: str) -> float:
    return REGISTRY.get_sample_value("asgi_operator_reconcile_errors_total", {"reason": reason}) or 0.0


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_an_unexpected_exception_becomes_a_condition_an_event_and_a_counted_retry() -> None:
    api = StandInApi(served=KeyError("listenerSet"))
    rec, _ = reconciler(api, asgi_service())
    before = errors("ReconcileError")

    with pytest.raises(RetryableError) as raised:
        rec.reconcile(KEY)

    assert raised.value.reason == "ReconcileError"
    assert errors("ReconcileError") == before + 1
    [status] = api.statuses
    c = conditions(status)
    assert (c["Ready"]["status"], c["Ready"]["reason"]) == ("False", "ReconcileError")
    assert "KeyError: 'listenerSet'" in c["Ready"]["message"]
    assert "Traceback" not in c["Ready"]["message"]
    assert (c["Stalled"]["status"], c["Reconciling"]["status"]) == ("False", "True")  # retried, not stuck
    # nothing status said is lost: the rollout's position and the replica counts stay
    assert asgi_service()["status"]["rollout"].items() <= status["rollout"].items()
    assert (status["replicas"], status["readyReplicas"], status["stableRevision"]) == (3, 3, "abc")
    assert status["observedGeneration"] == 2
    [event] = api.events
    assert (event["type"], event["reason"]) == ("Warning", "ReconcileError")
    assert "KeyError" in event["message"] and "Traceback" not in event["message"]

    # the same failure again: counted again, but status says it already and no second event is posted
    with pytest.raises(RetryableError):
        rec.reconcile(KEY)
    assert errors("ReconcileError") == before + 2
    assert len(api.statuses) == 1 and len(api.events) == 1


def test_an_api_error_escaping_the_pass_is_reported_once_it_outlived_its_retry_not_a_traceback() -> None:
    api = StandInApi(served=ApiError(503, "ServiceUnavailable", "the server is shutting down", "GET", "/apis"))
    rec, _ = reconciler(api, asgi_service())
    before = errors("ApiError")
    with pytest.raises(RetryableError) as raised:
        rec.reconcile(KEY)
    assert raised.value.reason == "ApiError"
    assert errors("ApiError") == before + 1
    # the API server's passing trouble: retried first, Ready untouched and no event
    assert api.statuses == [] and api.events == []
    with pytest.raises(RetryableError):
        rec.reconcile(KEY)  # the retry fails too: now it is told
    assert errors("ApiError") == before + 2
    ready = conditions(api.statuses[0])["Ready"]
    assert (ready["reason"], ready["message"]) == ("ApiError", "503 ServiceUnavailable: the server is shutting down")
    [event] = api.events
    assert (event["type"], event["reason"]) == ("Warning", "ApiError")


def test_a_transient_error_the_retry_gets_past_is_never_told() -> None:
    """Each failure is followed by a pass that gets through (here: the AsgiService is gone, nothing to do), so no
    transient error outlives its retry: nothing is written, however often it happens."""
    api = StandInApi(served=ApiError(500, "InternalError", "etcdserver: request timed out", "GET", "/apis"))
    rec, store = reconciler(api, asgi_service())
    for _ in range(3):
        store.put(asgi_service())
        with pytest.raises(RetryableError):
            rec.reconcile(KEY)
        store.remove(ASGI_SERVICE.kind, "ns", "hello")
        rec.reconcile(KEY)  # gets through
    assert api.statuses == [] and api.events == []


def test_a_problem_that_is_no_passing_trouble_is_told_at_once() -> None:
    """A conflict, a timeout, throttling and any 5xx may pass by themselves; anything else (a 400, a 404) is told at
    the first failure, as are a missing permission, an admission refusal and an unexpected exception."""
    for status, transient in ((408, True), (409, True), (429, True), (500, True), (504, True), (400, False)):
        assert problem_of(ApiError(status, "R", "m", "PATCH", "/x")).transient is transient, status
    api = StandInApi(served=ApiError(404, "NotFound", "the server could not find the requested resource", "GET", "/"))
    rec, _ = reconciler(api, asgi_service())
    with pytest.raises(RetryableError):
        rec.reconcile(KEY)
    assert conditions(api.statuses[0])["Ready"]["reason"] == "ApiError" and len(api.events) == 1


def test_no_answer_from_the_api_server_writes_nothing_and_waits_for_it() -> None:
    refused = ApiUnreachable("GET", "/apis", ConnectionRefusedError(111, "Connection refused"))
    api = StandInApi(served=refused)
    rec, _ = reconciler(api, asgi_service())
    before = errors("ApiUnreachable")
    with pytest.raises(ApiUnavailable) as raised:
        rec.reconcile(KEY)
    assert "Connection refused" in str(raised.value)
    assert errors("ApiUnreachable") == before + 1
    assert api.statuses == [] and api.events == []


def test_a_failed_read_of_the_asgiservice_itself_is_retried() -> None:
    # a kind the store does not keep (its LIST was refused) is read from the API server
    api = StandInApi(get=ApiError(500, "InternalError", "etcd timed out", "GET", "/apis/asgi.dev"))
    rec, store = reconciler(api)
    store.unlisted.add((ASGI_SERVICE.api_version, ASGI_SERVICE.kind))
    with pytest.raises(RetryableError) as raised:
        rec.reconcile(KEY)
    assert raised.value.reason == "ApiError"
    api.raise_on_get = ApiUnreachable("GET", "/apis", TimeoutError("timed out"))
    with pytest.raises(ApiUnavailable):
        rec.reconcile(KEY)


def test_a_refused_connection_is_api_unreachable_with_its_reason() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    configuration = client.Configuration(host=f"http://127.0.0.1:{port}")
    configuration.retries = 0
    api = KubeApi(client.ApiClient(configuration), timeout=2)
    with pytest.raises(ApiUnreachable) as raised:
        api.request("GET", "/readyz")
    assert "Connection refused" in str(raised.value) and "GET /readyz" in str(raised.value)
    assert isinstance(raised.value, OSError)  # still a transport error for the CLI's handling
    assert api.reachable() is False


def test_objects_waiting_for_the_api_server_run_once_it_is_ready() -> None:
    async def body() -> None:
        answers = [False, False, True]
        probes: list[float] = []
        resumed: list[Key] = []
        loop = asyncio.get_running_loop()

        async def probe() -> bool:
            probes.append(loop.time())
            return answers.pop(0)

        done = asyncio.Event()

        def resume(key: Key) -> None:
            resumed.append(key)
            done.set()

        waiting = WaitForApi(probe, resume, delays=(0.01, 0.02))
        waiting.park(("ns", "b"), "refused")
        waiting.park(("ns", "a"), "refused")  # one probe for all of them
        waiting.park(("ns", "b"), "refused")
        async with asyncio.timeout(5):
            await done.wait()
        await asyncio.sleep(0)  # the rest of the parked keys are resumed in the same step
        assert resumed == [("ns", "a"), ("ns", "b")]  # each once
        assert len(probes) == 3
        assert probes[2] - probes[1] >= 0.02  # the last delay repeats
        assert waiting.parked == set()
        await waiting.stop()

    asyncio.run(body())


def test_the_backoff_of_a_failing_object_resets_after_a_success() -> None:
    async def body() -> None:
        runs: list[float] = []
        results: list[Exception | None] = [RetryableError("x"), RetryableError("x"), None, RetryableError("x"), None]
        loop = asyncio.get_running_loop()
        queue: WorkQueue

        five = asyncio.Event()

        async def work(key: Key) -> float | None:
            runs.append(loop.time())
            if len(runs) == 5:
                five.set()
            result = results.pop(0)
            if result is not None:
                raise result
            queue.succeeded(key)  # as the controller does after a reconcile that did not raise
            return None if not results else 0.0

        queue = WorkQueue(work, concurrency=1, base_backoff=0.05, max_backoff=1.0)
        queue.start()
        queue.enqueue(KEY)
        async with asyncio.timeout(5):
            await five.wait()
        await queue.stop()
        gaps = [b - a for a, b in itertools.pairwise(runs)]
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # 1x, 2x
        assert 0.05 <= gaps[3] < 0.1  # after the success: 1x again, not 4x

    asyncio.run(body())


def test_an_api_server_answering_ok_on_readyz_is_reachable() -> None:
    import http.server
    import threading

    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/readyz"
            self.send_response(200 if ok else 500)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if ok else b"[-]etcd failed")

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = KubeApi(client.ApiClient(client.Configuration(host=f"http://127.0.0.1:{server.server_address[1]}")))
        assert api.reachable() is True
    finally:
        server.shutdown()
        server.server_close()


def test_a_probe_that_raises_keeps_the_objects_waiting() -> None:
    async def body() -> None:
        answers: list[bool | Exception] = [ValueError("not JSON"), True]
        resumed: list[Key] = []

        async def probe() -> bool:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

        done = asyncio.Event()

        def resume(key: Key) -> None:
            resumed.append(key)
            done.set()

        waiting = WaitForApi(probe, resume, delays=(0.01,))
        waiting.park(KEY, "refused")
        async with asyncio.timeout(5):
            await done.wait()
        assert resumed == [KEY]

    asyncio.run(body())


class Posting:
    def __init__(self, error: ApiError) -> None:
        self.error = error

    def create(self, kind: Kind, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        raise self.error


def test_a_named_event_is_taken_as_posted_only_when_it_already_exists() -> None:
    from asgi_operator.kube.events import EventSpec, post_event

    owner = asgi_service()
    event = EventSpec("StepStarted", "step 1/3", name="hello.01234567.5")
    exists = ApiError(409, "AlreadyExists", 'events "hello.01234567.5" already exists', "POST", "/api/v1/events")
    post_event(cast(KubeApi, Posting(exists)), owner, event)  # posted before a restart: exactly once
    conflict = ApiError(409, "Conflict", "Operation cannot be fulfilled", "POST", "/api/v1/events")
    with pytest.raises(ApiError):  # not posted: must be tried again, never taken as done
        post_event(cast(KubeApi, Posting(conflict)), owner, event)
