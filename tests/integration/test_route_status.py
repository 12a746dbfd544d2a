"""A route the gateway did not accept is said out loud, held (not an error), and a canary on it never promotes.

The gateway is the lab's real one (Traefik): the AsgiService names a listener the Gateway does not have, and
Traefik refuses the route as any conformant gateway does (Accepted False, NoMatchingParent), writing that into
the route's status.parents; no request reaches the app meanwhile. Everything else is the canary rig of
test_canary_e2e (real operator process, played pods, real Prometheus, clients through the gateway). Naming the
right listener again is a spec change without a new revision: the route is accepted and the same canary goes on.
"""

from __future__ import annotations

from typing import Any

from asgi_operator.cli.outcome import Exit
from integration.helpers import condition, events_for, wait_until
from integration.test_canary_e2e import NAME, Rig, rig, spec
from integration.test_plugin_ci import kubectl_asgi
from lab.load import GATEWAY

__all__ = ["rig"]  # the fixture, shared with test_canary_e2e

MISSING_LISTENER = "no-such-listener"


def on_listener(body: dict[str, Any], section: str | None) -> dict[str, Any]:
    """The AsgiService attached to a listener of the lab's Gateway (None: the Gateway as a whole)."""
    gateway = body["spec"]["expose"]["gateway"]
    gateway.pop("sectionName", None)
    if section is not None:
        gateway["sectionName"] = section
    return body


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
    r.apply(on_listener(spec(r.prometheus.url), MISSING_LISTENER))

    # within one reconcile (the route's status change wakes the AsgiService): Ready False with the gateway's own
    # reason and message, and a Warning event. Held, not an error: Reconciling True, never Stalled, the phase of a
    # rollout going on
    wait_until(
        "Ready False with the gateway's reason",
        lambda: _ready(r).get("reason") == "RouteNotAccepted" and "NoMatchingParent" in _ready(r)["message"],
        timeout=30,
    )
    print(f"Traefik's words: {_ready(r)['message']}")
    _assert_held(r, "Deploying")
    mark = r.load.mark()
    tally = r.load.wait_answers(50, mark, 30)
    assert set(tally.by_track()) == {GATEWAY} and set(tally.by_status()) == {404}, tally.by_status()
    wait_until(
        "a Warning event naming the gateway's reason",
        lambda: [
            e
            for e in events_for(r.cluster, r.namespace, NAME)
            if e["reason"] == "RouteNotAccepted" and e["type"] == "Warning" and "NoMatchingParent" in e["message"]
        ],
        timeout=20,
    )

    # a new revision: its canary holds at step 1 with the gateway's reason, analysis after analysis
    r.apply(on_listener(spec(r.prometheus.url, version="v2"), MISSING_LISTENER))
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
    assert "NoMatchingParent" in r.rollout()["message"]
    _assert_held(r, "Canary")
    warnings = [e for e in events_for(r.cluster, r.namespace, NAME) if e["reason"] == "RouteNotAccepted"]
    assert len(warnings) == 1, warnings  # told once, not at every analysis

    # the listener named right again (the same revision): the gateway accepts the route, the condition clears and
    # the same canary is promoted
    canary = r.rollout()["canaryRevision"]
    r.apply(on_listener(spec(r.prometheus.url, version="v2"), None))
    r.wait_promoted("promoted once the gateway accepted the route", timeout=120)
    assert _ready(r)["status"] == "True"
    assert r.rollout()["stableRevision"] == canary
