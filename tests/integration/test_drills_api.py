"""Fault drills against the Kubernetes API (issue 14): what a real cluster does to the operator's connection.

1. kube-apiserver stopped for 20 s in the middle of a canary step, then started again (same port, etcd,
   certificates): the operator recovers by itself, without a restart; no step is skipped or repeated.
2. A fault-injecting proxy (lab.faultproxy) between the operator and the API server: 409, 429 with
   Retry-After, 500, 503, slow answers and cut watch streams at a bounded, seeded rate, while AsgiServices are
   created and while a canary runs: everything converges, no event twice, no lost status, no traceback.

Everything is real (control plane, operator process, Prometheus, app servers); the canary's interval is short
(4 s) so each drill takes about a minute.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integration.helpers import OPERATOR_USER, WRITE_VERBS, apply, events_for, get, wait_until
from integration.operator_proc import OperatorProcess
from integration.test_canary_e2e import NAME, PROMOTED, ROLLOUT_REASONS, Rig, _promoted_and_ready, reasons, rig, spec
from lab.cluster import Cluster, Lab, kubeconfig_text
from lab.faultproxy import FAULTS, FaultProxy

__all__ = ["rig"]  # the canary rig of the end-to-end tests, as a fixture here too

OUTAGE = 20.0  # seconds the API server is down


def _needs_lab(cluster: Cluster) -> Lab:
    if not isinstance(cluster, Lab):
        pytest.skip("stopping the API server needs the lab's own control plane")
    return cluster


def _successful_writes(cluster: Cluster, since: float, user: str = OPERATOR_USER) -> list[tuple[float, str]]:
    """(epoch, 'verb resource/name') of the writes by `user` the API server accepted since `since`."""
    from datetime import datetime

    out = []
    for e in cluster.audit_events() or ():
        if e.get("stage") != "ResponseComplete" or e.get("verb") not in WRITE_VERBS:
            continue
        if (e.get("user") or {}).get("username") != user:  # type: ignore[union-attr]
            continue
        code = int((e.get("responseStatus") or {}).get("code", 0))  # type: ignore[union-attr]
        if not 200 <= code < 300:
            continue
        at = datetime.fromisoformat(str(e["requestReceivedTimestamp"]).replace("Z", "+00:00")).timestamp()
        if at >= since:
            ref: dict[str, Any] = e.get("objectRef") or {}  # type: ignore[assignment]
            out.append((at, f"{e['verb']} {ref.get('resource')}/{ref.get('subresource') or ''}{ref.get('name', '')}"))
    return sorted(out)


def _assert_each_step_once(rig: Rig) -> None:
    events = rig.rollout_events()
    assert reasons(events) == PROMOTED, events  # in order: no step skipped, none repeated
    assert len(set(events)) == len(events), events  # the same reason and message never twice
    names = sorted(
        e["metadata"]["name"] for e in events_for(rig.cluster, rig.namespace, NAME) if e["reason"] in ROLLOUT_REASONS
    )
    seqs = [int(n.rsplit(".", 1)[1]) for n in names]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def _wait(rig: Rig, what: str, predicate: Callable[[], Any], timeout: float) -> Any:
    """`wait_until`; on a timeout, say where the rollout stood: its status, its events, the operator's last words
    (the whole log in the test's output directory)."""
    try:
        return wait_until(what, predicate, timeout)
    except TimeoutError as e:
        status = dict(rig.asvc().get("status", {}))
        status.get("rollout", {}).pop("stableSpec", None)
        logs = rig.operator.logs()
        raise TimeoutError(
            f"{e}\nstatus: {json.dumps(status)}\nevents: {rig.rollout_events()}\noperator log:\n{logs[-8000:]}"
        ) from None


def _promoted(rig: Rig) -> bool:
    return _promoted_and_ready(rig)


def _no_traceback(op: OperatorProcess) -> None:
    logs = op.logs()
    assert "Traceback" not in logs, logs[logs.index("Traceback") - 2000 : logs.index("Traceback") + 3000]


# Kopf's full log format: "[time] logger-name-in-20-chars [LEVEL   ] message"; continuation lines have no prefix
LOG_LINE = re.compile(r"^\[[^\]]+\] (?P<name>.{20}) \[(?P<level>[A-Z]+) *\] (?P<message>.*)$")


def _log_records(op: OperatorProcess) -> list[tuple[str, str, str]]:
    """(level, logger name, message) of each line of the operator's log (in the full format)."""
    return [
        (m["level"], m["name"].strip(), m["message"])
        for line in op.logs().splitlines()
        if (m := LOG_LINE.match(line)) is not None
    ]


def test_apiserver_down_20s_mid_step_recovers_without_a_restart(cluster: Cluster, rig: Rig) -> None:
    lab = _needs_lab(cluster)
    rig.operator.stop()  # again with levels and logger names in its log
    rig.operator = OperatorProcess(rig.kubeconfig, "-n", rig.namespace, "--log-format=full").start()
    pid = rig.operator.proc.pid if rig.operator.proc else None
    rig.apply(spec(rig.prometheus.url, "v2"))
    rig.wait_rollout("step 1 on the canary", lambda r: r.get("canaryWeight") == 10)
    events_before = len(rig.rollout_events())

    stopped_at = time.monotonic()
    lab.stop_apiserver()
    time.sleep(OUTAGE)  # the outage is the fault under test, not a wait for something
    assert rig.operator.healthy()  # still serving its liveness probe, never restarted
    ready = lab.start_apiserver()
    ready_wall = time.time() - (time.monotonic() - ready)
    down = ready - stopped_at

    # the operator's next write the API server accepted, and its next rollout event
    first_write = _wait(
        rig, "the operator's first write after the restart", lambda: _successful_writes(cluster, ready_wall), 90
    )[0]
    write_after = first_write[0] - ready_wall
    _wait(rig, "the next rollout event", lambda: len(rig.rollout_events()) > events_before, 90)
    event_after = time.monotonic() - ready
    _wait(rig, "promoted after the outage", lambda: _promoted(rig), 180)
    took = time.monotonic() - stopped_at

    print(
        f"\ndrill 1: API server down {down:.1f}s; the operator's first accepted write {write_after:.2f}s after "
        f"/readyz ({first_write[1]}), its next rollout event seen {event_after:.1f}s after; promoted "
        f"{took:.1f}s after the stop"
    )
    assert rig.operator.proc is not None and rig.operator.proc.pid == pid and rig.operator.proc.poll() is None
    _assert_each_step_once(rig)
    asvc = rig.asvc()
    assert asvc["status"]["observedGeneration"] == asvc["metadata"]["generation"]
    _no_traceback(rig.operator)
    print(
        json.dumps({"recovery_write_seconds": round(write_after, 2), "recovery_event_seconds": round(event_after, 1)})
    )
    # an outage the operator rides out is no error: Kopf's request retries are INFO (the first of a request) and
    # DEBUG, and no client retries at transport level (urllib3's "Retrying (Retry(...)) after connection broken")
    records = _log_records(rig.operator)
    by_level = Counter(level for level, _, _ in records)
    kopf_retries = Counter(level for level, _, message in records if "failed; will retry" in message)
    urllib3 = [message for _, name, message in records if name.startswith("urllib3") or "Retrying (Retry(" in message]
    warnings = Counter(message.split(" (")[0].split(" in ")[0] for level, _, message in records if level == "WARNING")
    print(
        f"log lines by level {dict(by_level)}; Kopf's request retries by level {dict(kopf_retries)}; urllib3's "
        f"retries {len(urllib3)}; warnings {dict(warnings)}"
    )
    assert [r for r in records if r[0] in ("ERROR", "CRITICAL")] == []
    assert urllib3 == []


SEED = 20261126
EXTRA = ("alpha", "bravo", "charlie", "delta")


def _plain(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "asgi.dev/v1alpha1",
        "kind": "AsgiService",
        "metadata": {"name": name},
        "spec": {"image": "registry.example.com/plain:1", "app": "main:app", "replicas": 1},
    }


def _duplicates(cluster: Cluster, namespace: str, name: str) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], int] = {}
    for e in events_for(cluster, namespace, name):
        if e["type"] == "Normal":
            key = (e["reason"], e["message"])
            seen[key] = seen.get(key, 0) + int(e.get("count") or 1)
    return [k for k, n in seen.items() if n > 1]


