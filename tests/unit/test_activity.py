"""Which replica of an HA pair acts (issue 14, drill 4): Kopf's peering rule, and the gate that keeps a paused
replica's own wake-ups (a rollout's next analysis, a retry) from reconciling on a store that no longer changes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from asgi_operator.controller.activity import Activity, is_active
from asgi_operator.kube.api import ApiError

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


def peer(priority: int, seen_ago: float = 1, lifetime: int = 10) -> dict[str, Any]:
    lastseen = (NOW - timedelta(seconds=seen_ago)).isoformat()
    return {"priority": priority, "lifetime": lifetime, "lastseen": lastseen}


@pytest.mark.parametrize(
    ("peers", "active"),
    [
        ({"me": peer(100)}, True),
        ({"me": peer(100), "b": peer(50)}, True),  # the higher priority acts
        ({"me": peer(50), "a": peer(100)}, False),  # the lower one pauses
        ({"me": peer(50), "a": peer(100, seen_ago=11)}, True),  # ... until the other is presumed dead
        ({"me": peer(50), "a": peer(100, seen_ago=10)}, True),  # dead at lastseen + lifetime exactly (Kopf)
        ({"me": peer(50), "a": peer(50)}, False),  # the same priority: all pause (Kopf)
        ({}, True),
        ({"me": peer(50), "a": "garbage"}, True),
    ],
)
def test_kopfs_rule(peers: Mapping[str, Any], active: bool) -> None:
    assert is_active(peers, "me", peers.get("me", peer(50))["priority"] if "me" in peers else 50, NOW) is active


class Peering:
    def __init__(self) -> None:
        self.status: dict[str, Any] = {"me": peer(50)}
        self.reads = 0
        self.fail = False

    def read(self) -> list[Mapping[str, Any]]:
        self.reads += 1
        if self.fail:
            raise ApiError(503, "Service Unavailable", "down", "GET", "/x")
        return [self.status]


def gate(peering: Peering, clock: list[float]) -> Activity:
    return Activity(peering.read, "me", 50, ttl=1.0, clock=lambda: NOW, monotonic=lambda: clock[0])


def test_a_paused_replica_parks_its_wake_ups_and_runs_them_once_active() -> None:
    peering, clock = Peering(), [0.0]
    activity = gate(peering, clock)
    assert activity.admit(("ns", "web"))
    peering.status["a"] = peer(100)  # the higher priority is back: this one pauses
    clock[0] = 1.5
    assert not activity.admit(("ns", "web"))  # a timer of the rollout fired while paused: not run
    assert not activity.admit(("ns", "api"))
    assert activity.resumed() == []  # still paused (the verdict is cached for ttl)
    del peering.status["a"]
    clock[0] = 3.0
    assert activity.resumed() == [("ns", "api"), ("ns", "web")]
    assert activity.resumed() == []


def test_the_peering_object_is_read_at_most_once_per_ttl() -> None:
    peering, clock = Peering(), [0.0]
    activity = gate(peering, clock)
    for _ in range(100):
        activity.active()
    assert peering.reads == 1
    clock[0] = 1.0
    activity.active()
    assert peering.reads == 2


def test_an_unreadable_peering_object_keeps_the_last_verdict() -> None:
    peering, clock = Peering(), [0.0]
    activity = gate(peering, clock)
    assert activity.active()
    peering.fail, clock[0] = True, 2.0
    assert activity.active()
    fresh = gate(peering, [0.0])
    assert not fresh.active()  # never known: not active (a standby never acts on a guess)


def test_standalone_is_always_active() -> None:
    activity = Activity(None, "me", 0)
    assert activity.admit(("ns", "web")) and activity.parked == set()
    assert activity.standalone  # the controller skips asking (no thread hop per reconcile)
    assert not Activity(lambda: [], "me", 0).standalone
