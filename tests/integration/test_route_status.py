"""A route the gateway did not accept is said out loud, held (not an error), and a canary on it never promotes.

The lab has no gateway controller: this test plays it, writing the generated HTTPRoute's status.parents with
`kubectl --subresource=status` as a real one would. Everything else is the canary rig of test_canary_e2e (real
operator process, real Uvicorn processes, real Prometheus, a load driver splitting requests by the route's
weights), so the canary's analysis WOULD pass: only the route's status holds it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from asgi_operator.cli.outcome import Exit
from integration.helpers import condition, events_for, must_get, wait_until
from integration.test_canary_e2e import NAME, Rig, rig, spec
from integration.test_plugin_ci import kubectl_asgi

__all__ = ["rig"]  # the fixture, shared with test_canary_e2e

PLAYED_CONTROLLER = "example.com/played-gateway"


def play_gateway(r: Rig, accepted: bool, reason: str, message: str) -> None:
    """Write what a gateway controller writes for the route's parentRef (the Gateway `public`)."""
    route = must_get(r.cluster, "httproute", NAME, r.namespace)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = {
        "parents": [
            {
                "parentRef": route["spec"]["parentRefs"][0],
                "controllerName": PLAYED_CONTROLLER,
                "conditions": [
                    {
                        "type": "Accepted",
                        "status": "True" if accepted else "False",
                        "reason": reason,
                        "message": message,
                        "lastTransitionTime": now,
                        "observedGeneration": route["metadata"]["generation"],
                    },
                    {
                        "type": "ResolvedRefs",
                        "status": "True",
                        "reason": "ResolvedRefs",
                        "message": "",
                        "lastTransitionTime": now,
                        "observedGeneration": route["metadata"]["generation"],
                    },
                ],
            }
        ]
    }
    r.cluster.kubectl(
        "patch",
        "httproute",
        NAME,
        "-n",
        r.namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def _ready(r: Rig) -> dict[str, Any]:
    return condition(r.asvc(), "Ready")


def _assert_held(r: Rig, phase: str) -> None:
    """Held by the gateway: Reconciling with its reason, never Stalled, `phase`; and `kubectl asgi status` says it
    is still going: exit 0 at once, and with --timeout it waits (4 at the deadline), never 3 (failed)."""
    asvc = r.asvc()
    assert asvc["status"]["phase"] == phase, asvc["status"]
    reconciling, stalled = condition(asvc, "Reconciling"), condition(asvc, "Stalled")
    assert (reconciling["status"], reconciling["reason"]) == ("True", "RouteNotAccepted"), reconciling
    assert stalled["status"] == "False", stalled
    now = kubectl_asgi(r.cluster, r.namespace, "status", NAME)
    assert now.returncode == Exit.OK, now.stdout + now.stderr
    assert f"Phase:       {phase}  (Ready=False: held until the gateway accepts the route" in now.stdout, now.stdout
    waited = kubectl_asgi(r.cluster, r.namespace, "status", NAME, "--timeout", "3s")
    assert waited.returncode == Exit.TIMEOUT, waited.stdout + waited.stderr


def test_a_route_the_gateway_refused_is_a_condition_and_its_canary_never_promotes(rig: Rig) -> None:
    r = rig
    message = "no listener of Gateway public allows routes from this namespace"
    play_gateway(r, False, "NotAllowedByListeners", message)

    # within one reconcile (the route's status change wakes the AsgiService): Ready False with the gateway's own
    # reason and message, and a Warning event. Held, not an error: Reconciling True, never Stalled, the phase of a
    # rollout going on
    wait_until(
        "Ready False with the gateway's reason",
        lambda: _ready(r).get("reason") == "RouteNotAccepted" and "NotAllowedByListeners" in _ready(r)["message"],
        timeout=20,
    )
    assert message in _ready(r)["message"]
    _assert_held(r, "Deploying")
    wait_until(
        "a Warning event naming the gateway's reason",
        lambda: [
            e
            for e in events_for(r.cluster, r.namespace, NAME)
            if e["reason"] == "RouteNotAccepted" and e["type"] == "Warning" and "NotAllowedByListeners" in e["message"]
        ],
        timeout=20,
    )

    # a new revision: its canary holds at step 1 with the gateway's reason, analysis after analysis
    r.apply(spec(r.prometheus.url, version="v2"))
    held: set[str] = set()

    def held_twice() -> bool:
        rollout = r.rollout()
        last = rollout.get("lastAnalysis") or {}
        assert rollout.get("phase") != "Promoting", rollout
        assert rollout.get("stepIndex", 0) == 0, rollout  # never advances
        if last.get("reason") == "RouteNotAccepted":
            assert last["verdict"] == "Error", last
            held.add(last["at"])
        return len(held) >= 2 and rollout.get("reason") == "RouteNotAccepted"

    wait_until("two analyses held by the refused route", held_twice, timeout=60)
    assert "NotAllowedByListeners" in r.rollout()["message"]
    assert r.load.sent["canary"] > 0  # the traffic was there: only the route's status held the canary
    _assert_held(r, "Canary")
    warnings = [e for e in events_for(r.cluster, r.namespace, NAME) if e["reason"] == "RouteNotAccepted"]
    assert len(warnings) == 1, warnings  # told once, not at every analysis

    # the gateway accepts the route: the condition clears and the same canary is promoted
    play_gateway(r, True, "Accepted", "")
    r.wait_promoted("promoted once the gateway accepted the route", timeout=120)
    assert _ready(r)["status"] == "True"
