"""`make bench`: the operator's cost, measured against the lab. Prints numbers; asserts nothing.

- API writes to create one AsgiService, and to roll out an image change (rolling update), from the API server's
  audit log (the operator's own identity only);
- time from `kubectl apply` to Ready=True;
- the operator's resident memory with 0 and with N AsgiServices, and the time to converge N;
- writes during a full resync of N converged AsgiServices after an operator restart (should be 0).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from integration.conftest import identity, operator_rules
from integration.helpers import operator_writes, wait_ready
from integration.operator_proc import OperatorProcess
from lab.cluster import REPO, Lab, ensure_binaries, wait_for

N = int(os.environ.get("BENCH_N", "100"))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def service(name: str, image: str = "registry.example.com/hello:1") -> str:
    doc = yaml.safe_load((REPO / "examples" / "hello.yaml").read_text())
    doc["metadata"]["name"] = name
    doc["spec"]["image"] = image
    doc["spec"]["replicas"] = 1
    doc["spec"]["rollout"]["strategy"] = "RollingUpdate"
    return json.dumps(doc)


def _k8s_version() -> str:
    for line in (REPO / "tests/lab/versions.env").read_text().splitlines():
        if line.startswith("K8S_VERSION="):
            return f"Kubernetes {line.split('=', 1)[1]}"
    return "Kubernetes"


def main() -> None:
    lab = Lab(bin_dir=ensure_binaries()).start()
    op: OperatorProcess | None = None
    try:
        kubeconfig = identity(lab, "asgi-operator", operator_rules(), lab.workdir)
        op = OperatorProcess(kubeconfig, "--concurrency=8").start()
        assert op.proc is not None
        lab.kubectl("create", "namespace", "bench")
        time.sleep(3)  # let the idle operator settle before reading its memory (a measurement, not a wait)
        rss_idle = rss_mib(op.proc.pid)

        since = time.time()
        started = time.monotonic()
        lab.kubectl("apply", "--server-side", "-n", "bench", "-f", "-", stdin=service("one"))
        wait_ready(lab, "bench", "one")
        ready_after = time.monotonic() - started
        time.sleep(2)  # writes that follow Ready (status of replica counts) belong to the creation
        create_writes = operator_writes(lab, since)

        since = time.time()
        lab.kubectl(
            "apply", "--server-side", "-n", "bench", "-f", "-", stdin=service("one", "registry.example.com/hello:2")
        )
        wait_for(
            "the new image rolled out",
            lambda: (
                json.loads(lab.kubectl("get", "asgi", "one", "-n", "bench", "-o", "json").stdout)["status"]
                .get("image", "")
                .endswith(":2")
                and wait_ready(lab, "bench", "one")
            ),
            60,
        )
        time.sleep(2)
        image_writes = operator_writes(lab, since)

        started = time.monotonic()
        for i in range(N):
            lab.kubectl("apply", "--server-side", "-n", "bench", "-f", "-", stdin=service(f"svc-{i:03d}"))
        applied = time.monotonic() - started
        for i in range(N):
            wait_ready(lab, "bench", f"svc-{i:03d}", timeout=300)
        converged = time.monotonic() - started
        time.sleep(3)
        rss_loaded = rss_mib(op.proc.pid)

        op.stop()
        since = time.time()
        op = OperatorProcess(kubeconfig, "--concurrency=8").start()
        assert op.proc is not None
        wait_for(
            "the restarted operator to reconcile everything",
            lambda: (
                sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in op.metrics().splitlines()  # type: ignore[union-attr]
                    if line.startswith("asgi_operator_reconciles_total{")
                )
                >= N + 1
            ),
            300,
        )
        resync = time.monotonic()
        resync_writes = operator_writes(lab, since)
        rss_after_resync = rss_mib(op.proc.pid)

        print(f"""
asgi-operator benchmark (the lab: {_k8s_version()}, {os.cpu_count()} CPUs)
  create one AsgiService:       {len(create_writes)} API writes, Ready {ready_after:.2f}s after kubectl apply
      {sorted(create_writes)}
  image change (rolling):       {len(image_writes)} API writes
      {sorted(image_writes)}
  {N} AsgiServices:             applied in {applied:.1f}s, all Ready {converged:.1f}s after the first apply
  operator RSS:                 {rss_idle:.0f} MiB idle, {rss_loaded:.0f} MiB with {N + 1} AsgiServices,
                                {rss_after_resync:.0f} MiB after a restart with them
  restart + resync of {N + 1}:    {len(resync_writes)} API writes (resync done {resync - started:.0f}s into the run)
""")
    except TimeoutError:
        out = json.loads(lab.kubectl("get", "asgi", "-n", "bench", "-o", "json").stdout)["items"]
        for item in out:
            ready = [c for c in item.get("status", {}).get("conditions", []) if c["type"] == "Ready"]
            if not ready or ready[0]["status"] != "True":
                print(item["metadata"]["name"], json.dumps(item.get("status", {}))[:600])
        print(lab.kubectl("get", "pods", "-n", "bench", "--no-headers").stdout.count("\n"), "pods")
        if op is not None:
            print(op.logs()[-3000:])
        raise
    finally:
        if op is not None:
            op.stop()
        lab.stop()


if __name__ == "__main__":
    main()
