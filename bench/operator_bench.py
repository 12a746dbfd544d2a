"""`make bench`: what the operator costs at 100, 1,000 (and, with BENCH_LARGE=1, 5,000) AsgiServices, measured in the
lab. Prints numbers; asserts nothing (targets are judged by a person reading them, not by a timed test).

For each size N, in a fresh lab whose API server audits reads as well as writes (the operator runs under its
least-privilege identity, so its requests are told apart in the audit log):
- a burst of N AsgiServices applied at once: apply -> first write of its Deployment (p50/p99), time until all
  are Ready, the operator's API requests by verb per AsgiService, the deepest queue seen, reconcile durations;
- single applies with N present: apply -> Deployment written (p50/p99);
- idle: the operator's requests in a quiet minute (reads AND writes), per hour;
- one canary in progress among N: requests per analysis interval;
- a restart with N converged: requests by verb (LIST/WATCH per kind, no GETs per object, no writes);
- memory: RSS idle, with N and after the restart (each once the operator gave the memory of the work back), the
  restart's peak; growth per AsgiService; the store's own size.

And the control plane's own floor for the burst (BENCH_FLOOR=0 skips it): the same objects applied without the
operator, to tell the operator's share of "all Ready" from the lab's.

Environment: BENCH_SIZES (default "100,1000"), BENCH_LARGE=1 adds 5000, BENCH_IDLE_SECONDS (default 60).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from asgi_operator.controller.controller import RELEASE_AFTER_IDLE
from integration.conftest import identity, operator_rules
from integration.helpers import OPERATOR_USER
from integration.operator_proc import OperatorProcess
from lab.cluster import REPO, Lab, ensure_binaries, wait_for
from lab.traffic import Prometheus

SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "100,1000").split(",") if n]
if os.environ.get("BENCH_LARGE") == "1" and 5000 not in SIZES:
    SIZES.append(5000)
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "60"))
NAMESPACE = "bench"
SINGLES = 20


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def settled_rss_mib(pid: int) -> float:
    """RSS once the operator has given back the memory of a burst: it does so a fixed time after its queue
    empties (controller.RELEASE_AFTER_IDLE), so that time is waited, plus a margin, then RSS is read."""
    time.sleep(RELEASE_AFTER_IDLE[-1] + 5)
    return rss_mib(pid)


def service(name: str, **rollout: Any) -> dict[str, Any]:
    doc = yaml.safe_load((REPO / "examples" / "hello.yaml").read_text())
    doc["metadata"] = {"name": name, "namespace": NAMESPACE}
    doc["spec"]["replicas"] = 1
    doc["spec"]["rollout"] = {"strategy": "RollingUpdate", **rollout}
    return dict(doc)


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Audit:
    """The lab's audit log, read incrementally: only the operator's requests and the admin's AsgiService writes."""

    def __init__(self, lab: Lab) -> None:
        self.path = lab.audit_log
        self.offset = 0
        self.events: list[dict[str, Any]] = []

    def refresh(self) -> None:
        if not self.path.exists():
            return
        with self.path.open() as f:
            f.seek(self.offset)
            for line in f:
                if OPERATOR_USER not in line and '"resource":"asgiservices"' not in line:
                    continue
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if event.get("stage") == "ResponseComplete":
                    self.events.append(event)
            self.offset = f.tell()

    def operator(self, since: float, until: float = float("inf")) -> list[dict[str, Any]]:
        self.refresh()
        return [
            e
            for e in self.events
            if e.get("user", {}).get("username") == OPERATOR_USER
            and since <= stamp(e["requestReceivedTimestamp"]) < until
        ]

    def created(self, since: float) -> dict[str, float]:
        """When each AsgiService was applied (the first write of it by someone other than the operator)."""
        self.refresh()
        out: dict[str, float] = {}
        for e in self.events:
            ref = e.get("objectRef", {})
            applied_by_someone = (
                ref.get("resource") == "asgiservices"
                and not ref.get("subresource")
                and e["verb"] in ("patch", "create")
                and e.get("user", {}).get("username") != OPERATOR_USER
            )
            if applied_by_someone and stamp(e["requestReceivedTimestamp"]) >= since:
                out.setdefault(ref.get("name", ""), stamp(e["requestReceivedTimestamp"]))
        return out

    def deployment_written(self, since: float) -> dict[str, float]:
        out: dict[str, float] = {}
        for e in self.operator(since):
            ref = e.get("objectRef", {})
            ok = e["responseStatus"]["code"] < 300
            if ref.get("resource") == "deployments" and e["verb"] in ("patch", "create") and ok:
                out.setdefault(ref.get("name", ""), stamp(e["requestReceivedTimestamp"]))
        return out