def _errors_by_reason(op: OperatorProcess) -> dict[str, float]:
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'asgi_operator_reconcile_errors_total\{reason="([^"]+)"\} ([0-9.e+]+)', op.metrics())
    }


def test_injected_api_faults_during_creation_and_a_canary_converge(cluster: Cluster, rig: Rig, tmp_path: Path) -> None:
    lab = _needs_lab(cluster)
    identity = json.loads(rig.kubeconfig.read_text())
    user, token = identity["users"][0]["name"], identity["users"][0]["user"]["token"]
    proxy = FaultProxy(lab.server, lab.ca_file, seed=SEED, rate=0.12, watch_rate=0.5, budget=60).start()
    try:
        through = tmp_path / "through-the-fault-proxy.kubeconfig"
        through.write_text(kubeconfig_text(proxy.url, None, user, token))
        rig.operator.stop()
        rig.operator = OperatorProcess(through, "-n", rig.namespace).start()
        started = time.monotonic()

        # creation: several AsgiServices at once
        for name in EXTRA:
            apply(cluster, rig.namespace, _plain(name))
        for name in EXTRA:
            _wait(rig, f"{name} Ready despite the faults", lambda name=name: _ready(cluster, rig.namespace, name), 120)
        created = time.monotonic() - started

        # a canary, still under faults
        rig.apply(spec(rig.prometheus.url, "v2"))
        _wait(rig, "promoted despite the faults", lambda: _promoted(rig), 240)
        took = time.monotonic() - started
        proxy.enabled = False
        counts = dict(proxy.counts)
        retries = _errors_by_reason(rig.operator)
        kopf_retries = rig.operator.logs().count("failed; will retry")  # the first try of each (INFO)
    finally:
        proxy.stop()

    by_type = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
    print(
        f"\ndrill 2: {sum(counts.values())} faults injected ({by_type}) in {dict(proxy.requests)} requests; "
        f"{len(EXTRA)} AsgiServices Ready {created:.1f}s after the start, the canary promoted {took:.1f}s after; "
        f"reconcile retries by reason {retries}; Kopf's requests tried again {kopf_retries}"
    )
    assert set(counts) == set(FAULTS), counts  # every type injected
    _assert_each_step_once(rig)
    for name in (*EXTRA, NAME):
        asvc = _ready(cluster, rig.namespace, name)
        assert asvc, f"{name} not Ready after the faults stopped"
        assert asvc["status"]["observedGeneration"] == asvc["metadata"]["generation"]
        rollout = asvc["status"]["rollout"]
        assert rollout["stableRevision"] == asvc["status"]["revision"] == asvc["status"]["stableRevision"]
        assert not rollout.get("pendingEvents")
        assert _duplicates(cluster, rig.namespace, name) == [], name
    rollout = rig.rollout()
    assert (rollout["id"], rollout["phase"], rollout["canaryRevision"]) == (1, "Idle", rollout["stableRevision"])
    assert rollout["lastAnalysis"]["verdict"] == "Pass" and rollout["lastAnalysis"]["step"] == 3
    _no_traceback(rig.operator)


def _ready(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    obj = get(cluster, "asgiservice", name, namespace)
    ready = next((c for c in (obj or {}).get("status", {}).get("conditions", []) if c["type"] == "Ready"), {})
    if (
        obj
        and ready.get("status") == "True"
        and obj["status"].get("observedGeneration") == obj["metadata"]["generation"]
    ):
        return obj
    return None
