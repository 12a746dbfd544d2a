"""Drill 4 of issue 14: the HA pair (two operator processes with Kopf peering, as in test_ha) mid-canary.

(a) the active replica is SIGKILLed: the standby takes over (time measured) and finishes the rollout;
(b) the active replica is SIGSTOPped (a frozen leader): the standby takes over (time measured) and moves the
    rollout on; (c) the frozen one is SIGCONTinued: being the higher priority it becomes the active one again,
    the other pauses. Nothing conflicting is written: no status regression (the position only ever moves
    forward), no duplicate or missing step event, a stale write of the resumed one is refused with 409 (status
    writes carry the resourceVersion they were decided on), and the paused replica writes nothing at all, timers
    of its own rollout queue included (a paused replica's own watches go on feeding its store, and its
    rollout wake-ups go on firing: controller.activity holds every reconcile).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration.conftest import identity, operator_rules
from integration.helpers import apply, wait_ready, wait_until
from integration.operator_proc import OperatorProcess
from integration.test_canary_e2e import HOST, NAME, PROMOTED, Rig, reasons, spec
from lab.cluster import REPO, Cluster
from lab.dataplane import DataPlane
from lab.load import LoadDriver
from lab.traffic import Prometheus

PEERING_RULES = yaml.safe_load((REPO / "charts/asgi-operator/files/peering-rules.yaml").read_text())
LIFETIME = 10
# a rollout (by id) moves Progressing -> Promoting -> a final phase; the next one has a higher id
PHASES = {"Progressing": 1, "Promoting": 2, "Idle": 3, "RolledBack": 3, "Failed": 3}

pytestmark = pytest.mark.usefixtures("gateway")  # the canary's traffic goes through the lab's real gateway


@dataclass(frozen=True)
class Write:
    at: float
    verb: str
    what: str
    code: int


def writes(cluster: Cluster, since: float, user: str) -> list[Write]:
    """The user's write requests since `since` (epoch), with the API server's answer, peering keep-alives left
    out."""
    out = []
    for e in cluster.audit_events() or []:
        if e.get("stage") != "ResponseComplete" or e.get("verb") not in ("create", "update", "patch", "delete"):
            continue
        if (e.get("user") or {}).get("username") != user:  # type: ignore[union-attr]
            continue
        ref: Any = e.get("objectRef") or {}
        if ref.get("resource") in ("kopfpeerings", "clusterkopfpeerings"):
            continue
        stamp = datetime.fromisoformat(str(e["requestReceivedTimestamp"]).replace("Z", "+00:00")).timestamp()
        if stamp < since:
            continue
        what = f"{ref.get('resource')}/{ref.get('subresource') or ''}{ref.get('name', '')}"
        out.append(Write(stamp, str(e["verb"]), what, int((e.get("responseStatus") or {}).get("code", 0))))  # type: ignore[union-attr]
    return sorted(out, key=lambda w: w.at)


def send(proc: OperatorProcess, sig: int) -> None:
    """A signal to the operator's process group, without waiting for it to exit (SIGSTOP, SIGCONT)."""
    if proc.proc is not None and proc.proc.poll() is None:
        os.killpg(proc.proc.pid, sig)