def by_verb(events: list[dict[str, Any]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for e in events:
        ref = e.get("objectRef", {})
        verb = e["verb"]
        counts[verb] += 1
        counts[f"{verb} {ref.get('resource', '')}{'/' + ref['subresource'] if ref.get('subresource') else ''}"] += 1
    return counts


def verbs_line(counts: Counter[str], per: float = 1.0) -> str:
    main = {k: v for k, v in counts.items() if " " not in k}
    return ", ".join(f"{k} {v / per:.2f}" for k, v in sorted(main.items())) or "none"


def detail_line(counts: Counter[str], per: float = 1.0) -> str:
    parts = sorted(((k, v) for k, v in counts.items() if " " in k), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v / per:.2f}" for k, v in parts[:12])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def histogram_quantile(metrics: str, name: str, q: float) -> float:
    buckets = [
        (float("inf") if m.group(1) == "+Inf" else float(m.group(1)), float(m.group(2)))
        for m in re.finditer(rf'{name}_bucket{{le="([^"]+)"}} ([0-9.e+]+)', metrics)
    ]
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    total = buckets[-1][1]
    for bound, count in buckets:
        if count >= q * total:
            return bound
    return float("inf")


def metric(metrics: str, name: str) -> float:
    m = re.search(rf"^{name} ([0-9.e+]+)$", metrics, re.M)
    return float(m.group(1)) if m else float("nan")


def reconciles(op: OperatorProcess) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in op.metrics().splitlines()
        if line.startswith("asgi_operator_reconciles_total{")
    )


def _asgi_ready(item: dict[str, Any]) -> bool:
    status = item.get("status") or {}
    return status.get("observedGeneration") == item["metadata"].get("generation") and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", [])
    )


def _deployment_available(item: dict[str, Any]) -> bool:
    return int((item.get("status") or {}).get("availableReplicas") or 0) >= 1


