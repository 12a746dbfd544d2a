"""`make demo`: the whole product on this machine, live.

Starts the lab (a real control plane) in a network namespace of its own, installs the CRD, runs the operator
under its least-privilege identity, a real gateway (Traefik) and a real Prometheus; each pod the operator
creates is played by a real Uvicorn at the pod's IP; 80 requests a second go through the gateway. It applies
the example AsgiService, shows what the operator created, then rolls out a good release (promoted 10 -> 50 ->
100) and a bad one (5 % errors: rolled back), printing each step with the share of requests the canary answered
as measured at the gateway, and the error rate and p99 the analysis saw against their thresholds. Everything
stops at the end (or on Ctrl-C).

Without root the namespace is made in an unprivileged user namespace (`unshare -rn`); where the kernel refuses
that too, the demo says so and plays the gateway instead (played_gateway.py: traffic split by the route's
weights in the load driver itself).
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

from . import netns
from .__main__ import OPERATOR_NAMESPACE
from .cluster import REPO, Lab, ensure_binaries, free_port, wait_for
from .dataplane import DataPlane, played
from .gateway import Traefik
from .identity import create_identity_kubeconfig
from .load import LoadDriver
from .played_gateway import TrackPlane, WeightSplitter
from .traffic import Prometheus

NAME = "hello"
NAMESPACE = "demo"
HOST = "hello.example.com"


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


def measured(load: LoadDriver | WeightSplitter, weight: int, start: float, end: float) -> str:
    """What clients got from the gateway while the canary had `weight`: the canary's share of the answers pods
    gave, and any failure (the step's first and last second left out: status is read once a second)."""
    if not isinstance(load, LoadDriver) or weight == 0:
        return ""
    tally = load.window(start, end, settle=1.5)
    from_pods = sum(n for track, n in tally.by_track().items() if track in ("stable", "canary"))
    failed = len(tally.failed())
    return (
        f"      measured at the gateway at {weight}%: the canary answered {tally.share('canary') * 100:.1f}% of "
        f"{from_pods} requests" + (f", {failed} failed" if failed else ", none failed")
    )


def follow(lab: Lab, until: str, load: LoadDriver | WeightSplitter) -> dict[str, Any]:
    last, weight, since = "", None, time.monotonic()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        obj = json.loads(lab.kubectl("get", "asgiservice", NAME, "-n", NAMESPACE, "-o", "json").stdout)
        text = line(obj)
        now = obj.get("status", {}).get("canaryWeight", 0)
        if now != weight:
            said = measured(load, weight or 0, since, time.monotonic())
            if said:
                print(said, flush=True)
            weight, since = now, time.monotonic()
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
    started = time.monotonic()
    bin_dir = ensure_binaries("demo")  # before the namespace: a build needs the network
    try:
        how: str | None = netns.enter().how
    except netns.Unavailable as e:
        how = None
        say(f"NO REAL GATEWAY: {e}")
        print("  The demo goes on with a PLAYED gateway: the load driver splits requests by the route's weights.")
    say("Starting the lab: etcd, kube-apiserver, controller manager, scheduler, kwok (2 fake nodes)")
    if how is not None:
        print(f"  in a network namespace of its own ({how}): pods at their own IPs, nothing leaves the machine")
    lab = Lab(bin_dir=bin_dir)
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

        say("Starting Prometheus (scrapes every second), the gateway and the example app's pods")
        prometheus = Prometheus(lab.bin_dir).start()
        procs.append(prometheus)
        lab.kubectl("create", "namespace", NAMESPACE)
        load: LoadDriver | WeightSplitter
        if how is not None:
            gateway = Traefik(lab).start()
            procs.append(gateway)
            print(f"  Traefik {_version(lab)}: GatewayClass traefik accepted, Gateway gateway-system/public programmed")
            plane: DataPlane | TrackPlane = DataPlane(lab, NAMESPACE, NAME, prometheus).start()
            procs.append(plane)
            load = LoadDriver(plane, HOST, rate=80)
            print(f"  Prometheus at {prometheus.url}; 80 requests/s to http://{HOST}/ through the gateway, once Ready")
        else:
            plane = TrackPlane(lab, NAMESPACE, NAME, prometheus).start()
            procs.append(plane)
            load = WeightSplitter(lab, NAMESPACE, NAME, plane, rate=80)
            print(f"  Prometheus at {prometheus.url}; 80 requests/s split by the HTTPRoute weights (played)")
        procs.append(load)

        say(f"kubectl apply -f examples/hello.yaml (in namespace {NAMESPACE})")
        doc = demo_spec(prometheus.url)
        if how is not None:
            played(doc)  # the label the lab's kwok stages look for: pods Ready once their process answers
        lab.kubectl("apply", "--server-side", "-n", NAMESPACE, "-f", "-", stdin=json.dumps(doc))
        t0 = time.monotonic()
        lab.kubectl("wait", "-n", NAMESPACE, "--for=condition=Ready", "--timeout=60s", f"asgiservice/{NAME}")
        print(f"  Ready=True {time.monotonic() - t0:.1f}s after apply")
        load.start()
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
        follow(lab, "promoted", load)
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
        follow(lab, "rolled back", load)
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
        print(f"answers by track: {dict(load.sent)}, status codes: {dict(load.statuses)}")
        say(f"Done in {time.monotonic() - started:.0f}s; stopping everything")
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        for p in reversed(procs):
            (p.close if isinstance(p, (Prometheus, Traefik)) else p.stop)()
        if operator is not None:
            operator.terminate()
            operator.wait(timeout=20)
        lab.stop()


def _version(lab: Lab) -> str:
    out = subprocess.run([lab.bin("traefik"), "version"], capture_output=True, text=True, check=False).stdout
    return next((ln.split()[-1] for ln in out.splitlines() if ln.startswith("Version")), "?")


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
