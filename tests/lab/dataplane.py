"""Pods played by real processes, at the IPs kwok gave them, with what a kubelet would do around them.

kwok nodes run no containers. For the pods of one AsgiService that carry the label `lab.asgi.dev/played`, the
lab's own kwok stages (tests/lab/stages/played-pod-*.yaml) do not make them Ready at once: a pod gets its IP
and turns Running, and `DataPlane` starts one real Uvicorn for it, bound to the pod's IP and container port,
with the env of the pod's own spec (so a release with ERROR_RATE=0.05 really answers 5 % errors), behind the
operator's edge wrapper (request IDs, CORS in the app) read from the ConfigMap the pod mounts, as in a pod. Once the
process answers its probe, the data plane marks the pod `lab.asgi.dev/serving` and kwok turns it Ready: the
EndpointSlice lists it only then, as a readiness probe would have it. A pod being deleted is drained as the
kubelet does: its preStop sleep first (the gateway drops the endpoint meanwhile), then SIGTERM and the server's
graceful shutdown within the grace period, then the pod is removed. Prometheus scrapes every played pod with
the labels a PodMonitor would attach.

Each answer carries `x-lab-pod: <pod name>` (tests/lab/played_app.py), so a client behind the gateway knows
which pod, track and revision answered. Needs the lab's network namespace (netns.py): pod IPs are bound there.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from asgi_operator.api.volumes import EDGE_DIR

from .cluster import REPO, Cluster, die_with_parent, terminate
from .traffic import Prometheus

APP_DIR: Final = REPO / "examples" / "app"
UVICORN: Final = Path(sys.executable).parent / "uvicorn"
PLAYED_LABEL: Final = "lab.asgi.dev/played"
SERVING_ANNOTATION: Final = "lab.asgi.dev/serving"
POD_HEADER: Final = "x-lab-pod"


def played(doc: dict[str, Any]) -> dict[str, Any]:
    """An AsgiService whose pods the data plane plays (the label its kwok stages look for)."""
    doc["spec"].setdefault("podLabels", {})[PLAYED_LABEL] = "true"
    return doc


@dataclass
class PlayedPod:
    name: str
    ip: str
    port: int
    track: str
    revision: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    pre_stop: float
    grace: float
    serving: bool = False
    draining: bool = False


@dataclass
class DataPlane:
    cluster: Cluster
    namespace: str
    name: str
    prometheus: Prometheus
    pods: dict[str, PlayedPod] = field(default_factory=dict)  # running or draining, by pod name
    seen: dict[str, tuple[str, str]] = field(default_factory=dict)  # every pod played: name -> (track, revision)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _drainers: list[threading.Thread] = field(default_factory=list)
    _targets: str = ""
    _folders: list[Path] = field(default_factory=list)

    def start(self) -> DataPlane:
        self._thread = threading.Thread(target=self._loop, name="data-plane", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        for t in self._drainers:
            t.join(timeout=30)
        for pod in list(self.pods.values()):
            terminate(pod.proc, grace=5)
        self.pods.clear()
        for folder in self._folders:
            shutil.rmtree(folder, ignore_errors=True)

    def track_of(self, pod: str) -> tuple[str, str] | None:
        """(track, revision) of a pod this data plane played."""
        with self._lock:
            return self.seen.get(pod)

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.sync()
            except Exception as e:
                self.errors.append(repr(e))

    def sync(self) -> None:
        out = self.cluster.kubectl(
            "get", "pods", "-n", self.namespace, "-l", f"asgi.dev/name={self.name}", "-o", "json", check=False
        )
        if out.returncode != 0:
            return
        listed = {p["metadata"]["name"]: p for p in json.loads(out.stdout)["items"]}
        for name, pod in listed.items():
            labels = pod["metadata"].get("labels", {})
            if "asgi.dev/track" not in labels:
                continue  # a pre-deploy Job's pod: nothing serves
            if PLAYED_LABEL not in labels:
                self._error(f"pod {name} lacks the {PLAYED_LABEL} label: kwok made it Ready without a process")
                continue
            played_pod = self.pods.get(name)
            if pod["metadata"].get("deletionTimestamp"):
                if played_pod is not None and not played_pod.draining:
                    self._drain(played_pod)
                elif played_pod is None:
                    self._delete(name)  # never served (deleted before it ran): nothing to drain
                continue
            ip = pod.get("status", {}).get("podIP")
            if played_pod is None and ip and pod["status"].get("phase") == "Running":
                self._spawn(pod, ip)
            elif played_pod is not None and not played_pod.serving and _answers(played_pod):
                self.cluster.kubectl(
                    "annotate", "pod", name, "-n", self.namespace, f"{SERVING_ANNOTATION}=true", "--overwrite"
                )
                with self._lock:
                    played_pod.serving = True
        for name in [n for n, p in self.pods.items() if n not in listed and not p.draining]:
            # gone without a deletion we saw (force-deleted): the process goes too
            with self._lock:
                pod_gone = self.pods.pop(name)
            terminate(pod_gone.proc, grace=2)
        self._update_targets()

    def _spawn(self, pod: dict[str, Any], ip: str) -> None:
        spec, meta = pod["spec"], pod["metadata"]
        container = next(c for c in spec["containers"] if c["name"] == "app")
        port = next((p["containerPort"] for p in container.get("ports", []) if p.get("name") == "http"), 8000)
        env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
        app, app_dir = "lab.played_app:app", APP_DIR
        if "ASGI_EDGE_APP" in env:  # the operator's edge wrapper, from the ConfigMap the pod mounts, around the app
            app, app_dir = "asgi_edge:app", self._mounted(meta["name"], spec, container, EDGE_DIR)
            env["ASGI_EDGE_APP"] = "lab.played_app:app"
        pre_stop = float(container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0))
        grace = float(spec.get("terminationGracePeriodSeconds", 30))
        log = open(os.devnull, "wb")  # noqa: SIM115 (the child owns it)
        proc = subprocess.Popen(
            [
                *(str(UVICORN), app, "--app-dir", str(app_dir), "--host", ip, "--port", str(port), "--no-access-log"),
                *("--log-level", "warning", "--timeout-graceful-shutdown", str(max(1, int(grace - pre_stop - 1)))),
            ],
            cwd=APP_DIR,
            env={
                **os.environ,
                **env,
                "LAB_POD": meta["name"],
                "PYTHONPATH": os.pathsep.join([str(APP_DIR), str(REPO / "tests")]),
            },
            preexec_fn=die_with_parent,
            stdout=log,
            stderr=log,
        )
        labels = meta["labels"]
        played_pod = PlayedPod(
            meta["name"], ip, port, labels["asgi.dev/track"], labels["asgi.dev/revision"], env, proc, pre_stop, grace
        )
        with self._lock:
            self.pods[played_pod.name] = played_pod
            self.seen[played_pod.name] = (played_pod.track, played_pod.revision)

    def _mounted(self, pod: str, spec: dict[str, Any], container: dict[str, Any], path: str) -> Path:
        """The ConfigMap the container mounts at `path`, written out as the kubelet would (one file per key)."""
        mount = next(m for m in container.get("volumeMounts", []) if m["mountPath"] == path)
        volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
        name = volume["configMap"]["name"]
        data = json.loads(self.cluster.kubectl("get", "configmap", name, "-n", self.namespace, "-o", "json").stdout)
        folder = Path(tempfile.mkdtemp(prefix=f"asgi-pod-{pod}-"))
        for key, value in data.get("data", {}).items():
            (folder / key).write_text(value)
        self._folders.append(folder)
        return folder

    def _drain(self, pod: PlayedPod) -> None:
        """What the kubelet does to a pod being deleted: preStop sleep, SIGTERM, wait, then the pod is gone."""
        pod.draining = True

        def run() -> None:
            self._stop.wait(pod.pre_stop)
            terminate(pod.proc, grace=max(1.0, pod.grace - pod.pre_stop))
            with self._lock:
                self.pods.pop(pod.name, None)
            self._delete(pod.name)

        t = threading.Thread(target=run, name=f"drain-{pod.name}", daemon=True)
        self._drainers.append(t)
        t.start()

    def _delete(self, name: str) -> None:
        """The kubelet's last word on a pod: delete it for good (grace 0)."""
        self.cluster.kubectl(
            "delete", "pod", name, "-n", self.namespace, "--grace-period=0", "--force", "--wait=false", check=False
        )

    def _update_targets(self) -> None:
        with self._lock:
            groups = [
                {
                    "targets": [f"{p.ip}:{p.port}"],
                    "labels": {
                        "namespace": self.namespace,
                        "pod": p.name,
                        "asgi_dev_name": self.name,
                        "asgi_dev_track": p.track,
                        "asgi_dev_revision": p.revision,
                    },
                }
                for p in self.pods.values()
            ]
        text = json.dumps(groups, sort_keys=True)
        if text != self._targets:
            self.prometheus.set_targets(groups)
            self._targets = text

    def _error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)


def _answers(pod: PlayedPod) -> bool:
    if pod.proc.poll() is not None:
        raise RuntimeError(f"the process of pod {pod.name} exited with {pod.proc.returncode}")
    conn = http.client.HTTPConnection(pod.ip, pod.port, timeout=1)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()