class Counting:
    """How many objects of one kind in the bench's namespace satisfy a predicate, kept by one WATCH (a LIST of a
    thousand objects every second would load the two cores the benchmark measures)."""

    def __init__(self, kubeconfig: Path, group: str, version: str, plural: str, test: Any) -> None:
        from kubernetes import client, watch

        from asgi_operator.kube.api import load_client

        self.api = client.CustomObjectsApi(load_client(str(kubeconfig)))
        self.args = (group, version, NAMESPACE, plural) if group else None
        self.apps = client.AppsV1Api(self.api.api_client)
        self.watch, self.test = watch.Watch(), test
        self.state: dict[str, bool] = {}
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped:
            try:
                if self.args is not None:
                    listing: Any = functools.partial(self.api.list_namespaced_custom_object, *self.args)
                else:
                    listing = functools.partial(self.apps.list_namespaced_deployment, NAMESPACE)
                for event in self.watch.stream(listing, timeout_seconds=300, deserialize=False):
                    item = event["object"]
                    name = item["metadata"]["name"]
                    if event["type"] == "DELETED":
                        self.state.pop(name, None)
                    else:
                        self.state[name] = self.test(item)
            except Exception:  # a dropped watch is opened again (or the lab is stopping)
                time.sleep(0.5)

    def count(self) -> int:
        return sum(self.state.values())

    def stop(self) -> None:
        self.stopped = True
        self.watch.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (clock ticks from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lab_cpu(lab: Lab, op: OperatorProcess | None = None) -> dict[str, float]:
    out = {p.name: cpu_seconds(p.popen.pid) for p in lab.processes if p.popen.poll() is None}
    if op is not None and op.proc is not None:
        out["operator"] = cpu_seconds(op.proc.pid)
    return out


def cpu_line(before: dict[str, float], after: dict[str, float]) -> str:
    used = sorted(((k, after[k] - before.get(k, 0.0)) for k in after), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v:.0f}s" for k, v in used if v >= 0.5)


def apply_all(lab: Lab, docs: list[dict[str, Any]]) -> None:
    for i in range(0, len(docs), 500):  # kubectl applies a list of objects one request each
        lab.kubectl("apply", "--server-side", "-f", "-", stdin="\n---\n".join(json.dumps(d) for d in docs[i : i + 500]))


def quiet(audit: Audit, since: float, seconds: float = 3.0) -> float:
    """Wait until the operator sent nothing for `seconds`; return when that quiet began."""

    def check() -> float | None:
        last = max((stamp(e["requestReceivedTimestamp"]) for e in audit.operator(since)), default=since)
        return last if time.time() - last >= seconds else None

    return float(wait_for("the operator to go quiet", check, 600, interval=0.5))


def run(n: int) -> dict[str, Any]:
    pods = max(2000, n + 500)
    lab = Lab(bin_dir=ensure_binaries(), audit_reads=True, node_pods=pods).start()
    op: OperatorProcess | None = None
    prom: Prometheus | None = None
    out: dict[str, Any] = {"n": n}
    try:
        kubeconfig = identity(lab, "asgi-operator", operator_rules(), lab.workdir)
        lab.kubectl("create", "namespace", NAMESPACE)
        op = OperatorProcess(kubeconfig, "-n", NAMESPACE).start()
        assert op.proc is not None
        ready = Counting(lab.admin_kubeconfig, "asgi.dev", "v1alpha1", "asgiservices", _asgi_ready)
        audit = Audit(lab)
        quiet(audit, time.time() - 1)
        out["rss_idle"] = rss_mib(op.proc.pid)

        # 1. a burst of N
        since = time.time()
        depth = 0.0
        cpu_before = lab_cpu(lab, op)
        apply_all(lab, [service(f"svc-{i:04d}") for i in range(n)])
        applied = time.time() - since

        def all_ready() -> bool:
            nonlocal depth
            depth = max(depth, metric(op.metrics(), "asgi_operator_queue_depth"))  # type: ignore[union-attr]
            return ready.count() >= n

        wait_for(f"{n} AsgiServices Ready", all_ready, 1800, interval=0.2)
        out["burst_ready"] = time.time() - since
        out["burst_cpu"] = cpu_line(cpu_before, lab_cpu(lab, op))
        out["burst_applied"] = applied
        done = quiet(audit, since)
        created, written = audit.created(since), audit.deployment_written(since)
        lat = [written[k] - created[k] for k in created if k in written]
        out["burst_p50"], out["burst_p99"] = pct(lat, 0.5), pct(lat, 0.99)
        out["burst_requests"] = by_verb(audit.operator(since, done + 0.001))
        out["queue_depth_max"] = depth
        metrics = op.metrics()
        out["reconcile_p50"] = histogram_quantile(metrics, "asgi_operator_reconcile_duration_seconds", 0.5)
        out["reconcile_p99"] = histogram_quantile(metrics, "asgi_operator_reconcile_duration_seconds", 0.99)
        out["rss_loaded"] = settled_rss_mib(op.proc.pid)
        out["store_objects"] = metric(metrics, "asgi_operator_store_objects")
        out["store_bytes"] = metric(metrics, "asgi_operator_store_bytes")

        # 2. single applies with N present
        singles: list[float] = []
        for i in range(SINGLES):
            t0 = time.time()
            apply_all(lab, [service(f"one-{i:02d}")])
            wait_for(
                "its Deployment", lambda i=i, t0=t0: audit.deployment_written(t0).get(f"one-{i:02d}"), 60, interval=0.05
            )
            singles.append(audit.deployment_written(t0)[f"one-{i:02d}"] - audit.created(t0)[f"one-{i:02d}"])
        out["single_p50"], out["single_p99"] = pct(singles, 0.5), pct(singles, 0.99)
        quiet(audit, time.time() - 5)

        # 3. idle
        idle_from = time.time()
        time.sleep(IDLE_SECONDS)  # an observation window: nothing happens, and that is what is measured
        idle = audit.operator(idle_from, time.time())
        out["idle_per_hour"] = by_verb(idle)
        out["idle_scale"] = 3600 / IDLE_SECONDS

        # 4. one canary in progress (a Prometheus with no data: every analysis holds, NoData)
        prom = Prometheus(lab.bin_dir).start()
        interval = 5.0
        canary = service("canary", strategy="Canary", interval="5s", progressDeadline="10m")
        canary["spec"]["rollout"]["prometheus"] = {"address": prom.url}
        canary["spec"]["metrics"] = {"interval": "1s"}  # rollout.interval is at least one scrape
        apply_all(lab, [canary])
        wait_for("the canary's first deploy", lambda: ready.count() >= n + SINGLES + 1, 120, interval=0.5)
        canary["spec"]["env"] = [{"name": "APP_VERSION", "value": "v2"}]
        apply_all(lab, [canary])

        def analysing() -> bool:
            body = json.loads(lab.kubectl("get", "asgi", "canary", "-n", NAMESPACE, "-o", "json").stdout)
            return bool((body.get("status", {}).get("rollout", {}).get("lastAnalysis") or {}).get("at"))

        wait_for("the canary analysing", analysing, 120, interval=0.5)
        window_from = time.time()
        time.sleep(6 * interval)  # six analysis intervals, observed
        active = audit.operator(window_from, time.time())
        out["canary_per_interval"] = by_verb(active)
        out["canary_intervals"] = 6

        # 5. restart with everything converged
        quiet_from = quiet(audit, time.time() - 1)
        total = n + SINGLES + 1
        op.stop()
        restart_from = time.time()
        op = OperatorProcess(kubeconfig, "-n", NAMESPACE).start()
        assert op.proc is not None
        wait_for("every AsgiService reconciled after the restart", lambda: reconciles(op) >= total, 600, interval=0.5)  # type: ignore[union-attr]
        restarted = quiet(audit, restart_from)
        out["restart"] = by_verb(audit.operator(max(restart_from, quiet_from), restarted + 0.001))
        out["restart_seconds"] = restarted - restart_from
        out["rss_restart_peak"] = rss_mib(op.proc.pid, "VmHWM")  # the new process' peak: its restart
        out["rss_restart"] = settled_rss_mib(op.proc.pid)
        out["total"] = total
        ready.stop()
        return out
    finally:
        if prom is not None:
            prom.close()
        if op is not None:
            op.stop()
        lab.stop()


def floor(n: int) -> dict[str, Any]:
    """The control plane's own floor for the burst: the very objects the operator renders for N AsgiServices
    (without owner references), applied by the same number of threads (8) straight to a fresh lab, with no
    operator and no rate limit. The time until all their Deployments are available is what any operator would
    need at least, on this machine."""
    from concurrent.futures import ThreadPoolExecutor

    from asgi_operator.api.models import AsgiServiceSpec
    from asgi_operator.kube.api import KubeApi, load_client
    from asgi_operator.reconcile.desired import desired_children
    from asgi_operator.render.meta import Owner
    from asgi_operator.routers import kind_of

    lab = Lab(bin_dir=ensure_binaries(), node_pods=max(2000, n + 500)).start()
    try:
        lab.kubectl("create", "namespace", NAMESPACE)
        api = KubeApi(load_client(str(lab.admin_kubeconfig)))
        manifests = []
        for i in range(n):
            doc = service(f"svc-{i:04d}")
            spec = AsgiServiceSpec.model_validate(doc["spec"])
            for m in desired_children(Owner(doc["metadata"]["name"], NAMESPACE, "none"), spec).apply:
                m["metadata"].pop("ownerReferences", None)  # no owner: the garbage collector would delete them
                manifests.append(m)
        served = [m for m in manifests if api.served(kind_of(m))]
        available = Counting(lab.admin_kubeconfig, "", "", "deployments", _deployment_available)
        cpu_before = lab_cpu(lab)
        started = time.time()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda m: api.apply(kind_of(m), m), served))
        applied = time.time() - started

        wait_for(f"{n} Deployments available", lambda: available.count() >= n, 1800, interval=0.2)
        done = time.time() - started
        available.stop()
        used = cpu_line(cpu_before, lab_cpu(lab))
        return {"floor_objects": len(served), "floor_applied": applied, "floor_ready": done, "cpu_line": used}
    finally:
        lab.stop()


