"""`make demo`: the whole product on this machine, live.

Starts the lab (a real control plane), installs the CRD, runs the operator under its least-privilege
identity, runs a real Prometheus and the example app's revisions as real Uvicorn processes with traffic split
by the HTTPRoute's weights, applies the example AsgiService, shows what the operator created, then rolls out
a good release (promoted 10 -> 50 -> 100) and a bad one (5 % errors: rolled back), printing each step with
the measured error rate and p99 against their thresholds. Everything stops at the end (or on Ctrl-C).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from typing import Any

import yaml

from .__main__ import OPERATOR_NAMESPACE
from .cluster import REPO, Lab, ensure_binaries, free_port, wait_for
from .identity import create_identity_kubeconfig
from .traffic import DataPlane, LoadDriver, Prometheus

NAME = "hello"
NAMESPACE = "demo"


def say(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def demo_spec(prometheus: str) -> dict[str, Any]:
    """examples/hello.yaml, with intervals short enough to watch."""
    doc = yaml.safe_load((REPO / "examples" / "hello.yaml").read_text())
    doc["spec"]["metrics"] = {"interval": "1s"}
    doc["spec"]["rollout"].update({"interval": "5s", "progressDeadline": "90s"})
    doc["spec"]["rollout"]["slo"].update({"minRequests": 30, "window": "10s"})
    doc["spec"]["rollout"]["prometheus"]["address"] = prometheus
    return dict(doc)


def release(doc: dict[str, Any], version: str, **env: str) -> dict[str, Any]:
    new = copy.deepcopy(doc)
    new["spec"]["env"] = [{"name": "APP_VERSION", "value": version}] + [{"name": k, "value": v} for k, v in env.items()]
    return new


def line(obj: dict[str, Any]) -> str:
    status = obj.get("status", {})
    r = status.get("rollout", {})
    last = r.get("lastAnalysis") or {}
    numbers = ""
    if last:
        err = last.get("errorRate")
        p99 = last.get("latencyP99Seconds")
        numbers = (
            f" | last analysis {last['verdict']}: error rate "
            f"{'-' if err is None else f'{err * 100:.2f}%'} (max {last['maxErrorRate'] * 100:.1f}%), p99 "
            f"{'-' if p99 is None else f'{p99 * 1000:.0f}ms'} (max {last['maxLatencyP99Seconds'] * 1000:.0f}ms),"
            f" {last.get('requests') or 0:.0f} requests"
        )
    return (
        f"  {time.strftime('%H:%M:%S')} {status.get('phase', '?'):<10} step {r.get('stepIndex', 0) + 1} "
        f"canary weight {status.get('canaryWeight', 0):>3}%{numbers}"
    )


def follow(lab: Lab, until: str) -> dict[str, Any]:
    last = ""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        obj = json.loads(lab.kubectl("get", "asgiservice", NAME, "-n", NAMESPACE, "-o", "json").stdout)
        text = line(obj)
        if text[11:] != last[11:]:
            print(text, flush=True)
            last = text
        rollout = obj["status"]["rollout"]
        if (
            until == "promoted"
            and rollout["phase"] == "Idle"
            and rollout.get("canaryRevision") == rollout.get("stableRevision")
        ):
            return dict(obj)
        if until == "rolled back" and rollout["phase"] in ("RolledBack", "Failed"):
            return dict(obj)
        time.sleep(1)
    raise TimeoutError(f"the rollout was not {until} within 3 minutes")


def main() -> int:
    procs: list[Any] = []
    say("Starting the lab: etcd, kube-apiserver, controller manager, scheduler, kwok (2 fake nodes)")
    started = time.monotonic()
    lab = Lab(bin_dir=ensure_binaries("demo"))
    operator: subprocess.Popen[bytes] | None = None
    try:
        lab.start()
        print(lab.kubectl("version").stdout.strip())
        print(f"  up in {time.monotonic() - started:.1f}s; CRDs installed:")
        print(lab.kubectl("get", "crd", "asgiservices.asgi.dev", "httproutes.gateway.networking.k8s.io").stdout)

        say("Running the operator under its least-privilege ServiceAccount (the Helm chart's ClusterRole)")
        rules = yaml.safe_load((REPO / "charts/asgi-operator/files/clusterrole-rules.yaml").read_text())
        for doc in (
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "asgi-operator"},
                "rules": rules,
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "asgi-operator"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "asgi-operator"},
                "subjects": [{"kind": "ServiceAccount", "name": "asgi-operator", "namespace": OPERATOR_NAMESPACE}],
            },
        ):
            lab.kubectl_apply(json.dumps(doc))
        kubeconfig = create_identity_kubeconfig(
            lab.bin("kubectl"),
            lab.admin_kubeconfig,
            lab.workdir / "operator.kubeconfig",
            namespace=OPERATOR_NAMESPACE,
            name="asgi-operator",
        )
        log = (lab.workdir / "logs" / "asgi-operator.log").open("wb")
        operator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "asgi_operator",
                "run",
                "-A",
                f"--kubeconfig={kubeconfig}",
                f"--metrics-address=127.0.0.1:{free_port()}",
                f"--liveness=http://127.0.0.1:{free_port()}/healthz",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PYTHONPATH": str(REPO / "operator"), **os.environ},
        )

        say("Starting Prometheus (scrapes every second) and the example app's data plane")
        prometheus = Prometheus(lab.bin_dir).start()
        procs.append(prometheus)
        lab.kubectl("create", "namespace", NAMESPACE)
        plane = DataPlane(lab, NAMESPACE, NAME, prometheus).start()
        procs.append(plane)
        load = LoadDriver(lab, NAMESPACE, NAME, plane, rate=80).start()
        procs.append(load)
        print(f"  Prometheus at {prometheus.url}; 80 requests/s split by the HTTPRoute weights")

        say(f"kubectl apply -f examples/hello.yaml (in namespace {NAMESPACE})")
        doc = demo_spec(prometheus.url)
        lab.kubectl("apply", "--server-side", "-n", NAMESPACE, "-f", "-", stdin=json.dumps(doc))
        t0 = time.monotonic()
        lab.kubectl("wait", "-n", NAMESPACE, "--for=condition=Ready", "--timeout=60s", f"asgiservice/{NAME}")
        print(f"  Ready=True {time.monotonic() - t0:.1f}s after apply")
        say("What the operator created")
        print(
            lab.kubectl(
                "get", "asgiservice,deployment,service,httproute,pdb", "-n", NAMESPACE, "-l", f"asgi.dev/name={NAME}"
            ).stdout
        )
        print(lab.kubectl("get", "asgiservice", "-n", NAMESPACE).stdout)
        print(_plugin(lab, "status", NAME))
        wait_for("traffic on stable", lambda: load.sent["stable"] > 50, 30)

        say("Release v2 (healthy): canary 10% -> 50% -> 100%, each step checked against the SLOs")
        lab.kubectl("apply", "--server-side", "-n", NAMESPACE, "-f", "-", stdin=json.dumps(release(doc, "v2")))
        follow(lab, "promoted")
        print(_plugin(lab, "status", NAME))

        say("Release v3 (returns 5 % errors): rolled back automatically")
        lab.kubectl(
            "apply",
            "--server-side",
            "-n",
            NAMESPACE,
            "-f",
            "-",
            stdin=json.dumps(release(doc, "v3", ERROR_RATE="0.05")),
        )
        follow(lab, "rolled back")
        print(_plugin(lab, "status", NAME, expect=2))  # 2: the current revision was rolled back (for CI scripts)

        say("Events on the AsgiService")
        print(
            lab.kubectl(
                "get",
                "events",
                "-n",
                NAMESPACE,
                "--field-selector",
                f"involvedObject.kind=AsgiService,involvedObject.name={NAME}",
                "--sort-by=.metadata.name",
                "-o",
                "custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message",
            ).stdout
        )
        print(f"traffic: {load.sent}, status codes: {load.statuses}")
        say(f"Done in {time.monotonic() - started:.0f}s; stopping everything")
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        for p in reversed(procs):
            (p.close if isinstance(p, Prometheus) else p.stop)()
        if operator is not None:
            operator.terminate()
            operator.wait(timeout=20)
        lab.stop()


def _plugin(lab: Lab, *args: str, expect: int = 0) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "asgi_operator.cli.plugin",
            f"--kubeconfig={lab.admin_kubeconfig}",
            "-n",
            NAMESPACE,
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(REPO / "operator"), **os.environ},
    )
    if done.returncode != expect:
        raise SystemExit(f"kubectl asgi {' '.join(args)}: exit {done.returncode}, expected {expect}: {done.stderr}")
    return done.stdout + (f"(kubectl asgi exit code {done.returncode})\n" if done.returncode else "")


if __name__ == "__main__":
    sys.exit(main())
