"""The canary's promise, measured where users meet it: at a REAL gateway.

Traefik (tests/lab/gateway.py) carries every request; the operator only writes the HTTPRoute. The load driver
counts which pod answered each request (tests/lab/load.py), so the shares below are what clients received, not
what the route says. Each step runs long enough for 500+ requests; Traefik's weighted round robin is exact, so
the canary's share must be within 2 points of the step's weight.
"""

from __future__ import annotations

import time
from typing import Any

from integration.helpers import wait_until
from integration.test_canary_e2e import NAME, Rig, _promoted_and_ready, rig, spec
from lab.load import Answer, Tally

__all__ = ["rig"]  # the fixture, shared with test_canary_e2e

SETTLE = 0.5  # seconds after the route changed before its weights count: the gateway applies them in 0.1-0.3 s
RATE = 150.0  # requests a second: an 8 s step gives over 1,000


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


def _window(answers: list[Answer], start: float, end: float) -> Tally:
    return Tally([a for a in answers if start + SETTLE <= a.at < end])


def test_the_gateway_gives_the_canary_its_weight_and_no_request_fails(rig: Rig) -> None:
    rig.load.stop()
    rig.load.rate, rig.load.workers = RATE, 6
    rig.load.start()
    body = spec(rig.prometheus.url, "v2")
    body["spec"]["rollout"]["interval"] = "8s"
    mark = rig.load.mark()
    rig.apply(body)
    steps = _steps(rig, lambda: _promoted_and_ready(rig), 240)
    answers = rig.load.since(mark).answers
    shares = {}
    for weight, start, end in steps:
        if weight == 0:
            continue
        tally = _window(answers, start, end)
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
    tail = _window(rig.load.since(after).answers, settle, time.monotonic())
    assert tail.by_track()["canary"] == 0, tail.by_track()
    print(f"rollback: {len(rolled_back.answers)} requests, statuses {dict(rolled_back.by_status())}")