def total(counts: Counter[str]) -> int:
    return sum(v for k, v in counts.items() if " " not in k)


def report(r: dict[str, Any]) -> str:
    n, everything = r["n"], r["total"]
    growth_kib = (r["rss_loaded"] - r["rss_idle"]) * 1024 / n
    burst, idle, canary, restart = r["burst_requests"], r["idle_per_hour"], r["canary_per_interval"], r["restart"]
    reads = sum(v for k, v in burst.items() if k in ("get", "list", "watch")) / n
    per_object = total(burst) / n
    hour, intervals = r["idle_scale"], r["canary_intervals"]
    ms = 1000
    lines = [
        f"N = {n} AsgiServices (a burst of {n}, then {SINGLES} single applies and one canary: {everything} in all)",
        f"  burst: applied in {r['burst_applied']:.1f}s; apply -> Deployment written p50 {r['burst_p50'] * ms:.0f} ms,"
        f" p99 {r['burst_p99'] * ms:.0f} ms; all Ready {r['burst_ready']:.1f}s after the first apply",
        f"         CPU used during the burst: {r['burst_cpu']}",
        f"         queue depth at most {r['queue_depth_max']:.0f}; reconcile duration p50 <= "
        f"{r['reconcile_p50'] * ms:.0f} ms, p99 <= {r['reconcile_p99'] * ms:.0f} ms (histogram bucket bounds)",
        f"  requests per AsgiService created: {per_object:.2f} ({per_object - reads:.2f} writes, {reads:.2f} reads):"
        f" {verbs_line(burst, n)}",
        f"         {detail_line(burst, n)}",
        f"  single apply with {n} present: apply -> Deployment written p50 {r['single_p50'] * ms:.0f} ms,"
        f" p99 {r['single_p99'] * ms:.0f} ms",
        f"  idle, {everything - 1} converged: {total(idle) * hour:.0f} requests per hour"
        f" ({verbs_line(idle, 1 / hour)})",
        f"         {detail_line(idle, 1 / hour)}",
        f"  one canary analysing (5 s interval): {total(canary) / intervals:.2f} requests per interval"
        f" ({verbs_line(canary, intervals)})",
        f"         {detail_line(canary, intervals)}",
        f"  restart with {everything} converged: {total(restart)} requests in {r['restart_seconds']:.1f}s:"
        f" {verbs_line(restart)}",
        f"         {detail_line(restart)}",
        f"  memory: RSS {r['rss_idle']:.0f} MiB idle, {r['rss_loaded']:.0f} MiB with {n} ({growth_kib:.1f} KiB per"
        f" AsgiService), {r['rss_restart']:.0f} MiB after a restart with {everything} (its peak"
        f" {r['rss_restart_peak']:.0f} MiB); each read {RELEASE_AFTER_IDLE[-1] + 5:.0f} s after the work ended",
        f"         store: {r['store_objects']:.0f} objects in {r['store_bytes'] / 1024:.0f} KiB"
        f" ({r['store_bytes'] / 1024 / n:.1f} KiB per AsgiService)",
    ]
    return "\n".join(lines)


def main() -> None:
    versions = (REPO / "tests/lab/versions.env").read_text()
    k8s = re.search(r"K8S_VERSION=(\S+)", versions)
    print(f"asgi-operator scale benchmark: the lab (Kubernetes {k8s.group(1) if k8s else '?'}), {os.cpu_count()} CPUs")
    results = []
    for n in SIZES:
        started = time.monotonic()
        results.append(run(n))
        print(report(results[-1]), flush=True)
        if os.environ.get("BENCH_FLOOR", "1") == "1":
            f = floor(n)
            print(
                f"  control-plane floor (no operator: the same {f['floor_objects']:.0f} objects applied by 8 threads): "
                f"applied in {f['floor_applied']:.1f}s, all {n} Deployments available {f['floor_ready']:.1f}s after "
                f"the first apply; CPU used: {f['cpu_line']}",
                flush=True,
            )
        print(f"  (this size took {time.monotonic() - started:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
