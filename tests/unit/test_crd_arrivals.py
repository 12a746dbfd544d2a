"""A CRD appearing while the operator runs wakes everything only once the API server serves its kinds (the
Established condition comes a moment before discovery lists the resource): a "not served" heard in between is
asked again, never kept. The lab test is tests/integration/test_crd_appears.py; here the timing, on a stand-in
for the discovery answers."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from asgi_operator.api.kinds import CERTIFICATE, POD_MONITOR, Kind
from asgi_operator.controller import crds
from asgi_operator.controller.crds import CrdArrivals
from asgi_operator.kube.api import ApiError, KubeApi


class Discovery:
    """Answers "not served" `late` times (one a 503), then served; counts forgets."""

    def __init__(self, late: int) -> None:
        self.late, self.asked, self.forgotten = late, 0, 0

    def served(self, kind: Kind) -> bool:
        self.asked += 1
        if self.asked == 2:
            raise ApiError(503, "ServiceUnavailable", "try again", "GET", "/apis")
        return self.asked > self.late

    def forget_discovery(self, group: str) -> None:
        self.forgotten += 1


def run(late: int, *calls: tuple[str, str, list[str]]) -> tuple[Discovery, list[tuple[str, int]]]:
    discovery = Discovery(late)
    woken: list[tuple[str, int]] = []

    async def main() -> None:
        arrivals = CrdArrivals(
            cast(KubeApi, discovery), (POD_MONITOR, CERTIFICATE), lambda g: woken.append((g, discovery.asked))
        )
        for group, plural, versions in calls:
            arrivals.appeared(group, plural, versions)
        for _ in range(200):
            if woken:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # nothing more comes

    asyncio.run(main())
    return discovery, woken


def test_everything_is_woken_once_the_kind_is_served_not_before() -> None:
    crd = ("monitoring.coreos.com", "podmonitors", ["v1"])
    discovery, woken = run(3, crd, crd)  # the CRD's ADDED, then its Established MODIFIED: one wait
    assert woken == [("monitoring.coreos.com", 4)]  # after the 4th discovery answer, the first that serves it
    assert discovery.forgotten == 4  # each try asks the API server again


def test_a_crd_of_no_kind_the_operator_keeps_wakes_at_once() -> None:
    discovery, woken = run(3, ("monitoring.coreos.com", "servicemonitors", ["v1"]))
    assert woken == [("monitoring.coreos.com", 0)] and discovery.asked == 0
    # nor a version the operator does not use
    discovery, woken = run(3, ("cert-manager.io", "certificates", ["v1alpha2"]))
    assert woken == [("cert-manager.io", 0)]


def test_a_kind_never_served_wakes_everything_after_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crds, "SERVED_WAIT", 0.3)
    discovery, woken = run(10**6, ("cert-manager.io", "certificates", ["v1"]))
    assert len(woken) == 1 and 2 < discovery.asked < 20
