"""The operator's log configuration (`asgi-operator run`): Kopf's request retries during an API outage are not
errors. Here Kopf's own log handler and format with its exact wording (kopf._cogs.clients.api.request); the real
outage is in tests/integration/test_drills_api.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from asgi_operator.__main__ import configure_logging

WHAT = "GET https://127.0.0.1:6443/apis/apiextensions.k8s.io/v1/customresourcedefinitions?watch=true"
REFUSED = "ClientConnectorError(ConnectionKey(host='127.0.0.1', port=6443), ConnectionRefusedError(111))"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root, objects = logging.getLogger(), logging.getLogger("kopf.objects")
    saved = (root.handlers[:], root.level, objects.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    objects.setLevel(saved[2])


def outage(logger: str = "kopf._cogs.clients.watching") -> None:
    """What Kopf logs for a watch whose API server is gone for a while, and one that gives up."""
    log = logging.getLogger(logger)
    for attempt in range(1, 5):
        log.error(f"Request attempt #{attempt}/9 failed; will retry: {WHAT} -> {REFUSED}")
    log.error(f"Request attempt #9/9 failed; escalating: {WHAT} -> {REFUSED}")
    log.error("Something else went wrong: not a retry")


def test_expected_retries_are_no_errors_and_the_last_failure_still_is(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("full", verbose=False)
    outage()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("] ", 2)[1:] for line in lines] == [
        ["kopf._cogs.clients.w [INFO    ", f"Request attempt #1/9 failed; will retry: {WHAT} -> {REFUSED}"],
        ["kopf._cogs.clients.w [ERROR   ", f"Request attempt #9/9 failed; escalating: {WHAT} -> {REFUSED}"],
        ["kopf._cogs.clients.w [ERROR   ", "Something else went wrong: not a retry"],
    ]


def test_with_verbose_every_retry_is_shown_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("full", verbose=True)
    outage("kopf._core.engines.peering")
    levels = [line.split("[", 2)[2].split("]")[0].strip() for line in capsys.readouterr().err.splitlines()]
    assert levels == ["INFO", "DEBUG", "DEBUG", "DEBUG", "ERROR", "ERROR"]


def test_the_json_format_carries_the_lowered_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", verbose=False)
    outage()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and '"severity": "info"' in lines[0] and '"severity": "error"' in lines[1]