class Positions:
    """Samples status.rollout in the background: the position must only move forward."""

    def __init__(self, rig: Rig) -> None:
        self.rig, self.seen = rig, []  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            r = self.rig.rollout()
            self.seen.append((r.get("id", 0), PHASES.get(r.get("phase", ""), 0), r.get("stepIndex", 0), r))

    def __enter__(self) -> Positions:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def regressions(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        keys = [(i, p, s) for i, p, s, _ in self.seen]
        return [(self.seen[n][3], self.seen[n + 1][3]) for n in range(len(keys) - 1) if keys[n + 1] < keys[n]]


def test_frozen_and_killed_leaders_hand_over_without_a_conflicting_write(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    if cluster.audit_events() is None or not cluster.fake_nodes:
        pytest.skip("needs the lab: its audit log tells which replica wrote, kwok plays the pods")
    path = REPO / "charts/asgi-operator/crds/kopfpeerings.yaml"
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    cluster.kubectl("wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev", "--timeout=30s")
    peering = {
        "apiVersion": "kopf.dev/v1",
        "kind": "KopfPeering",
        "metadata": {"name": "drill", "namespace": namespace},
    }
    cluster.kubectl_apply(json.dumps(peering))
    rules = operator_rules() + PEERING_RULES
    users, kubeconfigs = {}, {}
    for replica in ("a", "b"):
        kubeconfigs[replica] = identity(cluster, f"asgi-drill-{replica}", rules, tmp_path)
        users[replica] = f"system:serviceaccount:asgi-operator-system:asgi-drill-{replica}"
    priorities = {"a": 100, "b": 50}

    def replica(name: str) -> OperatorProcess:
        args = ("-n", namespace, "--peering=drill", f"--priority={priorities[name]}", f"--peering-lifetime={LIFETIME}")
        return OperatorProcess(kubeconfigs[name], *args)

    procs = {"a": replica("a"), "b": replica("b")}
    prometheus = Prometheus(cluster.bin_dir).start()
    plane = DataPlane(cluster, namespace, NAME, prometheus).start()
    load = LoadDriver(plane, HOST, rate=80).start()
    figures: list[str] = []
    try:
        procs["a"].start()
        procs["b"].start()
        apply(cluster, namespace, spec(prometheus.url))
        wait_ready(cluster, namespace, NAME)
        rig = Rig(cluster, namespace, Path(), prometheus, plane, load, procs["a"])
        wait_until("stable serving traffic", lambda: load.sent["stable"] > 20)

        # (a) SIGKILL the active one mid-canary
        rig.apply(spec(prometheus.url, "v2"))
        rig.wait_rollout("v2 at 10%", lambda r: r.get("canaryWeight") == 10)
        assert writes(cluster, 0, users["a"]) and not writes(cluster, 0, users["b"])  # only the active one acts
        procs["a"].kill(signal.SIGKILL)
        killed = time.time()
        first = wait_until("the standby's first write", lambda: writes(cluster, killed, users["b"]), 120)[0]
        figures.append(f"SIGKILL: the standby's first write {first.at - killed:.1f}s later ({first.verb} {first.what})")
        print(figures[-1])
        rig.wait_promoted("v2 promoted by the standby")
        assert reasons(rig.rollout_events()) == PROMOTED

        # the killed one comes back: the higher priority, it is the active one again; the other pauses
        procs["a"] = replica("a").start()
        wait_until("b pausing for a", lambda: "Pausing operations" in procs["b"].logs(), 60)

        # (b) SIGSTOP the active one mid-canary: a frozen leader
        rig.apply(spec(prometheus.url, "v3"))
        rig.wait_rollout("v3 at 10%", lambda r: r.get("id") == 2 and r.get("canaryWeight") == 10)
        with Positions(rig) as positions:
            send(procs["a"], signal.SIGSTOP)
            stopped = time.time()
            first = wait_until("the standby's first write", lambda: writes(cluster, stopped, users["b"]), 120)[0]
            figures.append(
                f"SIGSTOP: the standby's first write {first.at - stopped:.1f}s later ({first.verb} {first.what})"
            )
            moved = rig.wait_rollout("the standby's next step", lambda r: r.get("canaryWeight") == 50, 120)
            figures.append(f"SIGSTOP: the standby's step to 50% {time.time() - stopped:.1f}s after the stop")

            # (c) SIGCONT: the frozen one resumes
            send(procs["a"], signal.SIGCONT)
            resumed = time.time()
            wait_until("b pausing again", lambda: procs["b"].logs().count("Pausing operations") >= 2, 60)
            paused_at = time.time()
            rig.wait_promoted("v3 promoted", 150)
            # a few more intervals with both alive: the paused one's own wake-ups would show here
            wait_until("three more intervals", lambda: time.time() > paused_at + 12 and time.time(), 20)
        after_a = writes(cluster, resumed, users["a"])
        refused = [w for w in after_a if w.code == 409]
        # Kopf pauses its watches first; the controller's gate re-reads the peering object at most once a
        # second, and a reconcile already running ends its writes (guarded: events by name, status by
        # resourceVersion): after that, nothing
        b_paused = writes(cluster, paused_at + 5, users["b"])
        figures.append(
            f"SIGCONT: the resumed one wrote {len(after_a)} times, {len(refused)} refused with 409 "
            f"({sorted({w.what for w in refused})}); the paused one wrote {len(b_paused)} times "
            f"{[(w.verb, w.what, w.code) for w in b_paused]}"
        )
        print("drill 4 (HA):\n  " + "\n  ".join(figures))
        assert reasons(rig.rollout_events()) == PROMOTED + PROMOTED  # no step skipped or repeated
        assert not positions.regressions(), positions.regressions()[:2]
        assert moved["stepIndex"] == 1
        # every status write of the resumed one either was refused (409) or came after it saw the newer version
        assert all(w.code in (200, 201, 409) for w in after_a), after_a
        assert b_paused == [], b_paused  # a paused replica acts on nothing, its own timers included
    finally:
        for p in procs.values():
            send(p, signal.SIGCONT)
            p.stop()
        load.stop()
        plane.stop()
        prometheus.close()
