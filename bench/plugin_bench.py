"""How long `kubectl asgi` takes to answer: wall times of the installed `kubectl-asgi` console script, the median
(and the fastest) of N runs each, and the CPU time it used (user + system: what a busy machine's load does not
inflate as much). Prints numbers; asserts nothing (a person judges them against the goals).

- `kubectl-asgi --help` and `kubectl-asgi completion bash`: no cluster; goal <= 0.3 s;
- `kubectl-asgi status NAME` against a real API server: goal <= 0.6 s;
- `kubectl asgi --help` through kubectl (which finds the plugin on PATH), when a kubectl is at hand.

The API server is a fresh lab (tests/lab: etcd + kube-apiserver on 127.0.0.1) unless BENCH_KUBECONFIG names a
cluster's kubeconfig (the AsgiService CRD installed). An AsgiService from examples/hello.yaml is applied into the
namespace `plugin-bench`; no operator runs, so `status` reads an object as the API server stores it.

    python bench/plugin_bench.py [--runs 10] [--baseline GIT-REV]

--baseline measures the plugin of that revision too (its operator/ extracted with `git archive`), run for run
interleaved with the checkout's, so both see the same load on a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from lab.cluster import ExistingCluster, Lab, ensure_binaries

SCRIPT = Path(sys.executable).parent / "kubectl-asgi"  # the console script, as installed
NAMESPACE = "plugin-bench"
NAME = "hello"


@contextlib.contextmanager
def cluster() -> Iterator[ExistingCluster | Lab]:
    given = os.environ.get("BENCH_KUBECONFIG")
    if given:
        yield ExistingCluster(Path(given).expanduser())
        return
    with Lab(bin_dir=ensure_binaries(), nodes=1) as lab:
        yield lab


@contextlib.contextmanager
def baseline_source(rev: str | None) -> Iterator[Path | None]:
    if rev is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="plugin-bench-") as tmp:
        archive = subprocess.run(["git", "archive", rev, "operator"], cwd=REPO, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        yield Path(tmp) / "operator"


def timed(argv: list[str], source: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run (the CPU time of the children waited for, before and after)."""
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env={**env, "PYTHONPATH": str(source)}, capture_output=True, check=False)
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return took, (after.ru_utime + after.ru_stime) - (cpu.ru_utime + cpu.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--baseline", metavar="GIT-REV", help="also measure the plugin of this revision")
    args = parser.parse_args()
    with cluster() as lab, baseline_source(args.baseline) as before:
        lab.kubectl("create", "namespace", NAMESPACE, check=False)
        lab.kubectl("apply", "--server-side", "-n", NAMESPACE, "-f", str(REPO / "examples" / "hello.yaml"))
        kubectl = shutil.which(lab.bin("kubectl"))
        env = {
            **os.environ,
            "KUBECONFIG": str(lab.admin_kubeconfig),
            "PATH": f"{SCRIPT.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        commands = {
            "kubectl-asgi --help": [str(SCRIPT), "--help"],
            "kubectl-asgi completion bash": [str(SCRIPT), "completion", "bash"],
            f"kubectl-asgi status {NAME}": [str(SCRIPT), "status", NAME, "-n", NAMESPACE],
        }
        if kubectl:
            commands["kubectl asgi --help"] = [kubectl, "asgi", "--help"]
        sources = {"checkout": REPO / "operator"} | ({"baseline": before} if before else {})
        times: dict[tuple[str, str], list[tuple[float, float]]] = {(c, s): [] for c in commands for s in sources}
        for argv in commands.values():  # a first run of each fills the caches (.pyc files, the page cache)
            for source in sources.values():
                timed(argv, source, env)
        for _ in range(args.runs):
            for command, argv in commands.items():
                for label, source in sources.items():
                    times[(command, label)].append(timed(argv, source, env))
    load = os.getloadavg()[0]
    print(
        f"kubectl asgi: seconds, {args.runs} runs each: wall (median, fastest), CPU (median); load average {load:.1f}"
    )
    print(f"{'command':<32} {'code':<10} {'median':>7} {'fastest':>8} {'cpu':>7}")
    for (command, label), values in times.items():
        name = label if label == "checkout" else f"{args.baseline}"
        wall, cpu = [w for w, _ in values], [c for _, c in values]
        print(
            f"{command:<32} {name:<10} {statistics.median(wall):>7.3f} {min(wall):>8.3f} {statistics.median(cpu):>7.3f}"
        )


if __name__ == "__main__":
    main()
